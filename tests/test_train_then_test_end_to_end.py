"""Two epochs of pix2pix training on a tiny set, then test.py writes a page whose every image exists."""
import math
import os
import re

import pytest

from tiny_runs import TINY_UNET, run_entry, with_values

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick


def test_train_two_epochs_then_test_writes_page(tiny_dataset, tmp_path):
    checkpoints, results = str(tmp_path / 'checkpoints'), str(tmp_path / 'results')
    run_entry('train.py', '--dataroot', tiny_dataset, '--name', 'tiny', '--model', 'pix2pix', '--direction', 'BtoA',
              '--checkpoints_dir', checkpoints, '--n_epochs', '1', '--n_epochs_decay', '1', '--print_freq', '2',
              '--save_epoch_freq', '1', *TINY_UNET)
    experiment = os.path.join(checkpoints, 'tiny')
    for name in ('latest_net_G.pth', 'latest_net_D.pth', '1_net_G.pth', '2_net_D.pth', 'train_opt.txt'):
        assert os.path.isfile(os.path.join(experiment, name)), name
    with open(os.path.join(experiment, 'loss_log.txt')) as log:
        lines = [line for line in log if line.startswith('(epoch')]
    assert {int(re.search(r'epoch: (\d+)', line).group(1)) for line in lines} == {1, 2}
    for line in lines:
        values = [float(v) for v in re.findall(r'(?:G_GAN|G_L1|D_real|D_fake): (\S+)', line)]
        assert len(values) == 4 and all(math.isfinite(v) for v in values), line

    run_entry('test.py', '--dataroot', tiny_dataset, '--name', 'tiny', '--model', 'pix2pix', '--direction', 'BtoA',
              '--checkpoints_dir', checkpoints, '--results_dir', results,
              *with_values(TINY_UNET, load_size=128))
    page_dir = os.path.join(results, 'tiny', 'test_latest')
    with open(os.path.join(page_dir, 'index.html')) as page:
        html = page.read()
    images = re.findall(r'<img[^>]*src="([^"]+)"', html)
    assert len(images) == 3 * 3
    for label in ('real_A', 'fake_B', 'real_B'):
        assert sum(src.endswith(f'_{label}.png') for src in images) == 3
    for src in images:
        assert os.path.isfile(os.path.join(page_dir, src)), src
