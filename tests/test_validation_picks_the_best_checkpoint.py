"""With a val split, train.py validates every --val_freq epochs (L1, PSNR, SSIM in loss_log.txt), keeps the epoch with
the lowest validation L1 as `best`, which test.py and --continue_train can use, and never changes the training run."""
import math
import re

import pytest
import torch

from tiny_runs import TINY_NET, make_aligned_dataset, run_entry

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

VAL_LINE = re.compile(r'^\(val epoch: (\d+), images: (\d+), time: [\d.]+\) L1: (\S+) PSNR: (\S+) SSIM: (\S+)$', re.M)


def weights(path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def test_three_epochs_log_validation_and_best_is_the_lowest_val_L1(tmp_path):
    dataroot = make_aligned_dataset(tmp_path / 'data', {'train': 4, 'val': 3, 'test': 2})
    common = ['--dataroot', str(dataroot), '--name', 'val', '--checkpoints_dir', str(tmp_path / 'ck'), *TINY_NET]
    run_entry('train.py', *common, '--n_epochs', '2', '--n_epochs_decay', '1', '--save_epoch_freq', '1', '--lr', '0.002',
              cwd=tmp_path)
    experiment = tmp_path / 'ck' / 'val'
    lines = VAL_LINE.findall((experiment / 'loss_log.txt').read_text())
    assert [int(epoch) for epoch, *_ in lines] == [1, 2, 3] and all(int(images) == 3 for _, images, *_ in lines)
    assert all(math.isfinite(float(value)) for line in lines for value in line[2:])
    l1 = {int(line[0]): float(line[2]) for line in lines}
    best_epoch = min(l1, key=l1.get)
    for net in 'GD':
        best, epoch = weights(experiment / f'best_net_{net}.pth'), weights(experiment / f'{best_epoch}_net_{net}.pth')
        assert all(torch.equal(best[key], epoch[key]) for key in best), f'best_net_{net} is not epoch {best_epoch}'
    assert torch.load(experiment / 'best_train_state.pth', weights_only=True)['progress']['best_val'] == pytest.approx(l1[best_epoch], abs=1e-6)

    run_entry('test.py', *common, '--epoch', 'best', '--results_dir', str(tmp_path / 'results'), cwd=tmp_path)
    assert (tmp_path / 'results' / 'val' / 'test_best' / 'index.html').exists()
    resumed = run_entry('train.py', *common, '--continue_train', '--epoch', 'best', '--n_epochs', '2', '--n_epochs_decay', '2',
                        cwd=tmp_path)
    assert f'resuming from {experiment / "best_train_state.pth"}: epoch {best_epoch + 1} after 0' in resumed.stdout


def test_validation_leaves_the_trained_weights_bit_identical(tmp_path):
    """Also: --val_dataroot replaces <dataroot>/val, --num_val caps the images, --val_freq 0 turns validation off."""
    dataroot = make_aligned_dataset(tmp_path / 'data', {'train': 4, 'val': 2})
    other = make_aligned_dataset(tmp_path / 'other', {'val': 5}) / 'val'
    for name, extra in (('validated', ['--val_dataroot', str(other), '--num_val', '4']), ('unvalidated', ['--val_freq', '0'])):
        run_entry('train.py', '--dataroot', str(dataroot), '--name', name, '--checkpoints_dir', str(tmp_path / 'ck'), *TINY_NET,
                  '--n_epochs', '2', '--n_epochs_decay', '1', '--seed', '3', '--no_html', *extra, cwd=tmp_path)
    validated_log = (tmp_path / 'ck' / 'validated' / 'loss_log.txt').read_text()
    assert [int(images) for _, images, *_ in VAL_LINE.findall(validated_log)] == [4, 4, 4]
    assert not VAL_LINE.findall((tmp_path / 'ck' / 'unvalidated' / 'loss_log.txt').read_text())
    for net in 'GD':
        validated = weights(tmp_path / 'ck' / 'validated' / f'latest_net_{net}.pth')
        unvalidated = weights(tmp_path / 'ck' / 'unvalidated' / f'latest_net_{net}.pth')
        assert all(torch.equal(validated[key], unvalidated[key]) for key in validated), net
