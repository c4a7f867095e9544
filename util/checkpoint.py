"""The one place that writes and reads checkpoint files: atomic writes, weights-only loads."""
import os
import random
import tempfile

import numpy as np
import torch

from util.errors import UserError


def atomic_save(obj, path: str) -> None:
    """Write `obj` with torch.save to a temporary file beside `path`, then rename it into place."""
    folder = os.path.dirname(path) or '.'
    try:
        fd, tmp_path = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.tmp', dir=folder)
    except OSError as err:
        raise UserError(f'cannot write checkpoint {path}: {err.strerror}; free space or choose another --checkpoints_dir') from err
    try:
        os.chmod(tmp_path, 0o666 & ~current_umask())
        with os.fdopen(fd, 'wb') as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException as err:
        os.unlink(tmp_path)
        if not isinstance(err, (OSError, RuntimeError)):  # torch.save reports a failed write as a RuntimeError
            raise
        reason = err.strerror if isinstance(err, OSError) else 'the write failed'
        raise UserError(f'cannot write checkpoint {path}: {reason}; free space or choose another --checkpoints_dir; '
                        'earlier checkpoints are intact') from err


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_checkpoint(path: str, map_location: str | torch.device = 'cpu'):
    """torch.load with weights_only=True; a missing or unsafe file is refused with a clear message."""
    if not os.path.isfile(path):
        raise UserError(f'checkpoint {path} does not exist; check --name, --checkpoints_dir and --epoch')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise UserError(f'checkpoint {path} cannot be loaded as plain weights ({type(err).__name__}); '
                        'it is corrupt or holds code, so it is refused') from err


def training_state_path(save_dir: str, label: str | int) -> str:
    """Beside the reference's <label>_net_G.pth: <label>_train_state.pth."""
    return os.path.join(save_dir, f'{label}_train_state.pth')


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


def read_recorded_options(path: str) -> dict:
    """The training flags kept in a training-state file, read without loading its tensors into memory."""
    try:
        return torch.load(path, map_location='cpu', weights_only=True, mmap=True)['options']
    except Exception as err:
        raise UserError(f'training state {path} cannot be read ({type(err).__name__}); delete it or pass the '
                        'architecture flags (--netG, --ngf, --norm, ...) explicitly') from err
