"""Shared pytest fixtures, built from the helpers in tiny_runs.py."""
import pytest

from tiny_runs import make_aligned_dataset


@pytest.fixture
def tiny_dataset(tmp_path) -> str:
    """4 training and 3 test pairs of 128x128 images, the size TINY_UNET trains on."""
    return str(make_aligned_dataset(tmp_path / 'data', {'train': 4, 'test': 3}, size=128, seed=1))
