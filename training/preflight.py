"""Training set-ups that cannot work, caught with one clear line instead of a traceback."""
from contextlib import contextmanager
from typing import Iterator

from util import distributed
from util.errors import UserError


def check_training_setup(opt, size_multiple: int) -> None:
    """--norm syncbatch outside torchrun would silently act as plain batch norm; a training crop that the
    generator cannot map exactly would be padded at every step, wasting most of the work; recomputed batch norm
    would update its running statistics twice per step."""
    if opt.norm == 'syncbatch' and not distributed.is_distributed():
        raise UserError('--norm syncbatch synchronizes statistics between processes: launch train.py with '
                        'torchrun --nproc_per_node N, or use --norm batch')
    if opt.checkpoint_activations and opt.norm in ('batch', 'syncbatch'):
        raise UserError(f'--checkpoint_activations with --norm {opt.norm}: batch norm would update its running '
                        'statistics again when the forward is recomputed; use --norm instance (pix2pixHD\'s default)')
    if 'crop' in opt.preprocess and opt.crop_size % size_multiple:
        raise UserError(f'--netG {opt.netG} needs image sides divisible by {size_multiple}, got --crop_size '
                        f'{opt.crop_size}; set --crop_size (and --load_size) to a multiple of {size_multiple}')


@contextmanager
def explain_batch_norm_errors(opt) -> Iterator[None]:
    """Batch norm in training cannot normalize a 1x1 feature map of a batch of one image; say which flags to change."""
    try:
        yield
    except ValueError as err:
        if 'Expected more than 1 value per channel' not in str(err):
            raise
        raise UserError(f'--norm {opt.norm} with --batch_size {opt.batch_size}: a feature map of the networks shrinks '
                        f'to 1x1 at --crop_size {opt.crop_size} and batch norm cannot normalize one value; use a '
                        'larger --crop_size, a --batch_size above 1 (with more images), or --norm instance') from None
