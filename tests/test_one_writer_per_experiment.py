"""One train.py per experiment folder: a second one is refused at once, naming the holder, and changes nothing
there; readers (predict.py) are not blocked; a holder killed with SIGKILL leaves nothing to clean up."""
import contextlib
import hashlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tiny_runs import (REPO, TINY_UNET, build_model, make_aligned_dataset, run_entry, run_in_process, save_as_trained,
                       wait_for)

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

QUIET = ['--display_id', '0', '--no_html', '--print_freq', '1000000', '--save_latest_freq', '1000000000',
         '--save_epoch_freq', '1000000']


def folder_snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    return {str(path.relative_to(folder)): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
            for path in sorted(folder.rglob('*')) if path.is_file()}


def test_second_train_is_refused_while_the_first_runs_and_allowed_after_sigkill(tmp_path):
    make_aligned_dataset(tmp_path / 'data', {'train': 4}, size=128)
    checkpoints = tmp_path / 'ck'
    experiment = checkpoints / 'run'
    save_as_trained(build_model(checkpoints, '--name', 'run'))  # for predict.py to read during the run
    train = ['--dataroot', str(tmp_path / 'data'), '--checkpoints_dir', str(checkpoints), '--name', 'run',
             *TINY_UNET, *QUIET]
    first = subprocess.Popen([sys.executable, str(REPO / 'train.py'), *train, '--n_epochs', '100000'],
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (experiment / 'loss_log.txt').exists(), first, 'its set-up')  # its last write until the end
        holder = (experiment / '.lock').read_text().strip()
        assert re.fullmatch(rf'host \S+ pid {first.pid}', holder), holder
        before = folder_snapshot(experiment)

        second = run_entry('train.py', *train, '--n_epochs', '1', check=False, timeout=120)
        assert second.returncode == 2, second.stdout[-2000:] + second.stderr[-2000:]
        assert second.stderr.strip() == (f'error: experiment folder {experiment} is in use by another train.py '
                                         f'({holder}); wait for it to end, stop it, or choose another --name or '
                                         '--checkpoints_dir')
        assert folder_snapshot(experiment) == before

        image = tmp_path / 'data' / 'train' / '000.png'
        run_in_process('predict.py', '--name', 'run', '--checkpoints_dir', str(checkpoints), '--gpu_ids', '-1',
                       '--input', str(image), '--aligned_input', '--output', str(tmp_path / 'out'))
        assert (tmp_path / 'out' / '000.png').exists()
        assert first.poll() is None, 'the first run should still be training'
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()

    third = run_entry('train.py', *train, '--n_epochs', '1', '--n_epochs_decay', '0', timeout=120)
    assert 'in use' not in third.stderr
    assert (experiment / '.lock').read_text().split()[-1] != str(first.pid)


HOLD_THEN_FORK = '''
import os, sys, time
sys.path.insert(0, {root!r})
from util.checkpoint import hold_experiment_folder
hold_experiment_folder({folder!r})
if os.fork() == 0:
    time.sleep(60)  # a data-loader worker outliving the main process
    os._exit(0)
print('locked', flush=True)
time.sleep(60)
'''
TRY_LOCK = 'import sys; sys.path.insert(0, {root!r}); from util.checkpoint import hold_experiment_folder; hold_experiment_folder({folder!r})'


def test_a_surviving_forked_child_does_not_keep_the_folder_locked(tmp_path):
    folder = str(tmp_path / 'experiment')
    holder = subprocess.Popen([sys.executable, '-c', HOLD_THEN_FORK.format(root=str(REPO), folder=folder)],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        refused = subprocess.run([sys.executable, '-c', TRY_LOCK.format(root=str(REPO), folder=folder)],
                                 capture_output=True, text=True, timeout=30)
        assert refused.returncode != 0 and 'is in use by another train.py' in refused.stderr
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        allowed = subprocess.run([sys.executable, '-c', TRY_LOCK.format(root=str(REPO), folder=folder)],
                                 capture_output=True, text=True, timeout=30)
        assert allowed.returncode == 0, allowed.stderr
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(holder.pid, signal.SIGKILL)  # the forked child, still sleeping
