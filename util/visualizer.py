"""Shows training progress: loss log, training HTML page with a loss curve, live visdom display, and the trackers
asked for (--use_wandb, --tf_log); saves test results."""
import math
import ntpath
import os
import time

import numpy as np
import torch
from tqdm import tqdm

from util import checkpoint, html
from util.util import mkdirs, save_image, tensor2im

PAGE_REFRESH_S = 30
LOSS_CURVE_NAME = 'loss_curve.png'
VAL_CURVE_NAME = 'val_curve.png'
VAL_NAMES = ['val L1', 'val PSNR (dB)', 'val SSIM', 'val FID']  # FID with --val_metric fid


def image_stem(path: str) -> str:
    """The file name without folder and extension, which names an input's images and rows."""
    return os.path.splitext(ntpath.basename(path))[0]


def save_images(webpage: html.HTML, visuals: dict[str, torch.Tensor], image_path: list[str],
                aspect_ratio: float = 1.0, width: int = 256, caption: str = '') -> None:
    """Save one input's visuals as <stem>_<label>.png and add them as a row of the page, titled stem and caption."""
    stem = image_stem(image_path[0])
    webpage.add_header(f'{stem}: {caption}' if caption else stem)
    names, labels = [], []
    for label, image in visuals.items():
        name = f'{stem}_{label}.png'
        save_image(tensor2im(image), os.path.join(webpage.get_image_dir(), name), aspect_ratio)
        names.append(name)
        labels.append(label)
    webpage.add_images(names, labels, names, width=width)


