"""Random state: seeding, and saving and restoring every generator."""
import os
import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch


def seed_everything(seed: int | None, rank: int = 0) -> None:
    """Under --seed, seed python, numpy and torch and ask for deterministic algorithms (exact on CPU).

    Under torchrun each rank draws its own stream (seed + rank), so dropout differs between ranks as it would
    between the samples of one large batch; data order and augmentation use the common seed (data.sampler)."""
    if seed is None:
        return
    os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    random.seed(seed + rank)
    np.random.seed(seed + rank)
    torch.manual_seed(seed + rank)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def capture_rng_state() -> dict:
    """Python, numpy, torch and CUDA generator states, as types that load with weights_only=True."""
    version, words, gauss_next = random.getstate()
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    return {
        'python': [version, list(words), gauss_next],
        'numpy': {'keys': torch.from_numpy(keys.astype(np.int64)), 'pos': int(pos),
                  'has_gauss': int(has_gauss), 'cached_gaussian': float(cached_gaussian)},
        'torch': torch.get_rng_state(),
        'cuda': torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(state: dict) -> None:
    version, words, gauss_next = state['python']
    random.setstate((version, tuple(words), gauss_next))
    numpy_state = state['numpy']
    np.random.set_state(('MT19937', numpy_state['keys'].numpy().astype(np.uint32), numpy_state['pos'],
                         numpy_state['has_gauss'], numpy_state['cached_gaussian']))
    torch.set_rng_state(state['torch'].cpu())
    if state['cuda'] and torch.cuda.is_available() and len(state['cuda']) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state['cuda']])


@contextmanager
def rng_untouched() -> Iterator[None]:
    """Run a block (validation, speed tuning) without moving any generator the training run draws from."""
    state = capture_rng_state()
    try:
        yield
    finally:
        restore_rng_state(state)
