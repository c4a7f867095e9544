"""The training record: what a checkpoint was trained with, kept with it and read back by all that load it.

A run keeps its architecture (the flags of ARCHITECTURE) and its speed choice in each <label>_train_state.pth
(entries 'options' and 'speed') and all its options in train_opt.txt, in the reference's format (util.checkpoint
writes and reads both). test.py, predict.py, serve.py, export.py, the Translator API and the benchmark read the
architecture back here; a checkpoint with neither (the reference's) is built with the reference's defaults unless
flags say otherwise.
"""
import argparse

from util import checkpoint

# What a generator checkpoint needs to be rebuilt: each flag's type and the reference's pix2pix default.
ARCHITECTURE: dict[str, tuple[type, object]] = {
    'netG': (str, 'unet_256'), 'ngf': (int, 64), 'norm': (str, 'batch'), 'no_dropout': (bool, False),
    'input_nc': (int, 3), 'output_nc': (int, 3), 'direction': (str, 'AtoB'), 'model': (str, 'pix2pix'),
    'n_downsample_global': (int, 4), 'n_blocks_global': (int, 9), 'n_local_enhancers': (int, 1),
    'n_blocks_local': (int, 3), 'label_nc': (int, 0), 'no_instance': (bool, True),
    'instance_feat': (bool, False), 'label_feat': (bool, False), 'feat_num': (int, 3), 'nef': (int, 16),
    'n_downsample_E': (int, 4),
}
REFERENCE_ARCHITECTURE = {flag: default for flag, (_, default) in ARCHITECTURE.items()}
# What differs from them for the reference's other models.
REFERENCE_MODEL_DEFAULTS = {'colorization': {'input_nc': 1, 'output_nc': 2}}
# NVIDIA/pix2pixHD's defaults, for a checkpoint of its generators (--netG global or local) without a record.
PIX2PIXHD_ARCHITECTURE = {'norm': 'instance', 'no_dropout': True, 'label_nc': 35, 'no_instance': False}


def uses_features(architecture: dict) -> bool:
    """Whether G also takes pix2pixHD's encoded features (--instance_feat or --label_feat)."""
    return bool(architecture.get('instance_feat') or architecture.get('label_feat'))


def generator_input_channels(architecture: dict) -> int:
    """One-hot labels (or the image), plus the instance edges, plus pix2pixHD's encoded features."""
    features = architecture['feat_num'] if uses_features(architecture) else 0
    return (architecture['label_nc'] or architecture['input_nc']) + int(not architecture['no_instance']) + features


def architecture_overrides(opt: argparse.Namespace) -> dict:
    """The architecture flags given on the command line of predict.py, serve.py or export.py (None where not given)."""
    return {flag: getattr(opt, flag, None) for flag in ARCHITECTURE}


def training_record(opt: argparse.Namespace, speed: dict) -> dict:
    """The entries a training-state file keeps: the architecture flags the model has and the speed settings in use."""
    architecture = {flag: getattr(opt, flag) for flag in ARCHITECTURE if hasattr(opt, flag)}
    return {'options': architecture, 'speed': {'fast': opt.fast, **speed}}


def recorded_architecture(save_dir: str, label: str) -> tuple[dict, str] | None:
    """The architecture flags of training and the file they come from: the label's state file, else train_opt.txt;
    None if neither exists."""
    entry = checkpoint.recorded_entry(save_dir, label, 'options')
    if entry is not None:
        saved, path = entry
        return {flag: saved[flag] for flag in ARCHITECTURE if flag in (saved or {})}, path
    values = checkpoint.read_training_options(save_dir)
    if values:
        return ({flag: parse_value(ARCHITECTURE[flag][0], values[flag]) for flag in ARCHITECTURE if flag in values},
                checkpoint.options_path(save_dir, 'train'))
    return None


def parse_value(kind: type, text: str):
    return text == 'True' if kind is bool else kind(text)
