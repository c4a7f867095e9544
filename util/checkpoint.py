"""The one module that names, writes and reads what an experiment keeps on disk.

In <checkpoints_dir>/<name>/:
- <label>_net_<G|D>.pth: plain state_dicts with the reference's keys, so weights move both ways;
- <label>_train_state.pth: everything --continue_train needs (the networks again, so that this one atomically
  written file is always self-consistent, optimizers, schedulers, progress, data order, every rank's random state);
- <phase>_opt.txt: the options, in the reference's format.
Labels are `latest`, `best`, an epoch number or `iter_<n>`. Every file is written atomically.
"""
import argparse
import os
import re
import sys
import tempfile
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from training.divergence import refuse_non_finite
from util import distributed
from util.errors import UserError
from util.rng import capture_rng_state, restore_rng_state

ARCHITECTURE_FLAGS = ('netG', 'ngf', 'norm', 'no_dropout', 'input_nc', 'output_nc', 'direction')
SPEED_FLAGS = ('fast', 'amp', 'channels_last', 'fused_adam', 'compile')
TEMPORARY_NAME = re.compile(r'^\..+\.pth\.[A-Za-z0-9_]+\.tmp$')


def checkpoint_label(opt) -> str:
    """The label --epoch and --load_iter select: iter_<load_iter> when it is above 0, else --epoch."""
    return f'iter_{opt.load_iter}' if opt.load_iter > 0 else str(opt.epoch)


def experiment_dir(opt) -> str:
    return os.path.join(opt.checkpoints_dir, opt.name)


def net_path(save_dir: str, label: str | int, net_name: str) -> str:
    return os.path.join(save_dir, f'{label}_net_{net_name}.pth')


def state_path(save_dir: str, label: str | int) -> str:
    return os.path.join(save_dir, f'{label}_train_state.pth')


def options_path(save_dir: str, phase: str) -> str:
    return os.path.join(save_dir, f'{phase}_opt.txt')


def atomic_save(obj, path: str) -> None:
    """Write `obj` with torch.save to a temporary file beside `path`, then rename it into place."""
    folder = os.path.dirname(path) or '.'
    try:
        fd, tmp_path = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.tmp', dir=folder)
    except OSError as err:
        raise UserError(f'cannot write checkpoint {path}: {err.strerror}; free space or choose another --checkpoints_dir') from err
    try:
        os.chmod(tmp_path, 0o666 & ~current_umask())
        with os.fdopen(fd, 'wb') as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException as err:
        os.unlink(tmp_path)
        if not isinstance(err, (OSError, RuntimeError)):  # torch.save reports a failed write as a RuntimeError
            raise
        reason = err.strerror if isinstance(err, OSError) else 'the write failed'
        raise UserError(f'cannot write checkpoint {path}: {reason}; free space or choose another --checkpoints_dir; '
                        'earlier checkpoints are intact') from err


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_temporaries(save_dir: str) -> list[str]:
    """Delete the temporary files that a killed write left behind; say so in one line."""
    if not os.path.isdir(save_dir):
        return []
    stale = sorted(name for name in os.listdir(save_dir) if TEMPORARY_NAME.match(name))
    for name in stale:
        os.remove(os.path.join(save_dir, name))
    if stale:
        print(f'removed {len(stale)} unfinished checkpoint write(s) left by an interrupted run in {save_dir}: '
              f'{", ".join(stale)}')
    return stale


def load_weights(path: str, map_location: str | torch.device = 'cpu'):
    """torch.load with weights_only=True; a missing or unsafe file is refused with a clear message."""
    if not os.path.isfile(path):
        raise UserError(f'checkpoint {path} does not exist; check --name, --checkpoints_dir and --epoch')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise UserError(f'checkpoint {path} cannot be loaded as plain weights ({type(err).__name__}); '
                        'it is corrupt or holds code, so it is refused') from err


