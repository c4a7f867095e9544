"""Training killed with SIGKILL (the whole process group, loader workers included) after a mid-epoch checkpoint and
resumed with --continue_train ends bit-identical to an uninterrupted run: optimizers, schedule, random state, data
order and augmentation all continue where they stopped, whatever --num_threads was before and after the stop."""
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from tiny_runs import REPO, TINY_NET, make_aligned_dataset, run_entry, with_values

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

# 4 images x 3 epochs = 12 iterations; the checkpoint at 6 lands mid-epoch 2, and epoch 3 decays the lr.
# load 36 -> crop 32 and flips: augmentation draws random numbers in the loader workers.
FLAGS = [*with_values(TINY_NET, load_size=36), '--no_html', '--seed', '7',
         '--n_epochs', '2', '--n_epochs_decay', '1', '--save_latest_freq', '6', '--save_epoch_freq', '100']


def final_weights(checkpoints: str, name: str) -> dict[str, dict[str, torch.Tensor]]:
    return {net: torch.load(os.path.join(checkpoints, name, f'latest_net_{net}.pth'), weights_only=True)
            for net in 'GD'}


def train_and_kill_after_first_checkpoint(args: list[str], state_file: str) -> int:
    """Start training, wait for the checkpoint at N/2, SIGKILL the group at a random moment after it; return the code."""
    process = subprocess.Popen([sys.executable, str(REPO / 'train.py'), *args], cwd=REPO, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not os.path.exists(state_file) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(random.uniform(0.0, 0.1))
    os.killpg(process.pid, signal.SIGKILL)
    return process.wait()


def killed_and_resumed(dataroot: str, checkpoints: str, name: str, threads_before: str, threads_after: str) -> str:
    args = ['--dataroot', dataroot, '--name', name, '--checkpoints_dir', checkpoints, *FLAGS]
    state_file = os.path.join(checkpoints, name, 'latest_train_state.pth')
    for _ in range(5):  # a kill that came after the run had saved its end is no trial; try again
        code = train_and_kill_after_first_checkpoint([*args, '--num_threads', threads_before], state_file)
        if code == -9 and torch.load(state_file, weights_only=True)['progress']['total_iters'] < 12:
            break
        os.remove(state_file)
    else:
        raise AssertionError('training always finished before it could be killed')
    return run_entry('train.py', *args, '--num_threads', threads_after, '--continue_train').stdout


def test_sigkill_then_continue_train_matches_straight_run_with_any_num_threads(tmp_path):
    dataroot = str(tmp_path / 'data')
    make_aligned_dataset(dataroot, {'train': 4}, size=36, seed=3)
    checkpoints = str(tmp_path / 'checkpoints')
    run_entry('train.py', '--dataroot', dataroot, '--name', 'straight', '--checkpoints_dir', checkpoints, *FLAGS,
              '--num_threads', '2')
    straight = final_weights(checkpoints, 'straight')
    for name, before, after in (('workers_then_workers', '2', '2'), ('workers_then_main_process', '2', '0')):
        stdout = killed_and_resumed(dataroot, checkpoints, name, before, after)
        assert 'resuming from' in stdout and 'epoch 2 after 2 of its images' in stdout, stdout[-2000:]
        resumed = final_weights(checkpoints, name)
        for net in 'GD':
            assert straight[net].keys() == resumed[net].keys()
            differing = [key for key in straight[net] if not torch.equal(straight[net][key], resumed[net][key])]
            assert not differing, f'{name}: net {net} differs from the straight run in {differing[:5]}'
