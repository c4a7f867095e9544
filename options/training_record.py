"""test.py builds the generator the way the experiment trained it: architecture flags come from its record."""
import argparse
import copy
import os

from util.checkpoint import read_recorded_options, training_state_path
from util.training_state import ARCHITECTURE_FLAGS


def explicit_flags(parser: argparse.ArgumentParser, args: list[str] | None) -> set[str]:
    """Option names written on the command line, abbreviations and --flag=value forms included."""
    probe = copy.deepcopy(parser)
    for action in probe._actions:
        action.default = argparse.SUPPRESS
    probe._defaults.clear()
    return set(vars(probe.parse_known_args(args)[0]))


def read_options_file(path: str) -> dict[str, str]:
    """The flag values of a <phase>_opt.txt written by BaseOptions.save_options, as text."""
    values = {}
    with open(path) as handle:
        for line in handle:
            key, colon, rest = line.partition(':')
            if colon and not line.startswith('-'):
                values[key.strip()] = rest.split('\t[default')[0].strip()
    return values


def as_type_of(current, text: str):
    if isinstance(current, bool):
        return text == 'True'
    return type(current)(text)


def recorded_architecture(opt) -> tuple[dict, str] | None:
    """The training flags of the checkpoint to load: its state file if any, else train_opt.txt."""
    folder = os.path.join(opt.checkpoints_dir, opt.name)
    label = f'iter_{opt.load_iter}' if opt.load_iter > 0 else opt.epoch
    state_path = training_state_path(folder, label)
    if os.path.isfile(state_path):
        return read_recorded_options(state_path), state_path
    text_path = os.path.join(folder, 'train_opt.txt')
    if os.path.isfile(text_path):
        values = read_options_file(text_path)
        return {flag: as_type_of(getattr(opt, flag), values[flag]) for flag in ARCHITECTURE_FLAGS if flag in values}, text_path
    return None


def adopt_training_architecture(opt, parser: argparse.ArgumentParser, args: list[str] | None) -> None:
    """Take netG, ngf, norm, no_dropout, input_nc, output_nc and direction from training unless given here."""
    record = recorded_architecture(opt)
    if record is None:
        return
    values, source = record
    given = explicit_flags(parser, args)
    adopted = {flag: value for flag, value in values.items() if flag not in given and getattr(opt, flag) != value}
    if adopted:
        vars(opt).update(adopted)
        flags = ' '.join(f'--{flag}' if value is True else f'--{flag} {value}' for flag, value in adopted.items())
        print(f'using the training flags {flags} from {source} (give a flag on the command line to override it)')