def load_network(net: nn.Module, path: str, map_location: str | torch.device = 'cpu') -> None:
    """Load a reference-format net file into `net`, old instance-norm statistics dropped, mismatches in one line."""
    state = load_weights(path, map_location)
    state.pop('_metadata', None)
    drop_stale_instance_norm_stats(net, state)
    check_state_dict_matches(net, state, path)
    net.load_state_dict(state)


def cpu_state_dict(net: nn.Module) -> dict[str, torch.Tensor]:
    """The plain module's state_dict (no DDP or compile prefixes) with every tensor on the CPU."""
    return {key: value.detach().cpu() for key, value in distributed.unwrap(net).state_dict().items()}


def network_states(networks: dict[str, nn.Module]) -> dict[str, dict[str, torch.Tensor]]:
    """Each network's state_dict on the CPU, computed once for the net files and the training state alike."""
    return {name: cpu_state_dict(net) for name, net in networks.items()}


def save_networks(states: dict[str, dict[str, torch.Tensor]], save_dir: str, label: str | int) -> None:
    """Rank 0 writes each network's state_dict as <label>_net_<name>.pth, the reference's format; NaN or infinite
    weights are refused before anything is written."""
    if distributed.is_main_process():
        refuse_non_finite(states, label)
        for name, state in states.items():
            atomic_save(state, net_path(save_dir, label, name))


def drop_stale_instance_norm_stats(net: nn.Module, state: dict) -> None:
    """Checkpoints from PyTorch < 0.4 carry running stats for InstanceNorm layers that no longer track them."""
    for module_name, module in net.named_modules():
        if isinstance(module, nn.InstanceNorm2d) and not module.track_running_stats:
            for key in ('running_mean', 'running_var', 'num_batches_tracked'):
                state.pop(f'{module_name}.{key}', None)


def check_state_dict_matches(net: nn.Module, state: dict, path: str) -> None:
    """Raise one line naming the keys that differ, instead of load_state_dict's long traceback."""
    expected = net.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    wrong_shape = [f'{key} {tuple(state[key].shape)} vs {tuple(value.shape)}' for key, value in expected.items()
                   if key in state and state[key].shape != value.shape]
    if not (missing or unexpected or wrong_shape):
        return
    parts = []
    for label, keys in (('missing', missing), ('unexpected', unexpected), ('wrong shape (file vs model)', wrong_shape)):
        if keys:
            shown = ', '.join(keys[:3]) + (f' and {len(keys) - 3} more' if len(keys) > 3 else '')
            parts.append(f'{label}: {shown}')
    raise UserError(f'checkpoint {path} does not match the network built from the flags '
                    f'(--netG/--netD, --ngf/--ndf, --norm, --input_nc/--output_nc): {"; ".join(parts)}')


