"""A loss that becomes NaN or infinite ends the run with one line before any checkpoint is written from the diverged
networks; --nan_policy skip leaves out those updates and counts them; the gradient scaler's own skips are not
divergence."""
import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from tiny_runs import (IMAGE_SIDE, REPO, TINY_NET, build_labeled_model, build_model, label_batch, make_aligned_dataset,
                       random_batch)
from training import state
from models.step import TrainingDiverged
from util import checkpoint
from util.errors import UserError

QUIET = ['--display_id', '0', '--no_html', '--serial_batches', '--seed', '0']


def dataset_with_a_nodata_image(root, index: int = 2):
    """Four aligned images; image `index` (seen at iteration index + 1 under --serial_batches) is a float TIFF whose
    A half holds one NaN pixel, as GIS exports mark missing data."""
    make_aligned_dataset(root, {'train': 4})
    pair = np.random.default_rng(0).random((IMAGE_SIDE, 2 * IMAGE_SIDE, 3)).astype(np.float32)
    pair[5, 5, 0] = np.nan
    (root / 'train' / f'{index:03d}.png').unlink()
    tifffile.imwrite(root / 'train' / f'{index:03d}.tif', pair, photometric='rgb')
    return root


def train_command(tmp_path, *args: str) -> list[str]:
    return [sys.executable, str(REPO / 'train.py'), '--dataroot', str(tmp_path / 'data'), '--checkpoints_dir',
            str(tmp_path / 'ck'), '--name', 'run', *TINY_NET, *QUIET, *args]


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_finite_checkpoint(folder, label: str = 'latest') -> None:
    for net in 'GD':
        state = checkpoint.load_weights(str(folder / f'{label}_net_{net}.pth'))
        assert all(torch.isfinite(value).all() for value in state.values() if value.is_floating_point()), net


