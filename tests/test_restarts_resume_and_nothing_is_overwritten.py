"""A run that torchrun restarted resumes from the newest training state; a first run never writes over a training
state silently (refused in one line unless --continue_train or --overwrite); --num_threads defaults to the reference's
4 capped by the CPUs, so a small machine gets no worker warning from torch."""
import hashlib

import pytest
import torch

from tiny_runs import TINY_NET, make_aligned_dataset, run_entry
from util.checkpoint import load_weights

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick


def folder_digest(folder) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir()) if path.is_file()}


@pytest.fixture
def trained(tmp_path):
    """A run of 2 of 4 epochs with a saved latest (4 images, --seed 0), and the flags to go on with it."""
    make_aligned_dataset(tmp_path / 'data', {'train': 4}, seed=8)
    common = ['--dataroot', str(tmp_path / 'data'), '--checkpoints_dir', str(tmp_path / 'ck'), *TINY_NET, '--no_html',
              '--seed', '0', '--n_epochs', '2', '--n_epochs_decay', '2']
    run_entry('train.py', *common, '--name', 'run', '--n_epochs_decay', '0')
    return common, tmp_path / 'ck' / 'run'


def test_a_second_plain_run_is_refused_and_changes_nothing(trained):
    common, experiment = trained
    before = folder_digest(experiment)
    refused = run_entry('train.py', *common, '--name', 'run', check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [refused.stderr.strip()] and 'latest_train_state.pth' in refused.stderr
    assert '--continue_train' in refused.stderr and '--overwrite' in refused.stderr
    assert folder_digest(experiment) == before


def test_overwrite_starts_again(trained):
    common, experiment = trained
    result = run_entry('train.py', *common, '--name', 'run', '--overwrite', '--n_epochs', '1', '--n_epochs_decay', '0')
    assert 'resuming' not in result.stdout
    assert load_weights(str(experiment / 'latest_train_state.pth'))['progress']['epoch'] == 2


def test_a_torchrun_restart_resumes_from_the_newest_state_as_continue_train_does(trained, tmp_path):
    common, experiment = trained
    (tmp_path / 'ck' / 'twin').mkdir()
    for path in experiment.glob('latest_*.pth'):
        (tmp_path / 'ck' / 'twin' / path.name).write_bytes(path.read_bytes())
    restarted = run_entry('train.py', *common, '--name', 'run', '--save_epoch_freq', '1',
                          env={'TORCHELASTIC_RESTART_COUNT': '1'})
    assert 'resuming from epoch 3, iteration 8 after restart 1' in restarted.stdout
    run_entry('train.py', *common, '--name', 'twin', '--continue_train')
    for net in 'GD':
        ours, twin = (load_weights(str(tmp_path / 'ck' / name / f'latest_net_{net}.pth')) for name in ('run', 'twin'))
        assert all(torch.equal(ours[key], twin[key]) for key in twin), net
    numbered = sorted(path.name for path in experiment.glob('[0-9]*_net_G.pth'))
    assert numbered == ['3_net_G.pth', '4_net_G.pth']  # no epoch before the one it resumed from is written


def test_the_default_loader_workers_fit_the_machine(tmp_path):
    make_aligned_dataset(tmp_path / 'data', {'train': 2}, seed=9)
    at = TINY_NET.index('--num_threads')
    flags = TINY_NET[:at] + TINY_NET[at + 2:]  # the default --num_threads
    result = run_entry('train.py', '--dataroot', str(tmp_path / 'data'), '--checkpoints_dir', str(tmp_path / 'ck'),
                       '--name', 'workers', *flags, '--no_html', '--n_epochs', '1', '--n_epochs_decay', '0')
    assert 'worker processes in total' not in result.stderr, result.stderr[-2000:]
