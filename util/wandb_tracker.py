"""Weights & Biases logging for --use_wandb: losses, learning rate, images, validation, test results.

wandb is imported only when this is asked for. Keys follow the reference: plain loss names and image labels.
Offline runs (WANDB_MODE=offline) land in ./wandb/offline-run-* (or under $WANDB_DIR), for `wandb sync`.
"""
import argparse
import sys

import numpy as np

from util import checkpoint
from util.metrics import ResultMetrics


class WandbTracker:
    """One wandb run named after --name, with the options as its config; every log call carries the step given.
    A training run keeps its run's id in the experiment folder, and --continue_train (or a torchrun restart) goes on
    logging to that run."""

    def __init__(self, run, wandb_module):
        self.run = run
        self.wandb = wandb_module

    @classmethod
    def start(cls, opt: argparse.Namespace, job_type: str) -> 'WandbTracker | None':
        """The run, or None after one warning line when wandb is missing or cannot start (no login, no network)."""
        try:
            import wandb
        except ImportError:
            warn('the wandb package is not installed (pip install wandb)')
            return None
        save_dir = checkpoint.experiment_dir(opt)
        resumed = checkpoint.read_wandb_run_id(save_dir) if job_type == 'train' and opt.continue_train else None
        try:
            run = wandb.run or wandb.init(project=opt.wandb_project_name, name=opt.name, job_type=job_type,
                                          config=run_config(opt), id=resumed, resume='allow' if resumed else None)
        except Exception as error:  # wandb raises many kinds (UsageError, CommError, timeouts)
            warn(f'wandb could not start a run ({first_line(error)}); log in with `wandb login` or set WANDB_MODE=offline')
            return None
        if job_type == 'train':
            checkpoint.write_wandb_run_id(save_dir, run.id)
        return cls(run, wandb)

    def log_losses(self, step: int, epoch: float, losses: dict[str, float]) -> None:
        self.run.log({**losses, 'epoch': epoch}, step=step)

    def log_learning_rate(self, step: int, learning_rate: float) -> None:
        self.run.log({'learning_rate': learning_rate}, step=step)

    def log_images(self, step: int, images: dict[str, np.ndarray]) -> None:
        self.run.log({label: self.wandb.Image(image) for label, image in images.items()}, step=step)

    def log_validation(self, step: int, epoch: int, metrics: dict[str, float],
                       samples: list[tuple[str, dict[str, np.ndarray]]]) -> None:
        """The metrics as val/<name>, and per label a list of the sample images captioned with their stem."""
        record = {f'val/{name}': value for name, value in metrics.items()}
        labels = samples[0][1] if samples else {}
        for label in labels:
            record[f'val/{label}'] = [self.wandb.Image(images[label], caption=stem) for stem, images in samples]
        self.run.log({**record, 'epoch': epoch}, step=step)

    def log_result(self, stem: str, images: dict[str, np.ndarray]) -> None:
        """One test input's images, each captioned with the input's name."""
        self.run.log({label: self.wandb.Image(image, caption=stem) for label, image in images.items()})

    def log_metrics_table(self, metrics: ResultMetrics) -> None:
        """The per-image L1, PSNR and SSIM as a table 'metrics'; their means, and FID and KID when computed, in the
        run summary."""
        table = self.wandb.Table(columns=['image', 'L1', 'PSNR (dB)', 'SSIM'], data=[list(row) for row in metrics.rows])
        self.run.log({'metrics': table})
        for name, value in zip(('L1 mean', 'PSNR mean', 'SSIM mean'), metrics.means()):
            self.run.summary[name] = value
        for name, value in metrics.set_distances().items():
            if value is not None:
                self.run.summary[name.upper().replace('_', ' ')] = value

    def close(self) -> None:
        self.run.finish()


def run_config(opt: argparse.Namespace) -> dict:
    """The options as wandb config; values JSON cannot hold (inf) as text."""
    return {key: value if not isinstance(value, float) or np.isfinite(value) else str(value)
            for key, value in vars(opt).items()}


def first_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def warn(reason: str) -> None:
    print(f'warning: --use_wandb: {reason}; going on without wandb', file=sys.stderr)
