"""The files of an experiment folder: the one module that names, writes and reads them.

In <checkpoints_dir>/<name>/:
- <label>_net_<G|D>.pth: plain state_dicts with the reference's keys, so weights move both ways;
- <label>_train_state.pth: everything --continue_train needs (put together by training.state), with the training
  record (models.record);
- <phase>_opt.txt: the options, in the reference's format (printed by options.base_options);
- .lock: held by the one train.py that writes the folder;
- wandb_run_id.txt: the wandb run a resumed or restarted --use_wandb run goes on logging to;
- .fast_tuning.pth.<random>.tmp, while --fast tunes: the model's state, set aside on disk rather than in memory.
Labels are `latest`, `best`, an epoch number or `iter_<n>`. A label's files are written as one set, all or nothing
(save_checkpoint), each through a temporary file renamed into place.

The lock is a POSIX record lock (fcntl.lockf): the kernel drops it when the process ends, however it ends (kill -9
included), so nothing stale is ever left to clean up; the file stays, naming the last holder. Unlike flock, it is
not inherited by forked children: data-loader workers that outlive a killed train.py for a few seconds do not keep
the folder locked. A POSIX lock is also released when its process closes any descriptor of the file, so only
this module opens it. Readers (test.py, predict.py) never take it.
"""
import contextlib
import fcntl
import os
import re
import socket
import sys
import tempfile
from typing import Callable, Iterator

import torch
import torch.nn as nn

from util import distributed
from util.errors import UserError

TEMPORARY_NAME = re.compile(r'^\..+\.pth\.[A-Za-z0-9_]+\.tmp$')
LOCK_NAME = '.lock'
WANDB_RUN_ID_NAME = 'wandb_run_id.txt'
held_locks: dict[str, int] = {}  # folder -> open descriptor; kept open (and so locked) until the process exits


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


def lock_path(folder: str) -> str:
    return os.path.join(folder, LOCK_NAME)


def atomic_save(obj, path: str) -> None:
    """Write `obj` with torch.save to a temporary file beside `path` (its folder made if needed), then rename it into place."""
    os.replace(write_temporary(obj, path), path)


def write_temporary(obj, path: str) -> str:
    """torch.save `obj` to a new temporary file beside `path`, synced to disk; its path. A failed write (a full disk)
    leaves nothing behind and is one line naming `path`."""
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
    except BaseException as err:
        os.unlink(tmp_path)
        if not isinstance(err, (OSError, RuntimeError)):  # torch.save reports a failed write as a RuntimeError
            raise
        reason = err.strerror if isinstance(err, OSError) else 'the write failed'
        raise UserError(f'cannot write checkpoint {path}: {reason}; free space or choose another --checkpoints_dir; '
                        'earlier checkpoints are intact') from err
    return tmp_path


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def set_aside(save_dir: str, state: dict) -> Iterator[Callable[[], dict]]:
    """`state` (tensors and plain values) written now to a temporary file of the experiment folder instead of being
    copied in memory; yields the function that reads it back. The file goes afterwards (after a kill, at the next
    start, with the other temporaries)."""
    path = write_temporary(state, os.path.join(save_dir, 'fast_tuning.pth'))
    try:
        yield lambda: torch.load(path, map_location='cpu', weights_only=True)
    finally:
        os.remove(path)


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
    load_network_state(net, load_weights(path, map_location), path)


def load_network_state(net: nn.Module, state: dict, source: str) -> None:
    """Load a state_dict read from `source` into `net`, as load_network does."""
    state = dict(state)
    state.pop('_metadata', None)
    drop_stale_instance_norm_stats(net, state)
    check_state_dict_matches(net, state, source)
    net.load_state_dict(state)


def cpu_state_dict(net: nn.Module) -> dict[str, torch.Tensor]:
    """The plain module's state_dict (no DDP or compile prefixes) with every tensor on the CPU."""
    return {key: value.detach().cpu() for key, value in distributed.unwrap(net).state_dict().items()}


def network_states(networks: dict[str, nn.Module]) -> dict[str, dict[str, torch.Tensor]]:
    """Each network's state_dict on the CPU, computed once for the net files and the training state alike."""
    return {name: cpu_state_dict(net) for name, net in networks.items()}


def save_checkpoint(save_dir: str, label: str | int, networks: dict[str, dict[str, torch.Tensor]],
                    state: dict | None = None) -> None:
    """Write the set of a label, all or nothing: <label>_net_<name>.pth for each network (the reference's format) and,
    when given, <label>_train_state.pth. NaN or infinite weights are refused before anything is written; every file
    goes to a temporary first, and only when all of them are on disk are they renamed into place, so a write that
    fails (a full disk) leaves the label's earlier set whole."""
    refuse_non_finite(networks, label)
    files = {net_path(save_dir, label, name): weights for name, weights in networks.items()}
    if state is not None:
        files[state_path(save_dir, label)] = state
    written: list[tuple[str, str]] = []
    try:
        for path, obj in files.items():
            written.append((write_temporary(obj, path), path))
    except BaseException:
        for tmp_path, _ in written:
            os.unlink(tmp_path)
        raise
    for tmp_path, path in written:
        os.replace(tmp_path, path)


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