def format_options(opt: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    """The options as the reference prints them: one `name: value [default: d]` line each."""
    lines = ['----------------- Options ---------------']
    for key, value in sorted(vars(opt).items()):
        default = parser.get_default(key)
        note = f'\t[default: {default}]' if value != default else ''
        lines.append(f'{key:>25}: {str(value):<30}{note}')
    lines.append('----------------- End -------------------')
    return '\n'.join(lines)


def write_options(opt: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    """Rank 0 writes <checkpoints_dir>/<name>/<phase>_opt.txt; returns the text."""
    text = format_options(opt, parser)
    if not distributed.is_main_process():
        return text
    save_dir = experiment_dir(opt)
    try:
        os.makedirs(save_dir, exist_ok=True)
        with open(options_path(save_dir, opt.phase), 'w') as opt_file:
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


def as_type_of(current, text: str):
    if isinstance(current, bool):
        return text == 'True'
    return type(current)(text)


def read_state_entry(path: str, key: str):
    """One entry of a training-state file, read without loading its tensors into memory."""
    try:
        return torch.load(path, map_location='cpu', weights_only=True, mmap=True).get(key)
    except Exception as err:
        raise UserError(f'training state {path} cannot be read ({type(err).__name__}); delete it or pass the '
                        'architecture flags (--netG, --ngf, --norm, ...) explicitly') from err


def recorded_options(save_dir: str, label: str, flags: tuple[str, ...], defaults: dict) -> tuple[dict, str] | None:
    """The values `flags` had in training, from the label's state file, else train_opt.txt; None if neither exists."""
    path = state_path(save_dir, label)
    if os.path.isfile(path):
        saved = read_state_entry(path, 'options') or {}
        return {flag: saved[flag] for flag in flags if flag in saved}, path
    text_path = options_path(save_dir, 'train')
    if os.path.isfile(text_path):
        values = read_options_file(text_path)
        return {flag: as_type_of(defaults[flag], values[flag]) for flag in flags if flag in values}, text_path
    return None


@dataclass
class Progress:
    """Where training stands: `epoch` to run next (or to finish), `epoch_iter` samples of it done, per process."""

    epoch: int
    epoch_iter: int = 0
    total_iters: int = 0
    best_val_l1: float | None = None


def save_checkpoint(model, dataset, label: str | int, progress: Progress, opt) -> None:
    """Write the reference's network files, then the training-state file; each lands atomically.

    Every rank must call it: each rank's random state and model state are gathered to rank 0, which writes."""
    rank_states = distributed.gather_objects({'rng': capture_rng_state(), 'model': model.rank_state()})
    if not distributed.is_main_process():
        return
    networks = network_states(model.networks())
    save_networks(networks, model.save_dir, label)
    state = {
        'progress': asdict(progress),
        'epoch_count': opt.epoch_count,
        'networks': networks,
        'model': model.training_state(),
        'data_order': dataset.state_dict(),
        'ranks': rank_states,
        'options': {flag: getattr(opt, flag) for flag in ARCHITECTURE_FLAGS},
        'speed': {flag: getattr(opt, flag) for flag in SPEED_FLAGS},
    }
    atomic_save(state, state_path(model.save_dir, label))


def resume(model, dataset, opt) -> Progress:
    """Restore the state saved with the checkpoint --continue_train loaded; call it right before the loop."""
    path = state_path(model.save_dir, checkpoint_label(opt))
    if not os.path.exists(path):
        print(f'note: {path} does not exist (a reference checkpoint?); resuming the networks only, '
              f'with fresh optimizers and learning-rate schedule from epoch {opt.epoch_count}')
        return Progress(opt.epoch_count)
    state = load_weights(path)
    for name, net in model.networks().items():
        distributed.unwrap(net).load_state_dict(state['networks'][name])
    model.load_training_state(state['model'])
    dataset.load_state_dict(state['data_order'])
    rank_state = pick_rank_state(state['ranks'], path)
    model.load_rank_state(rank_state['model'])
    restore_rng_state(rank_state['rng'])
    requested_epoch_count, opt.epoch_count = opt.epoch_count, state['epoch_count']
    progress = Progress(**state['progress'])
    if requested_epoch_count not in (1, progress.epoch):
        print(f'note: --epoch_count {requested_epoch_count} ignored: the saved state continues at epoch {progress.epoch}')
    print(f'resuming from {path}: epoch {progress.epoch} after {progress.epoch_iter} of its images, '
          f'{progress.total_iters} iterations in total, with optimizers, schedule and random state')
    return progress


def pick_rank_state(rank_states: list[dict], path: str) -> dict:
    """This rank's saved state; when the number of processes changed, rank 0's, with a note."""
    rank, world_size = distributed.get_rank(), distributed.get_world_size()
    if len(rank_states) == world_size:
        return rank_states[rank]
    if distributed.is_main_process():
        print(f'note: {path} was saved by {len(rank_states)} process(es) and this run has {world_size}; every '
              'process continues from rank 0\'s random state, so the run is not an exact continuation', file=sys.stderr)
    return rank_states[0]
