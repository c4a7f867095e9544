"""python export.py: the TorchScript and ONNX generators give PyTorch's output on a random input."""
import os

import onnxruntime
import pytest
import torch

from models import networks
from tiny_runs import run_entry
from util.checkpoint import atomic_save

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

TOLERANCE = 1e-4


def save_random_generator(experiment_dir: str) -> torch.nn.Module:
    """A tiny U-Net with non-trivial BatchNorm statistics, saved as the reference's latest_net_G.pth."""
    torch.manual_seed(0)
    net = networks.define_G(3, 3, 8, 'unet_128', 'batch', use_dropout=True)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    os.makedirs(experiment_dir)
    atomic_save(net.state_dict(), os.path.join(experiment_dir, 'latest_net_G.pth'))
    return net.eval()


def test_exported_generator_matches_pytorch(tmp_path):
    net = save_random_generator(str(tmp_path / 'ckpt' / 'tiny'))
    run_entry('export.py', '--checkpoints_dir', str(tmp_path / 'ckpt'), '--name', 'tiny', '--netG', 'unet_128',
              '--ngf', '8', '--crop_size', '128', '--out_dir', str(tmp_path / 'export'), timeout=120)

    image = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        expected = net(image)
        scripted = torch.jit.load(str(tmp_path / 'export' / 'latest_net_G.torchscript.pt'))(image)
    assert torch.allclose(scripted, expected, atol=TOLERANCE)

    session = onnxruntime.InferenceSession(str(tmp_path / 'export' / 'latest_net_G.onnx'), providers=['CPUExecutionProvider'])
    (from_onnx,) = session.run(['output'], {'input': image.numpy()})
    assert torch.allclose(torch.from_numpy(from_onnx), expected, atol=TOLERANCE)
    assert expected.std() > 0.01
