"""TensorBoard event files for --tf_log (pix2pixHD's flag): losses, learning rate, images, validation.

Written with torch.utils.tensorboard to <checkpoints_dir>/<name>/logs (where pix2pixHD writes them), so
`tensorboard --logdir checkpoints` shows every experiment. The step of every value is the number of training
images seen so far (total_iters), as in wandb; tensorboard is imported only when this is asked for.
"""
import argparse
import os
import sys

import numpy as np

from util import checkpoint


def log_dir(opt: argparse.Namespace) -> str:
    return os.path.join(checkpoint.experiment_dir(opt), 'logs')


class TensorBoardTracker:
    """Scalars loss/<name>, learning_rate and val/<metric>; images train/<label> and val/<stem>/<label>."""

    def __init__(self, writer):
        self.writer = writer

    @classmethod
    def start(cls, opt: argparse.Namespace) -> 'TensorBoardTracker | None':
        """The event writer, or None after one warning line when the tensorboard package is missing."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            print('warning: --tf_log: the tensorboard package is not installed (pip install tensorboard); '
                  'going on without TensorBoard logs', file=sys.stderr)
            return None
        return cls(SummaryWriter(log_dir(opt)))

    def log_losses(self, step: int, epoch: float, losses: dict[str, float]) -> None:
        for name, value in losses.items():
            self.writer.add_scalar(f'loss/{name}', value, step)
        self.writer.flush()

    def log_learning_rate(self, step: int, learning_rate: float) -> None:
        self.writer.add_scalar('learning_rate', learning_rate, step)

    def log_images(self, step: int, images: dict[str, np.ndarray]) -> None:
        for label, image in images.items():
            self.writer.add_image(f'train/{label}', image, step, dataformats='HWC')
        self.writer.flush()

    def log_validation(self, step: int, epoch: int, metrics: dict[str, float],
                       samples: list[tuple[str, dict[str, np.ndarray]]]) -> None:
        for name, value in metrics.items():
            self.writer.add_scalar(f'val/{name}', value, step)
        for stem, images in samples:
            for label, image in images.items():
                self.writer.add_image(f'val/{stem}/{label}', image, step, dataformats='HWC')
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
