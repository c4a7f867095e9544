"""torchrun on CPU (gloo): training finishes, only rank 0 writes, every rank ends with rank 0's saved weights."""
import hashlib
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCHRUN = os.path.join(os.path.dirname(sys.executable), 'torchrun')
NUM_IMAGES = 4
EPOCHS = 2


def make_aligned_dataset(root: str) -> None:
    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(root, 'train'))
    for i in range(NUM_IMAGES):
        pixels = rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(root, 'train', f'{i}.png'))


def run_torchrun(tmp_path, nproc: int) -> str:
    make_aligned_dataset(str(tmp_path / 'data'))
    command = [TORCHRUN, '--standalone', '--nproc_per_node', str(nproc), 'train.py',
               '--dataroot', str(tmp_path / 'data'), '--checkpoints_dir', str(tmp_path / 'ckpt'), '--name', 'ddp',
               '--netG', 'unet_128', '--ngf', '8', '--ndf', '8', '--load_size', '128', '--crop_size', '128',
               '--gpu_ids', '-1', '--display_id', '0', '--num_threads', '0', '--print_freq', '1',
               '--n_epochs', '1', '--n_epochs_decay', str(EPOCHS - 1)]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    with subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # torchrun's workers too, not only torchrun
            raise
    assert process.returncode == 0, stdout[-2000:] + stderr[-3000:]
    return stdout


def checkpoint_parameters_digest(path: str) -> str:
    """The same digest rank 0 logs, computed here from the file: parameters only, BatchNorm statistics left out."""
    state = torch.load(path, weights_only=True)
    digest = hashlib.sha256()
    for name in sorted(key for key in state if not key.endswith(('running_mean', 'running_var', 'num_batches_tracked'))):
        digest.update(name.encode())
        digest.update(state[name].contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def logged_digests(stdout: str, net: str) -> list[str]:
    match = re.search(rf'\[net {net}\] parameter digests by rank: (.*)', stdout)
    assert match, stdout[-2000:]
    return match.group(1).split()


@pytest.mark.parametrize('nproc', [2, 1])
def test_torchrun_ranks_end_identical_and_only_rank0_writes(tmp_path, nproc):
    stdout = run_torchrun(tmp_path, nproc)
    experiment = tmp_path / 'ckpt' / 'ddp'
    assert {'latest_net_D.pth', 'latest_net_G.pth', 'loss_log.txt', 'train_opt.txt'} <= set(os.listdir(experiment))
    log = (experiment / 'loss_log.txt').read_text().splitlines()
    images_per_rank = NUM_IMAGES // nproc
    assert sum('Training Loss' in line for line in log) == 1
    assert sum(line.startswith('(epoch:') for line in log) == EPOCHS * images_per_rank
    assert f'The number of training images = {images_per_rank}' in stdout
    for net in ('G', 'D'):
        digests = logged_digests(stdout, net)
        assert len(digests) == nproc
        assert set(digests) == {checkpoint_parameters_digest(str(experiment / f'latest_net_{net}.pth'))}
    assert 'all ranks hold identical parameters' in stdout
    state = torch.load(experiment / 'latest_net_G.pth', weights_only=True)
    assert not any(key.startswith(('module.', '_orig_mod.')) for key in state)
