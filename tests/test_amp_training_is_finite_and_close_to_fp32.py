"""--amp on a CPU with native bfloat16: training losses stay finite and inference agrees with fp32 within a stated
tolerance. On CPUs without native bf16, --amp falls back to float32 (test_fast_chooses_by_measurement.py checks that
on an emulated AVX2 CPU), so there is no bf16 run to check and this test does not run bf16 training there."""
import math
import re

import pytest
import torch

from models import create_model
from options.test_options import TestOptions
from tiny_runs import TINY_UNET, make_aligned_dataset, run_entry
from util.hardware import cpu_has_native_bf16

# Generator outputs lie in [-1, 1]; bf16 keeps 8 bits of mantissa through a 7-level U-Net.
MAX_ABS_DIFF = 0.08
MEAN_ABS_DIFF = 0.01


def train_with_amp(tmp_path) -> str:
    make_aligned_dataset(tmp_path / 'data', {'train': 3, 'test': 3}, seed=1)
    run_entry('train.py', '--dataroot', str(tmp_path / 'data'), '--checkpoints_dir', str(tmp_path / 'ckpt'),
              '--name', 'amp', '--amp', '--n_epochs', '2', '--n_epochs_decay', '0', '--print_freq', '1',
              '--init_type', 'kaiming', *TINY_UNET, timeout=120)  # kaiming: outputs span [-1, 1], so the fp32 comparison means something
    return (tmp_path / 'ckpt' / 'amp' / 'loss_log.txt').read_text()


def generator_output(tmp_path, amp: bool, image: torch.Tensor) -> torch.Tensor:
    args = ['--dataroot', str(tmp_path / 'data'), '--checkpoints_dir', str(tmp_path / 'ckpt'), '--name', 'amp',
            '--results_dir', str(tmp_path / 'results'), '--model', 'pix2pix', '--eval', *TINY_UNET] + (['--amp'] if amp else [])
    model = create_model(TestOptions().parse(args))
    model.setup(model.opt)
    model.eval()
    model.set_input({'A': image, 'B': image, 'A_paths': ['x.png'], 'B_paths': ['x.png']})
    model.test()
    return model.fake_B.float()


@pytest.mark.skipif(not cpu_has_native_bf16(), reason='this CPU has no native bf16: --amp trains in float32 here')
def test_amp_training_losses_are_finite_and_inference_matches_fp32(tmp_path):
    log = train_with_amp(tmp_path)
    losses = [float(value) for value in re.findall(r'(?:G_GAN|G_L1|D_real|D_fake): (\S+)', log)]
    assert len(losses) == 4 * 2 * 3
    assert all(math.isfinite(value) for value in losses)

    image = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0)) * 2 - 1
    fp32 = generator_output(tmp_path, amp=False, image=image)
    bf16 = generator_output(tmp_path, amp=True, image=image)
    assert fp32.std().item() > 0.3, 'outputs near zero would make the comparison meaningless'
    difference = (fp32 - bf16).abs()
    assert difference.max().item() < MAX_ABS_DIFF
    assert difference.mean().item() < MEAN_ABS_DIFF
    assert not torch.equal(fp32, bf16)
