"""One train.py per experiment folder: an OS lock on <checkpoints_dir>/<name>/.lock, held for the whole run.

It is a POSIX record lock (fcntl.lockf): the kernel drops it when the process ends, however it ends (kill -9
included), so nothing stale is ever left to clean up; the file stays, naming the last holder. Unlike flock, it is
not inherited by forked children: data-loader workers that outlive a killed train.py for a few seconds do not keep
the folder locked. A POSIX lock is also released when its process closes any descriptor of the file, so only
this module opens it. Readers (test.py, predict.py) never take it.
"""
import fcntl
import os
import socket
import sys

from util.errors import UserError

LOCK_NAME = '.lock'
held_locks: dict[str, int] = {}  # folder -> open descriptor; kept open (and so locked) until the process exits


def lock_path(folder: str) -> str:
    return os.path.join(folder, LOCK_NAME)


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
