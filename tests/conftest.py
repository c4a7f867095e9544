"""Shared pytest fixtures, built from the helpers in tiny_runs.py."""
import os

import pytest
import torch

from tiny_runs import headless_chromium, make_aligned_dataset, train_tiny_experiment


@pytest.fixture
def tiny_dataset(tmp_path) -> str:
    """4 training and 3 test pairs of 128x128 images, the size TINY_UNET trains on."""
    return str(make_aligned_dataset(tmp_path / 'data', {'train': 4, 'test': 3}, size=128, seed=1))


@pytest.fixture(scope='session')
def vgg19_cache(tmp_path_factory) -> str:
    """A TORCH_HOME whose hub cache holds a VGG19 weights file under torchvision's exact name, so nothing is
    downloaded: random convolution weights (seed 0) and all-zero classifier weights stored as expanded scalars."""
    from torchvision.models import VGG19_Weights, vgg19

    home = tmp_path_factory.mktemp('torch_home')
    folder = home / 'hub' / 'checkpoints'
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    network = vgg19()
    state = {key: value if key.startswith('features.') else torch.zeros(()).expand(value.shape)
             for key, value in network.state_dict().items()}
    torch.save(state, folder / os.path.basename(VGG19_Weights.IMAGENET1K_V1.url))
    return str(home)


@pytest.fixture(scope='session')
def fid_inception_cache(tmp_path_factory) -> str:
    """A TORCH_HOME whose hub cache holds pytorch-fid's Inception weights file under its exact name: torchvision's
    Inception v3 with 1008 classes (the same state_dict keys and shapes), random Kaiming-normal convolutions (seed 0)
    so that the features neither vanish nor overflow."""
    from torchvision.models import inception_v3

    from util.metrics import FID_WEIGHTS_FILE

    home = tmp_path_factory.mktemp('fid_torch_home')
    folder = home / 'hub' / 'checkpoints'
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    network = inception_v3(weights=None, num_classes=1008, aux_logits=False, init_weights=False)
    for module in network.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity='relu')
    torch.save(network.state_dict(), folder / FID_WEIGHTS_FILE)
    return str(home)


@pytest.fixture(scope='session')
def tiny_experiment(tmp_path_factory):
    """The checkpoints_dir of one TINY_NET experiment `tiny`, trained once for the tests that only read it."""
    return train_tiny_experiment(tmp_path_factory.mktemp('tiny_experiment'))


@pytest.fixture(scope='session')
def browser():
    """Headless Debian Chromium driven by selenium, with a profile of its own."""
    with headless_chromium() as driver:
        yield driver
