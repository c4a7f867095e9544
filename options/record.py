"""The training record: what a checkpoint was trained with, written once and read back by all that load it.

A run keeps its architecture (the flags of ARCHITECTURE) and its speed choice in each <label>_train_state.pth
(entries 'options' and 'speed') and all its options in <checkpoints_dir>/<name>/train_opt.txt, in the reference's
format. test.py, predict.py, the Translator API, export.py and the benchmark read them back here; a checkpoint
with neither (the reference's) is built with the reference's defaults unless flags say otherwise.
"""
import argparse
import os
from dataclasses import dataclass

from util import checkpoint, distributed
from util.errors import UserError


@dataclass(frozen=True)
class ArchitectureFlag:
    type: type
    reference_default: object
    help: str


# What a generator checkpoint needs to be rebuilt, with the reference's pix2pix defaults.
ARCHITECTURE = {
    'netG': ArchitectureFlag(str, 'unet_256', 'generator architecture'),
    'ngf': ArchitectureFlag(int, 64, 'generator filters in the last conv layer'),
    'norm': ArchitectureFlag(str, 'batch', 'normalization layer'),
    'no_dropout': ArchitectureFlag(bool, False, 'the generator was built without dropout'),
    'input_nc': ArchitectureFlag(int, 3, 'channels of the input image'),
    'output_nc': ArchitectureFlag(int, 3, 'channels of the output image'),
    'direction': ArchitectureFlag(str, 'AtoB', 'AtoB or BtoA, for --aligned_input'),
    'model': ArchitectureFlag(str, 'pix2pix', 'pix2pix, colorization (L in, colour photo out) or pix2pixhd'),
    'n_downsample_global': ArchitectureFlag(int, 4, 'downsamplings of --netG global'),
    'n_blocks_global': ArchitectureFlag(int, 9, 'residual blocks of --netG global'),
    'n_local_enhancers': ArchitectureFlag(int, 1, 'local enhancers of --netG local'),
    'n_blocks_local': ArchitectureFlag(int, 3, 'residual blocks per local enhancer'),
    'label_nc': ArchitectureFlag(int, 0, 'label classes of label-map inputs (0: the inputs are images; pix2pixHD\'s 35 for --netG global or local without a record)'),
    'no_instance': ArchitectureFlag(bool, True, 'the generator takes no instance-edge channel'),
}
ARCHITECTURE_FLAGS = tuple(ARCHITECTURE)
REFERENCE_ARCHITECTURE = {flag: spec.reference_default for flag, spec in ARCHITECTURE.items()}
# What differs from them for the reference's other models.
REFERENCE_MODEL_DEFAULTS = {'colorization': {'input_nc': 1, 'output_nc': 2}}
# NVIDIA/pix2pixHD's defaults, for a checkpoint of its generators (--netG global or local) without a record.
PIX2PIXHD_ARCHITECTURE = {'norm': 'instance', 'no_dropout': True, 'label_nc': 35, 'no_instance': False}


def add_architecture_overrides(parser: argparse.ArgumentParser) -> None:
    """Flags that override the recorded architecture, for checkpoints without a record (e.g. the reference's)."""
    architecture = parser.add_argument_group('architecture (as recorded in training unless given)')
    for flag, spec in ARCHITECTURE.items():
        help_text = f'{spec.help}; default: as recorded in training, else {spec.reference_default}'
        if spec.type is bool:
            architecture.add_argument(f'--{flag}', action='store_const', const=True, default=None, help=help_text)
        else:
            architecture.add_argument(f'--{flag}', type=spec.type, default=None, help=help_text)


def architecture_overrides(opt: argparse.Namespace) -> dict:
    """The architecture flags given on the command line of predict.py or export.py (None where not given)."""
    return {flag: getattr(opt, flag) for flag in ARCHITECTURE_FLAGS}


def training_record(opt: argparse.Namespace, speed: dict) -> dict:
    """The entries a training-state file keeps: the architecture flags the model has and the speed settings in use."""
    architecture = {flag: getattr(opt, flag) for flag in ARCHITECTURE_FLAGS if hasattr(opt, flag)}
    return {'options': architecture, 'speed': {'fast': opt.fast, **speed}}


def recorded_architecture(save_dir: str, label: str) -> tuple[dict, str] | None:
    """The architecture flags of training, from the label's state file, else train_opt.txt; None if neither exists."""
    path = checkpoint.state_path(save_dir, label)
    if os.path.isfile(path):
        saved = checkpoint.read_state_entry(path, 'options') or {}
        return {flag: saved[flag] for flag in ARCHITECTURE_FLAGS if flag in saved}, path
    values = training_options(save_dir)
    if values:
        return {flag: parse_value(ARCHITECTURE[flag].type, values[flag]) for flag in ARCHITECTURE_FLAGS
                if flag in values}, checkpoint.options_path(save_dir, 'train')
    return None


def training_options(save_dir: str) -> dict[str, str]:
    """Every flag of <save_dir>/train_opt.txt, as text; empty for a checkpoint without one."""
    path = checkpoint.options_path(save_dir, 'train')
    return read_options_file(path) if os.path.isfile(path) else {}


def recorded_speed(save_dir: str, label: str) -> dict | None:
    """The speed settings recorded with a training state ({'fast': ..., 'amp': ..., ...}), or None."""
    path = checkpoint.state_path(save_dir, label)
    return checkpoint.read_state_entry(path, 'speed') if os.path.isfile(path) else None


def parse_value(kind: type, text: str):
    return text == 'True' if kind is bool else kind(text)


def format_options(opt: argparse.Namespace, parser: argparse.ArgumentParser, used: dict | None = None) -> str:
    """The options as the reference prints them, one `name: value [default: d]` line each; `used` holds values
    decided after parsing (the speed settings --fast chose), shown in place of the flags'."""
    values = {**vars(opt), **(used or {})}
    lines = ['----------------- Options ---------------']
    for key, value in sorted(values.items()):
        default = parser.get_default(key)
        note = f'\t[default: {default}]' if value != default else ''
        lines.append(f'{key:>25}: {str(value):<30}{note}')
    lines.append('----------------- End -------------------')
    return '\n'.join(lines)


def write_options(opt: argparse.Namespace, parser: argparse.ArgumentParser, used: dict | None = None) -> str:
    """Rank 0 writes <checkpoints_dir>/<name>/<phase>_opt.txt; returns the text."""
    text = format_options(opt, parser, used)
    if not distributed.is_main_process():
        return text
    save_dir = checkpoint.experiment_dir(opt)
    try:
        os.makedirs(save_dir, exist_ok=True)
        with open(checkpoint.options_path(save_dir, opt.phase), 'w') as opt_file:
            opt_file.write(text + '\n')
    except OSError as err:
        raise UserError(f'--checkpoints_dir {opt.checkpoints_dir}: cannot write there ({err.strerror}); choose a writable folder') from err
    return text


def read_options_file(path: str) -> dict[str, str]:
    """The flag values of a <phase>_opt.txt (ours or the reference's), as text."""
    values = {}
    with open(path) as handle:
        for line in handle:
            key, colon, rest = line.partition(':')
            if colon and not line.startswith('-'):
                values[key.strip()] = rest.split('\t[default')[0].strip()
    return values
