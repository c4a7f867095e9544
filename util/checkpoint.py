"""The one place that writes and reads checkpoint files: atomic writes, weights-only loads."""
import os
import tempfile

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
        with os.fdopen(fd, 'wb') as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except OSError as err:
        os.unlink(tmp_path)
        raise UserError(f'cannot write checkpoint {path}: {err.strerror}; free space or choose another --checkpoints_dir') from err
    except BaseException:
        os.unlink(tmp_path)
        raise


def load_checkpoint(path: str, map_location: str | torch.device = 'cpu'):
    """torch.load with weights_only=True; a missing or unsafe file is refused with a clear message."""
    if not os.path.isfile(path):
        raise UserError(f'checkpoint {path} does not exist; check --name, --checkpoints_dir and --epoch')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise UserError(f'checkpoint {path} cannot be loaded as plain weights ({type(err).__name__}); '
                        'it is corrupt or holds code, so it is refused') from err
