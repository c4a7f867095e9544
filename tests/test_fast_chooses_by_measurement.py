"""--fast measures the speed settings on this machine and keeps the fastest; the choice is reported in one line,
recorded in <phase>_opt.txt and the training state, and reused by --continue_train. --amp runs only where the
device computes low precision natively: elsewhere one warning and float32 (checked on an AVX2-only CPU emulated
with ATEN_CPU_CAPABILITY=avx2 and ONEDNN_MAX_CPU_ISA=AVX2, whatever this machine is)."""
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import asdict

import pytest
import torch

from models import speed
from models.speed import SpeedSettings
from util.checkpoint import read_options_file
from tiny_runs import (HD_TINY_NET, REPO, TINY_NET, TINY_UNET, build_model, label_batch, make_aligned_dataset,
                       random_batch, run_entry)
from util.checkpoint import load_weights

AVX2_ONLY = {'ATEN_CPU_CAPABILITY': 'avx2', 'ONEDNN_MAX_CPU_ISA': 'AVX2'}


def fake_steps(seconds: dict[SpeedSettings, float], timed: list[SpeedSettings]):
    """make_step for speed.tune: each settings' step sleeps for its given time (plain float32's if not listed)."""
    def make_step(settings: SpeedSettings):
        timed.append(settings)
        return lambda: time.sleep(seconds.get(settings, seconds[SpeedSettings()]))
    return make_step


@pytest.mark.parametrize('native', [False, True], ids=['no native bf16', 'native bf16'])
def test_tune_keeps_only_what_measures_faster(monkeypatch, native):
    monkeypatch.setattr(speed, 'native_autocast_dtype', lambda device: torch.bfloat16 if native else None)
    plain, cl, fa = SpeedSettings(), SpeedSettings(channels_last=True), SpeedSettings(fused_adam=True)
    amp, cl_fa = SpeedSettings(amp=True), SpeedSettings(channels_last=True, fused_adam=True)
    seconds = {plain: 0.04, cl: 0.02, fa: 0.03, amp: 0.12, cl_fa: 0.012}
    timed: list[SpeedSettings] = []
    choice, ratio, report = speed.tune(fake_steps(seconds, timed), torch.device('cpu'), training=True)
    assert choice == cl_fa and 2.5 < ratio < 4
    assert (amp in timed) == native, 'bf16 must be timed only where it is native'
    assert report.startswith('--fast: training with --channels_last --fused_adam, ') and '\n' not in report


def test_tune_finds_amp_with_channels_last_where_channels_last_alone_loses(monkeypatch):
    """As measured on an AMX Xeon: bf16 wants channels-last memory, float32 does not."""
    monkeypatch.setattr(speed, 'native_autocast_dtype', lambda device: torch.bfloat16)
    best = SpeedSettings(amp=True, channels_last=True, fused_adam=True)
    seconds = {SpeedSettings(): 0.04, SpeedSettings(channels_last=True): 0.045, SpeedSettings(fused_adam=True): 0.034,
               SpeedSettings(amp=True): 0.03, SpeedSettings(amp=True, channels_last=True): 0.024, best: 0.02}
    choice, ratio, _ = speed.tune(fake_steps(seconds, []), torch.device('cpu'), training=True)
    assert choice == best and 1.7 < ratio < 2.2


def test_tune_adds_flags_that_only_help_on_top_of_bf16(monkeypatch):
    """As measured on the Zen 4 at batch 4: channels_last and fused Adam gain nothing in float32, 10% with bf16."""
    monkeypatch.setattr(speed, 'native_autocast_dtype', lambda device: torch.bfloat16)
    best = SpeedSettings(amp=True, channels_last=True, fused_adam=True)
    seconds = {SpeedSettings(): 0.04, SpeedSettings(amp=True): 0.025, best: 0.02}
    choice, _, _ = speed.tune(fake_steps(seconds, []), torch.device('cpu'), training=True)
    assert choice == best


def test_tune_keeps_plain_float32_when_nothing_is_faster(monkeypatch):
    monkeypatch.setattr(speed, 'native_autocast_dtype', lambda device: None)
    seconds = {SpeedSettings(): 0.02, SpeedSettings(channels_last=True): 0.04, SpeedSettings(fused_adam=True): 0.02}
    choice, ratio, report = speed.tune(fake_steps(seconds, []), torch.device('cpu'), training=True)
    assert choice == SpeedSettings() and ratio == 1.0 and 'plain float32' in report


@pytest.mark.slow
def test_train_fast_reports_records_and_resume_reuses_the_choice(tmp_path):
    make_aligned_dataset(tmp_path / 'data', {'train': 2}, seed=1)
    common = ['--dataroot', str(tmp_path / 'data'), '--name', 'fast', '--checkpoints_dir', str(tmp_path / 'ck'), *TINY_NET, '--fast']
    result = run_entry('train.py', *common, '--n_epochs', '1', '--n_epochs_decay', '0', '--no_html')
    lines = [line for line in result.stdout.splitlines() if line.startswith('--fast:')]
    assert len(lines) == 1 and re.search(r'\d\.\d\dx the plain float32 step', lines[0]), result.stdout[-2000:]
    chosen = {flag: f'--{flag}' in lines[0].split(',')[0] for flag in ('amp', 'channels_last', 'fused_adam', 'compile')}
    recorded = read_options_file(str(tmp_path / 'ck' / 'fast' / 'train_opt.txt'))
    assert {flag: recorded[flag] == 'True' for flag in chosen} == chosen
    saved = load_weights(str(tmp_path / 'ck' / 'fast' / 'latest_train_state.pth'))['speed']
    assert saved == {'fast': True, **chosen}

    resumed = run_entry('train.py', *common, '--continue_train', '--n_epochs', '2', '--n_epochs_decay', '0', '--no_html')
    assert '--fast: reusing the settings chosen when this run started' in resumed.stdout
    assert 'x the plain float32' not in resumed.stdout