@pytest.mark.slow
def test_nan_mid_epoch_stops_and_keeps_the_latest_saved_before_it(tmp_path):
    dataset_with_a_nodata_image(tmp_path / 'data')
    experiment = tmp_path / 'ck' / 'run'
    state_file = experiment / 'latest_train_state.pth'
    process = subprocess.Popen(train_command(tmp_path, '--save_latest_freq', '2', '--n_epochs', '2',
                                             '--n_epochs_decay', '0'),
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not state_file.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    saved = {name: digest(experiment / name) for name in
             ('latest_net_G.pth', 'latest_net_D.pth', 'latest_train_state.pth')}  # written at iteration 2
    stdout, stderr = process.communicate(timeout=120)

    assert process.returncode == 2, stdout[-2000:] + stderr[-2000:]
    assert 'Traceback' not in stderr
    last_line = stderr.strip().splitlines()[-1]
    assert re.fullmatch(r'error: training diverged: loss D_\w+ was nan at epoch 1, iters 3 \(total_iters 3\); .*',
                        last_line), stderr[-2000:]
    assert {name: digest(experiment / name) for name in saved} == saved
    assert checkpoint.load_weights(str(state_file))['progress']['total_iters'] == 2
    assert_finite_checkpoint(experiment)
    model = build_model(tmp_path / 'reload', *TINY_NET)
    checkpoint.load_network(model.netG, str(experiment / 'latest_net_G.pth'))


@pytest.mark.slow
def test_a_learning_rate_far_too_high_stops_with_one_line(tmp_path):
    """lsgan at --lr 7e6: the weights overflow within a few updates; the save after that is not made."""
    make_aligned_dataset(tmp_path / 'data', {'train': 4})
    result = subprocess.run(train_command(tmp_path, '--gan_mode', 'lsgan', '--lr', '7e6', '--save_latest_freq', '1',
                                          '--n_epochs', '5', '--n_epochs_decay', '0'),
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert 'Traceback' not in result.stderr
    assert re.fullmatch(r'error: training diverged: net G held NaN or infinite values \([\w.]+\) after the update at '
                        r'epoch 1, iters 1 \(total_iters 1\); .*lower --lr.*', lines[-1]), lines[-1]
    assert not list((tmp_path / 'ck' / 'run').glob('*.pth'))


@pytest.mark.slow
def test_skip_policy_trains_to_the_end_and_counts_the_skipped_updates(tmp_path):
    """The NaN image comes once per epoch: both networks' updates of that batch are skipped, and its batch-norm
    statistics are put back, so the final checkpoint is finite."""
    dataset_with_a_nodata_image(tmp_path / 'data')
    result = subprocess.run(train_command(tmp_path, '--nan_policy', 'skip', '--n_epochs', '1', '--n_epochs_decay', '1',
                                          '--print_freq', '2'),
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    experiment = tmp_path / 'ck' / 'run'
    log = (experiment / 'loss_log.txt').read_text()
    assert '(epoch: 1, iters: 4) --nan_policy skip: 2 update(s) skipped for a non-finite loss (D: 1, G: 1)' in log
    assert '(epoch: 2, iters: 4) --nan_policy skip: 4 update(s) skipped for a non-finite loss (D: 2, G: 2)' in log
    assert 'end of training: --nan_policy skip: 4 update(s) skipped for a non-finite loss (D: 2, G: 2)' in log
    assert 'end of training: --nan_policy skip: 4 update(s)' in result.stdout
    assert_finite_checkpoint(experiment)


def test_the_save_path_refuses_non_finite_weights(tmp_path):
    model = build_model(tmp_path, '--n_epochs', '1', '--n_epochs_decay', '0')
    progress = state.Progress(1)

    class NoData:
        def state_dict(self):
            return {}

    state.save_checkpoint(model, NoData(), 'latest', progress, model.opt)
    before = {path.name: digest(path) for path in (tmp_path / 'experiment_name').glob('latest_*')}
    with torch.no_grad():
        next(model.netG.parameters())[0].fill_(float('inf'))
    with pytest.raises(UserError, match='not saving checkpoint latest: net G holds NaN or infinite values'):
        state.save_checkpoint(model, NoData(), 'latest', progress, model.opt)
    assert {path.name: digest(path) for path in (tmp_path / 'experiment_name').glob('latest_*')} == before


def test_gradient_scaler_skips_are_not_divergence(tmp_path):
    """A loss scale so high that the scaled gradients overflow: the scaler skips the step and lowers its scale, as it
    does in float16 training; the losses are finite, so neither policy sees a divergence."""
    for policy in ('stop', 'skip'):
        model = build_model(tmp_path / policy, '--nan_policy', policy)
        model.scaler = torch.amp.GradScaler('cpu', init_scale=2.0 ** 127)
        before = {name: [param.detach().clone() for param in net.parameters()] for name, net in model.networks().items()}
        model.set_input(random_batch(model))
        model.optimize_parameters()
        assert model.scaler.get_scale() < 2.0 ** 127, 'the scaled gradients did not overflow'
        unchanged = [name for name, net in model.networks().items()
                     if all(torch.equal(old, new) for old, new in zip(before[name], net.parameters()))]
        assert unchanged, 'the scaler skipped no update'
        assert model.divergence.first_divergence() is None
        assert model.divergence.skipped == {}
        model.divergence.stop_if_diverged(1, 1, 1)


def torchrun_training(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """2 CPU ranks; under --serial_batches rank 0 trains on images 0 and 2, rank 1 on 1 and 3."""
    torchrun = str(Path(sys.executable).parent / 'torchrun')
    command = [torchrun, '--standalone', '--nproc_per_node', '2', *train_command(tmp_path, *args)[1:]]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=180,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))


@pytest.mark.slow
def test_torchrun_ranks_skip_together(tmp_path):
    """Only rank 1 sees the NaN image, but DDP has averaged its NaN gradients into rank 0's: every rank must skip
    that update, or rank 0 would step into NaN weights. Both end with identical, finite networks."""
    dataset_with_a_nodata_image(tmp_path / 'data', index=1)
    result = torchrun_training(tmp_path, '--nan_policy', 'skip', '--n_epochs', '1', '--n_epochs_decay', '0')
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert 'end of training: --nan_policy skip: 2 update(s) skipped for a non-finite loss (D: 1, G: 1)' in result.stdout
    assert 'all ranks hold identical parameters' in result.stdout
    assert_finite_checkpoint(tmp_path / 'ck' / 'run')


def test_an_unknown_nan_policy_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match=r"--nan_policy 'ignore': choose one of: stop, skip"):
        build_model(tmp_path, '--nan_policy', 'ignore')


def test_weights_found_non_finite_at_an_end_of_epoch_save_name_that_epoch(tmp_path):
    model = build_model(tmp_path)
    with model.divergence.batch(8, model.networks()):
        pass  # the last step of epoch 2, whose update left D infinite
    with torch.no_grad():
        next(model.netD.parameters()).fill_(float('inf'))
    model.divergence.stop_if_diverged(3, 0, 8)  # no save: only the losses are looked at, and they are fine
    with pytest.raises(TrainingDiverged, match=r'training diverged: net D held NaN or infinite values \(model\.0\.weight\) '
                                               r'after the update at the end of epoch 2 \(total_iters 8\)'):
        model.divergence.stop_if_diverged(3, 0, 8, model.networks())


@pytest.mark.slow
def test_torchrun_ranks_stop_together(tmp_path):
    """Rank 1's NaN image: every rank leaves at the same check, rank 0 alone says why, and nothing is saved."""
    dataset_with_a_nodata_image(tmp_path / 'data', index=1)
    result = torchrun_training(tmp_path, '--n_epochs', '2', '--n_epochs_decay', '0')
    assert result.returncode != 0, result.stdout[-2000:] + result.stderr[-3000:]
    reports = [line for line in result.stderr.splitlines() if 'training diverged' in line]
    assert len(reports) == 1 and re.match(r'error: training diverged: loss \w+ was nan at epoch 1, iters 1 '
                                          r'\(total_iters 1\) on rank [01]; ', reports[0]), result.stderr[-3000:]
    exit_codes = re.findall(r'^\s*exitcode\s*:\s*(-?\d+)', result.stderr, re.M)  # torchrun's summary, one entry per rank
    # Every rank leaves the loop at the same check and exits 2; the one still tearing down (loader workers, the process
    # group) when the first has exited may be ended by torchrun's agent with SIGTERM (-15), which is no hang.
    assert '2' in exit_codes and set(exit_codes) <= {'2', '-15'} and len(exit_codes) == 2, result.stderr[-3000:]
    assert not list((tmp_path / 'ck' / 'run').glob('*.pth'))


@pytest.mark.parametrize('policy', ['stop', 'skip'])
def test_pix2pixhd_updates_pass_the_guard_too(tmp_path, policy):
    """A NaN target pixel makes pix2pixhd's losses NaN: recorded under stop, its updates left out under skip."""
    model = build_labeled_model(tmp_path, '--label_nc', '4', '--nan_policy', policy)
    batch = label_batch(model)
    batch['image'][0, 0, 0, 0] = float('nan')
    weights = {name: param.detach().clone() for name, param in model.netG.named_parameters()}
    with model.divergence.batch(1, model.networks()):
        model.set_input(batch)
        model.optimize_parameters()
    if policy == 'stop':
        assert model.divergence.first_divergence().what.startswith('loss ')
    else:
        assert model.divergence.skipped == {'G': 1, 'D': 1}
        assert all(torch.equal(param, weights[name]) for name, param in model.netG.named_parameters())
