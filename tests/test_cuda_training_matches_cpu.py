"""On a CUDA GPU: a training step matches the CPU's, --amp trains in the GPU's native dtype (and in float16 with a
gradient scaler), --fast times torch.compile, torchrun joins with nccl, and a checkpoint trained on the GPU tests
alike on the CPU. Skipped where torch sees no CUDA device (as in CI); run them on a GPU machine with
`python -m pytest tests/test_cuda_training_matches_cpu.py`."""
import glob
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import models.base_model as base_model
from tiny_runs import (REPO, TINY_NET, TINY_UNET, build_model, make_aligned_dataset, random_batch, random_image, run_entry,
                       run_in_process)
from util.checkpoint import read_options_file

pytestmark = [pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU'), pytest.mark.slow]
SMALL = [*TINY_NET, '--no_html']  # --gpu_ids 0 given after it wins


def test_one_training_step_on_cuda_matches_the_cpu(tmp_path):
    cpu = build_model(tmp_path / 'cpu', '--no_dropout')
    gpu = build_model(tmp_path / 'gpu', '--no_dropout', '--gpu_ids', '0')
    for name in 'GD':
        getattr(gpu, 'net' + name).load_state_dict(getattr(cpu, 'net' + name).state_dict())
    batch = random_batch(cpu)
    for model in (cpu, gpu):
        model.set_input(batch)
        model.optimize_parameters()
    assert all(p.device.type == 'cuda' for p in gpu.netG.parameters()) and gpu.real_A.device.type == 'cuda'
    cpu_losses, gpu_losses = cpu.get_current_losses(), gpu.get_current_losses()
    for name, value in cpu_losses.items():
        assert gpu_losses[name] == pytest.approx(value, rel=2e-2), name
    for name in 'GD':
        cpu_params = getattr(cpu, 'net' + name).state_dict()
        for key, value in getattr(gpu, 'net' + name).state_dict().items():
            torch.testing.assert_close(value.cpu(), cpu_params[key], rtol=1e-3, atol=5e-4, msg=f'net{name}.{key}')


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16], ids=['bf16', 'fp16 with scaler'])
def test_amp_on_cuda_trains_finite_in_low_precision(tmp_path, monkeypatch, dtype):
    if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported(including_emulation=False):
        pytest.skip('this GPU has no native bfloat16')
    monkeypatch.setattr(base_model, 'native_autocast_dtype', lambda device: dtype)
    model = build_model(tmp_path, '--gpu_ids', '0', '--amp')
    assert model.amp_dtype == dtype and model.scaler.is_enabled() == (dtype == torch.float16)
    before = {key: value.clone() for key, value in model.netG.state_dict().items()}
    batch = random_batch(model)
    for _ in range(3):
        model.set_input(batch)
        model.optimize_parameters()
    assert model.fake_B.dtype == dtype
    assert all(np.isfinite(value) for value in model.get_current_losses().values())
    after = model.netG.state_dict()
    assert all(torch.isfinite(value).all() for value in after.values())
    assert any(not torch.equal(before[key], after[key]) for key in before), 'the generator did not learn'


def fake_images(results_dir) -> dict[str, np.ndarray]:
    paths = glob.glob(os.path.join(str(results_dir), '**', '*_fake_B.png'), recursive=True)
    return {os.path.basename(path): np.asarray(Image.open(path), dtype=np.int16) for path in paths}


def test_checkpoint_trained_on_cuda_tests_alike_on_cpu_and_predicts(tmp_path, tiny_dataset):
    common = ['--dataroot', tiny_dataset, '--name', 'gpu', '--checkpoints_dir', str(tmp_path / 'ck'), *TINY_UNET]
    run_entry('train.py', *common, '--gpu_ids', '0', '--n_epochs', '1', '--n_epochs_decay', '1', '--no_html')
    for gpu in ('0', '-1'):
        run_entry('test.py', *common, '--gpu_ids', gpu, '--eval', '--results_dir', str(tmp_path / f'results{gpu}'))
    on_gpu, on_cpu = fake_images(tmp_path / 'results0'), fake_images(tmp_path / 'results-1')
    assert len(on_gpu) == 3 and on_gpu.keys() == on_cpu.keys()
    differences = [np.abs(on_gpu[name] - on_cpu[name]) for name in on_gpu]
    # TF32 convolutions on the GPU: on an H200, over two runs, up to 4 levels of 255 apart and 0.61 on average
    assert max(d.mean() for d in differences) < 1.5 and max(d.max() for d in differences) <= 16
    odd = random_image(tmp_path / 'odd.png', 150, 97, seed=0)
    run_in_process('predict.py', '--name', 'gpu', '--checkpoints_dir', str(tmp_path / 'ck'), '--gpu_ids', '0',
                   '--input', odd, '--output', str(tmp_path / 'predicted'))
    assert Image.open(tmp_path / 'predicted' / 'odd.png').size == (150, 97)


def test_fast_on_cuda_times_compile_and_resume_reuses_the_choice(tmp_path):
    make_aligned_dataset(tmp_path / 'data', {'train': 2}, seed=1)
    common = ['--dataroot', str(tmp_path / 'data'), '--name', 'fast', '--checkpoints_dir', str(tmp_path / 'ck'),
              *SMALL, '--gpu_ids', '0', '--fast']
    result = run_entry('train.py', *common, '--n_epochs', '1', '--n_epochs_decay', '0', timeout=900)
    line = next(line for line in result.stdout.splitlines() if line.startswith('--fast:'))
    timed = int(re.search(r'(\d+) settings timed', line).group(1))
    assert timed >= 5, f'plain, 3 single flags and compile should be timed: {line}'
    assert torch.cuda.get_device_name(0) in line
    recorded = read_options_file(str(tmp_path / 'ck' / 'fast' / 'train_opt.txt'))
    for flag in ('amp', 'channels_last', 'fused_adam', 'compile'):
        assert (recorded[flag] == 'True') == (f'--{flag}' in line.split(',')[0]), flag
    resumed = run_entry('train.py', *common, '--continue_train', '--n_epochs', '2', '--n_epochs_decay', '0', timeout=900)
    assert '--fast: reusing the settings chosen when this run started' in resumed.stdout


def test_torchrun_on_cuda_joins_with_nccl(tmp_path):
    make_aligned_dataset(tmp_path / 'data', {'train': 2}, seed=2)
    command = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '1', '--master_port', '29531',
               str(REPO / 'train.py'), '--dataroot', str(tmp_path / 'data'), '--name', 'ddp',
               '--checkpoints_dir', str(tmp_path / 'ck'), *SMALL, '--gpu_ids', '0', '--n_epochs', '1',
               '--n_epochs_decay', '0']
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert os.path.isfile(tmp_path / 'ck' / 'ddp' / 'latest_net_G.pth')
    assert 'torchrun: 1 processes joined with the nccl backend' in result.stdout, result.stdout[-2000:]