def save_curves(path: str, xs: list[float], ys: list[list[float]], names: list[str], title: str, ncols: int = 2) -> None:
    """Plot each series against (fractional) epoch in its own panel (their scales differ a lot) into a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ncols = min(len(names), ncols)
    nrows = math.ceil(len(names) / ncols)
    figure = Figure(figsize=(4 * ncols, 2.2 * nrows + 0.4), dpi=80)
    FigureCanvasAgg(figure)
    figure.suptitle(title)
    panels = figure.subplots(nrows, ncols, squeeze=False).flat
    for column, (name, axes) in enumerate(zip(names, panels)):
        axes.plot(xs, [y[column] for y in ys], color=f'C{column}', marker='.' if len(xs) < 50 else None)
        axes.set_title(name, fontsize='medium')
        axes.set_xlabel('epoch')
        axes.grid(alpha=0.3)
    for unused in panels:
        unused.set_visible(False)
    figure.tight_layout()
    figure.savefig(path)


def start_trackers(opt) -> list:
    """The trackers the flags ask for (WandbTracker, TensorBoardTracker), each imported only then; one that
    cannot start has printed its warning and is left out."""
    trackers = []
    if opt.use_wandb:
        from util.wandb_tracker import WandbTracker
        trackers.append(WandbTracker.start(opt, job_type='train'))
    if opt.tf_log:
        from util.tensorboard_tracker import TensorBoardTracker
        trackers.append(TensorBoardTracker.start(opt))
    return [tracker for tracker in trackers if tracker is not None]


class Visualizer:
    """Writes loss_log.txt, the training page under <checkpoints_dir>/<name>/web/, the visdom display and the
    trackers, with the losses and, when validation runs, its metrics and images."""

    def __init__(self, opt):
        self.opt = opt
        self.use_html = opt.isTrain and not opt.no_html
        self.win_size = opt.display_winsize
        self.name = opt.name
        self.saved = False
        self.loss_x: list[float] = []
        self.loss_y: list[list[float]] = []
        self.loss_names: list[str] = []
        self.train_labels: list[str] = []
        self.val_x: list[int] = []
        self.val_y: list[list[float]] = []
        self.val_samples: list[tuple[str, list[str], list[str]]] = []
        self.display = None
        if opt.isTrain and opt.display_id > 0:
            from util.visdom_display import VisdomDisplay
            self.display = VisdomDisplay(opt.display_server, opt.display_port, opt.display_env,
                                         opt.display_id, opt.display_ncols, opt.name)
        self.trackers = start_trackers(opt)
        if self.use_html:
            self.web_dir = os.path.join(checkpoint.experiment_dir(opt), 'web')
            self.img_dir = os.path.join(self.web_dir, 'images')
            mkdirs(self.web_dir, self.img_dir)
        self.log_name = os.path.join(checkpoint.experiment_dir(opt), 'loss_log.txt')
        with open(self.log_name, 'a') as log_file:
            log_file.write(f'================ Training Loss ({time.strftime("%c")}) ================\n')

    def reset(self) -> None:
        self.saved = False

    def display_current_results(self, visuals: dict[str, torch.Tensor], epoch: int, save_result: bool,
                                step: int) -> None:
        """Show the visuals in visdom and the trackers (at `step` images seen) and, when asked (or first in an
        epoch), save them to the training page."""
        images = {label: tensor2im(image) for label, image in visuals.items()}
        if self.display is not None:
            self.display.show_images(images)
        for tracker in self.trackers:
            tracker.log_images(step, images)
        if self.use_html and (save_result or not self.saved):
            self.saved = True
            self.train_labels = list(images)
            for label, image in images.items():
                save_image(image, os.path.join(self.img_dir, f'epoch{epoch:03d}_{label}.png'))
            self.write_training_page(epoch)

    def write_training_page(self, last_epoch: int) -> None:
        """The loss and validation curves on top, the latest validation images, then each epoch's saved visuals, newest first."""
        webpage = html.HTML(self.web_dir, f'Experiment name = {self.name}', refresh=PAGE_REFRESH_S)
        if self.loss_x:
            save_curves(os.path.join(self.img_dir, LOSS_CURVE_NAME), self.loss_x, self.loss_y,
                        self.loss_names, f'{self.name} loss over time')
            webpage.add_summary_image(LOSS_CURVE_NAME, width=640)
        if self.val_x:
            save_curves(os.path.join(self.img_dir, VAL_CURVE_NAME), self.val_x, self.val_y, VAL_NAMES[:len(self.val_y[0])],
                        f'{self.name} validation', ncols=1)
            webpage.add_summary_image(VAL_CURVE_NAME, width=320)
        for stem, names, labels in self.val_samples:
            webpage.add_header(f'validation [epoch {self.val_x[-1]}] {stem}')
            webpage.add_images(names, labels, names, width=self.win_size)
        for epoch in range(last_epoch, 0, -1):
            names = [f'epoch{epoch:03d}_{label}.png' for label in self.train_labels]
            if not all(os.path.exists(os.path.join(self.img_dir, name)) for name in names):
                continue
            webpage.add_header(f'epoch [{epoch}]')
            webpage.add_images(names, self.train_labels, names, width=self.win_size)
        webpage.save()

    def log_validation(self, result, step: int) -> None:
        """A `(val ...)` line in loss_log.txt, the validation curve and images on the page, the curve in visdom,
        the numbers and images in the trackers (at `step` images seen)."""
        metrics = {'L1': result.l1, 'PSNR': result.psnr, 'SSIM': result.ssim,
                   **({'FID': result.fid} if result.fid is not None else {})}
        message = (f'(val epoch: {result.epoch}, images: {len(result.metrics.rows)}, time: {result.seconds:.1f}) '
                   f'L1: {result.l1:.6f} PSNR: {result.psnr:.4f} SSIM: {result.ssim:.6f}'
                   + (f' FID: {result.fid:.4f}' if result.fid is not None else ''))
        tqdm.write(message)
        with open(self.log_name, 'a') as log_file:
            log_file.write(message + '\n')
        self.val_x.append(result.epoch)
        self.val_y.append(list(metrics.values()))
        if self.display is not None:
            self.display.plot_validation(np.array(self.val_x, dtype=float), np.array(self.val_y), VAL_NAMES[:len(metrics)])
        if self.trackers:
            samples = [(stem, {label: tensor2im(image) for label, image in visuals.items()})
                       for stem, visuals in result.samples]
            for tracker in self.trackers:
                tracker.log_validation(step, result.epoch, metrics, samples)
        if self.use_html:
            self.val_samples = []
            for stem, visuals in result.samples:
                names = [f'val_{stem}_{label}.png' for label in visuals]
                for name, image in zip(names, visuals.values()):
                    save_image(tensor2im(image), os.path.join(self.img_dir, name))
                self.val_samples.append((stem, names, list(visuals)))
            self.write_training_page(result.epoch)

    def plot_current_losses(self, epoch: int, counter_ratio: float, losses: dict[str, float], step: int,
                            learning_rate: float) -> None:
        """Record one point per loss at `epoch - 1 + counter_ratio` epochs done (so the end of epoch E is at E,
        where its validation point is), redraw the visdom plot, and send losses and learning rate to the trackers."""
        self.loss_names = list(losses)
        self.loss_x.append(epoch - 1 + counter_ratio)
        self.loss_y.append(list(losses.values()))
        if self.display is not None:
            self.display.plot_losses(np.array(self.loss_x), np.array(self.loss_y), self.loss_names)
        for tracker in self.trackers:
            tracker.log_losses(step, self.loss_x[-1], losses)
            tracker.log_learning_rate(step, learning_rate)

    def close(self) -> None:
        """Finish the trackers' runs and files."""
        for tracker in self.trackers:
            tracker.close()

    def log_line(self, message: str) -> None:
        """A line of its own in loss_log.txt, also printed."""
        tqdm.write(message)
        with open(self.log_name, 'a') as log_file:
            log_file.write(message + '\n')

    def print_current_losses(self, epoch: int, iters: int, losses: dict[str, float], t_comp: float, t_data: float) -> None:
        message = f'(epoch: {epoch}, iters: {iters}, time: {t_comp:.3f}, data: {t_data:.3f}) '
        message += ' '.join(f'{name}: {value:.3f}' for name, value in losses.items())
        tqdm.write(message)
        with open(self.log_name, 'a') as log_file:
            log_file.write(message + '\n')
