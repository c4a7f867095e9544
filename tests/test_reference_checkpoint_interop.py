"""A generator checkpoint saved by the reference loads strictly into ours and gives the same outputs.

The fixture was made once by running the reference's own UnetGenerator (unet_256, ngf 8, batch norm)
and saving its plain state_dict and its eval-mode output on a fixed input.
"""
import os
import shutil

import numpy as np
import torch
from PIL import Image

from models import networks
from tiny_runs import make_aligned_dataset, run_entry

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
REFERENCE_G = os.path.join(FIXTURES, 'reference_unet256_ngf8_net_G.pth')


def test_reference_generator_loads_strictly_and_matches_outputs():
    net = networks.define_G(3, 3, 8, 'unet_256', 'batch', use_dropout=True)
    net.load_state_dict(torch.load(REFERENCE_G, weights_only=True), strict=True)
    net.eval()
    io = torch.load(os.path.join(FIXTURES, 'reference_unet256_ngf8_io.pth'), weights_only=True)
    with torch.no_grad():
        torch.testing.assert_close(net(io['input']), io['output'], rtol=0, atol=1e-5)


def test_our_generator_state_dict_has_exactly_the_reference_layout():
    reference = torch.load(REFERENCE_G, weights_only=True)
    ours = networks.define_G(3, 3, 8, 'unet_256', 'batch', use_dropout=True).state_dict()
    assert [(k, v.shape, v.dtype) for k, v in ours.items()] == [(k, v.shape, v.dtype) for k, v in reference.items()]


def reference_generator_output(pair_path) -> np.ndarray:
    """What the reference's unet_256 (our define_G with the fixture's weights, checked above) makes of the A half
    of an aligned 256x256 pair in eval mode, as the uint8 image the reference's test.py saves."""
    net = networks.define_G(3, 3, 8, 'unet_256', 'batch', use_dropout=True)
    net.load_state_dict(torch.load(REFERENCE_G, weights_only=True), strict=True)
    a = torch.from_numpy(np.asarray(Image.open(pair_path).convert('RGB'))[:, :256].copy()).permute(2, 0, 1)
    with torch.no_grad():
        fake = net.eval()((a.float()[None] / 255 - 0.5) / 0.5)[0]
    return ((fake.permute(1, 2, 0).numpy() + 1) / 2 * 255).astype(np.uint8)


def test_test_py_runs_a_reference_checkpoint(tmp_path):
    data = make_aligned_dataset(tmp_path / 'data', {'test': 2}, size=256)
    experiment = tmp_path / 'checkpoints' / 'ref'
    experiment.mkdir(parents=True)
    shutil.copy(REFERENCE_G, experiment / 'latest_net_G.pth')
    run_entry('test.py', '--dataroot', str(data), '--name', 'ref', '--model', 'pix2pix',
              '--checkpoints_dir', str(tmp_path / 'checkpoints'), '--results_dir', str(tmp_path / 'results'),
              '--ngf', '8', '--gpu_ids', '-1', '--eval')
    images = tmp_path / 'results' / 'ref' / 'test_latest' / 'images'
    for stem in ('000', '001'):
        saved = np.asarray(Image.open(images / f'{stem}_fake_B.png').convert('RGB')).astype(np.int16)
        expected = reference_generator_output(data / 'test' / f'{stem}.png').astype(np.int16)
        assert saved.shape == expected.shape == (256, 256, 3)
        assert np.abs(saved - expected).max() <= 1, f'{stem}: test.py output is not the reference network\'s'
        assert expected.std() > 1, 'a flat output would make the comparison meaningless'