@pytest.mark.slow
def test_test_py_fast_tunes_inference_and_records_it(tmp_path):
    make_aligned_dataset(tmp_path / 'data', {'train': 1, 'test': 1}, seed=2)
    common = ['--dataroot', str(tmp_path / 'data'), '--name', 'fastest', '--checkpoints_dir', str(tmp_path / 'ck'), *TINY_NET]
    run_entry('train.py', *common, '--n_epochs', '1', '--n_epochs_decay', '0')
    result = run_entry('test.py', *common, '--fast', '--results_dir', str(tmp_path / 'results'))
    line = next(line for line in result.stdout.splitlines() if line.startswith('--fast:'))
    assert 'inference with' in line and 'x the plain float32 forward' in line
    recorded = read_options_file(str(tmp_path / 'ck' / 'fastest' / 'test_opt.txt'))
    assert (recorded['channels_last'] == 'True') == ('--channels_last' in line.split(',')[0])


def run_avx2_only(args: list[str]) -> subprocess.CompletedProcess:
    return run_entry('train.py', *args, check=False, env=AVX2_ONLY)


@pytest.mark.slow
def test_amp_without_native_low_precision_warns_once_and_trains_float32(tmp_path):
    detected = subprocess.run([sys.executable, '-c', 'from util.hardware import cpu_has_native_bf16; print(cpu_has_native_bf16())'],
                              cwd=REPO, capture_output=True, text=True, env={**os.environ, **AVX2_ONLY})
    assert detected.stdout.strip() == 'False', detected.stderr
    make_aligned_dataset(tmp_path / 'data', {'train': 2}, seed=4)
    common = ['--dataroot', str(tmp_path / 'data'), '--checkpoints_dir', str(tmp_path / 'ck'), *TINY_NET, '--seed', '1',
              '--n_epochs', '1', '--n_epochs_decay', '0', '--no_html']
    with_amp = run_avx2_only([*common, '--name', 'amp', '--amp'])
    plain = run_avx2_only([*common, '--name', 'plain'])
    assert with_amp.returncode == plain.returncode == 0, with_amp.stderr[-2000:]
    warnings = [line for line in with_amp.stderr.splitlines() if 'warning: --amp ignored' in line]
    assert len(warnings) == 1 and 'float32' in warnings[0] and 'slower' in warnings[0]
    assert read_options_file(str(tmp_path / 'ck' / 'amp' / 'train_opt.txt'))['amp'] == 'False'
    for net in 'GD':
        amp_weights = load_weights(str(tmp_path / 'ck' / 'amp' / f'latest_net_{net}.pth'))
        plain_weights = load_weights(str(tmp_path / 'ck' / 'plain' / f'latest_net_{net}.pth'))
        assert all(torch.equal(amp_weights[key], plain_weights[key]) for key in plain_weights), net


@pytest.mark.parametrize('model_flags', [['--pool_size', '2'], ['--model', 'pix2pixhd', '--dataset_mode', 'labeled',
                                                                 '--no_vgg_loss']], ids=['pix2pix', 'pix2pixhd'])
def test_fast_tunes_the_model_itself_and_leaves_it_exactly_as_it_was(tmp_path, model_flags):
    """No copy of the model (so no copy of its memory): the candidates' steps run on the model, which is then put
    back from its state set aside on disk; so the tuned model's next two steps equal those of an untuned one built from the same seed with the
    chosen flags (weights, Adam's moments and, with --pool_size, the image pool)."""
    net = HD_TINY_NET if '--model' in model_flags else TINY_UNET
    tuned = build_model(tmp_path / 'tuned', '--fast', *model_flags, net=net)
    assert not list((tmp_path / 'tuned').rglob('*.tmp')), 'the state set aside on disk was left behind'
    chosen = [f'--{flag}' for flag, on in asdict(tuned.speed).items() if on]
    untuned = build_model(tmp_path / 'untuned', *chosen, *model_flags, net=net)
    for model in (tuned, untuned):
        assert all(not optimizer.state for optimizer in model.optimizers)
        for seed in (1, 2):
            torch.manual_seed(seed)  # dropout's masks
            random.seed(seed)  # the image pool's choices
            model.set_input(label_batch(model, seed) if net is HD_TINY_NET else random_batch(model, seed))
            model.optimize_parameters()
    for name in ('G', 'D'):
        expected, actual = untuned.networks()[name].state_dict(), tuned.networks()[name].state_dict()
        assert all(torch.equal(expected[key], actual[key]) for key in expected), name
    moments = [[state['exp_avg'] for state in optimizer.state.values()] for optimizer in untuned.optimizers]
    assert all(torch.equal(a, b) for expected, optimizer in zip(moments, tuned.optimizers)
               for a, b in zip(expected, [state['exp_avg'] for state in optimizer.state.values()]))
