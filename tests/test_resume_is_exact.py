"""Training killed with SIGKILL after a mid-epoch checkpoint and resumed with --continue_train ends bit-identical
to an uninterrupted run: optimizers, schedule, random state and data order all continue where they stopped."""
import os
import random
import subprocess
import sys
import time

import torch

from conftest import ROOT, run_entry, write_aligned_images

# 4 images x 3 epochs = 12 iterations; the checkpoint at 6 lands mid-epoch 2, and epoch 3 decays the lr.
FLAGS = ['--netG', 'resnet_6blocks', '--ngf', '8', '--ndf', '8', '--load_size', '36', '--crop_size', '32',
         '--gpu_ids', '-1', '--display_id', '0', '--num_threads', '0', '--no_html', '--seed', '7',
         '--n_epochs', '2', '--n_epochs_decay', '1', '--save_latest_freq', '6', '--save_epoch_freq', '100']


def final_weights(checkpoints: str, name: str) -> dict[str, dict[str, torch.Tensor]]:
    return {net: torch.load(os.path.join(checkpoints, name, f'latest_net_{net}.pth'), weights_only=True)
            for net in 'GD'}


def train_and_kill_after_first_checkpoint(args: list[str], state_file: str) -> int:
    """Start training, wait for the checkpoint at N/2, SIGKILL at a random moment after it; return the exit code."""
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'train.py'), *args], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not os.path.exists(state_file) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(random.uniform(0.0, 0.4))
    process.kill()
    return process.wait()


def test_sigkill_then_continue_train_matches_straight_run(tmp_path):
    dataroot = str(tmp_path / 'data')
    write_aligned_images(os.path.join(dataroot, 'train'), 4, size=32, seed=3)
    checkpoints = str(tmp_path / 'checkpoints')
    straight_run = subprocess.Popen([sys.executable, os.path.join(ROOT, 'train.py'), '--dataroot', dataroot,
                                     '--name', 'straight', '--checkpoints_dir', checkpoints, *FLAGS],
                                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    args = ['--dataroot', dataroot, '--name', 'resumed', '--checkpoints_dir', checkpoints, *FLAGS]
    state_file = os.path.join(checkpoints, 'resumed', 'latest_train_state.pth')
    for _ in range(3):  # a kill that came after the run had already finished is no trial; try again
        code = train_and_kill_after_first_checkpoint(args, state_file)
        if code == -9:
            break
        os.remove(state_file)
    assert code == -9, 'training always finished before it could be killed'
    result = run_entry('train.py', *args, '--continue_train')
    assert straight_run.wait(timeout=120) == 0, straight_run.stderr.read()
    assert 'resuming from' in result.stdout

    straight, resumed = final_weights(checkpoints, 'straight'), final_weights(checkpoints, 'resumed')
    for net in 'GD':
        assert straight[net].keys() == resumed[net].keys()
        differing = [key for key in straight[net] if not torch.equal(straight[net][key], resumed[net][key])]
        assert not differing, f'net {net} differs from the straight run in {differing[:5]}'
