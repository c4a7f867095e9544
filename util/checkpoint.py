"""Checkpoint file names and I/O: the one module that names, writes and reads the files of an experiment folder.

In <checkpoints_dir>/<name>/:
- <label>_net_<G|D>.pth: plain state_dicts with the reference's keys, so weights move both ways;
- <label>_train_state.pth: everything --continue_train needs (written by training.state), with the training
  record (options.record);
- <phase>_opt.txt: the options, in the reference's format (options.record).
Labels are `latest`, `best`, an epoch number or `iter_<n>`. Every file is written atomically.
"""
import os
import re
import tempfile

import torch
import torch.nn as nn

from util import distributed
from util.errors import UserError

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
    """Write `obj` with torch.save to a temporary file beside `path` (its folder made if needed), then rename it into place."""
    folder = os.path.dirname(path) or '.'
    try:
        os.makedirs(folder, exist_ok=True)
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


def refuse_non_finite(states: dict[str, dict[str, torch.Tensor]], label: str | int) -> None:
    """The last guard before a checkpoint is written: every floating-point tensor of every network must be finite."""
    for net_name, state in states.items():
        for key, tensor in state.items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise UserError(f'not saving checkpoint {label}: net {net_name} holds NaN or infinite values '
                                f'({key}); the checkpoints on disk are kept as they were')


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


def read_state_entry(path: str, key: str):
    """One entry of a training-state file, read without loading its tensors into memory."""
    try:
        return torch.load(path, map_location='cpu', weights_only=True, mmap=True).get(key)
    except Exception as err:
        raise UserError(f'training state {path} cannot be read ({type(err).__name__}); delete it or pass the '
                        'architecture flags (--netG, --ngf, --norm, ...) explicitly') from err