def read_training_state(save_dir: str, label: str | int) -> dict | None:
    """The whole <label>_train_state.pth, or None when there is none (a reference checkpoint)."""
    path = state_path(save_dir, label)
    return load_weights(path) if os.path.isfile(path) else None


def newest_training_state(save_dir: str) -> str | None:
    """The label of the training state in `save_dir` that is furthest on (most iterations), or None."""
    if not os.path.isdir(save_dir):
        return None
    suffix = '_train_state.pth'
    labels = [name[:-len(suffix)] for name in os.listdir(save_dir) if name.endswith(suffix) and not name.startswith('.')]
    progress = {label: read_state_entry(state_path(save_dir, label), 'progress') or {} for label in labels}
    return max(labels, key=lambda label: (progress[label].get('total_iters', 0), label == 'latest'), default=None)


def recorded_entry(save_dir: str, label: str | int, key: str) -> tuple[object, str] | None:
    """(entry `key` of <label>_train_state.pth, the file's path), its tensors left on disk; None without the file."""
    path = state_path(save_dir, label)
    return (read_state_entry(path, key), path) if os.path.isfile(path) else None


def write_options_file(save_dir: str, phase: str, text: str) -> None:
    """Write <phase>_opt.txt."""
    try:
        os.makedirs(save_dir, exist_ok=True)
        with open(options_path(save_dir, phase), 'w') as opt_file:
            opt_file.write(text + '\n')
    except OSError as err:
        raise UserError(f'--checkpoints_dir {os.path.dirname(save_dir)}: cannot write there ({err.strerror}); '
                        'choose a writable folder') from err


def read_options_file(path: str) -> dict[str, str]:
    """The flag values of a <phase>_opt.txt (ours or the reference's), as text."""
    values = {}
    with open(path) as handle:
        for line in handle:
            key, colon, rest = line.partition(':')
            if colon and not line.startswith('-'):
                values[key.strip()] = rest.split('\t[default')[0].strip()
    return values


def read_training_options(save_dir: str) -> dict[str, str]:
    """Every flag of <save_dir>/train_opt.txt, as text; empty for a checkpoint without one."""
    path = options_path(save_dir, 'train')
    return read_options_file(path) if os.path.isfile(path) else {}


def read_wandb_run_id(save_dir: str) -> str | None:
    """The id of the wandb run that training in `save_dir` logs to, or None."""
    path = os.path.join(save_dir, WANDB_RUN_ID_NAME)
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        return handle.read().strip() or None


def write_wandb_run_id(save_dir: str, run_id: str) -> None:
    """Keep the wandb run's id beside the checkpoints, for --continue_train and restarts."""
    os.makedirs(save_dir, exist_ok=True)
    with open(os.path.join(save_dir, WANDB_RUN_ID_NAME), 'w') as handle:
        handle.write(run_id + '\n')


def hold_experiment_folder(folder: str) -> None:
    """Lock `folder` for this process until it exits, or fail at once naming the process that holds it."""
    folder = os.path.abspath(folder)
    if folder in held_locks:
        return
    try:
        os.makedirs(folder, exist_ok=True)
        descriptor = os.open(lock_path(folder), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as err:
        raise UserError(f'--checkpoints_dir {os.path.dirname(folder)}: cannot write there (creating '
                        f'{lock_path(folder)}: {err.strerror}); choose a writable folder') from err
    try:
        fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (BlockingIOError, PermissionError):
        holder = read_holder(descriptor)
        os.close(descriptor)
        raise UserError(f'experiment folder {folder} is in use by another train.py ({holder}); wait for it to end, '
                        'stop it, or choose another --name or --checkpoints_dir') from None
    except OSError as err:
        os.close(descriptor)
        print(f'warning: cannot lock {lock_path(folder)} ({err.strerror}): this file system has no locks, so a second '
              'train.py on this folder would not be refused', file=sys.stderr)
        return
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f'host {socket.gethostname()} pid {os.getpid()}\n'.encode(), 0)
    held_locks[folder] = descriptor


def read_holder(descriptor: int) -> str:
    """What the holder wrote in the lock file: 'host NAME pid N'."""
    text = os.pread(descriptor, 200, 0).decode(errors='replace').strip()
    return text or 'holder unknown: it has not written its name yet'
