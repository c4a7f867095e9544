"""Shows training progress: loss log, training HTML page, live visdom display; saves test results."""
import ntpath
import os
import sys
import time

import numpy as np
import torch

from util import html
from util.util import mkdirs, save_image, tensor2im


def save_images(webpage: html.HTML, visuals: dict[str, torch.Tensor], image_path: list[str],
                aspect_ratio: float = 1.0, width: int = 256) -> None:
    """Save one input's visuals as <stem>_<label>.png and add them as a row of the page."""
    stem = os.path.splitext(ntpath.basename(image_path[0]))[0]
    webpage.add_header(stem)
    names, labels = [], []
    for label, image in visuals.items():
        name = f'{stem}_{label}.png'
        save_image(tensor2im(image), os.path.join(webpage.get_image_dir(), name), aspect_ratio)
        names.append(name)
        labels.append(label)
    webpage.add_images(names, labels, names, width=width)


class Visualizer:
    """Writes loss_log.txt, the training page under <checkpoints_dir>/<name>/web/, and the visdom display."""

    def __init__(self, opt):
        self.opt = opt
        self.display_id = opt.display_id if opt.isTrain else 0
        self.use_html = opt.isTrain and not opt.no_html
        self.win_size = opt.display_winsize
        self.name = opt.name
        self.saved = False
        self.vis = None
        if self.display_id > 0:
            self.connect_visdom()
        if self.use_html:
            self.web_dir = os.path.join(opt.checkpoints_dir, opt.name, 'web')
            self.img_dir = os.path.join(self.web_dir, 'images')
            mkdirs(self.web_dir, self.img_dir)
        self.log_name = os.path.join(opt.checkpoints_dir, opt.name, 'loss_log.txt')
        with open(self.log_name, 'a') as log_file:
            log_file.write(f'================ Training Loss ({time.strftime("%c")}) ================\n')

    def connect_visdom(self) -> None:
        import visdom
        self.vis = visdom.Visdom(server=self.opt.display_server, port=self.opt.display_port,
                                 env=self.opt.display_env, raise_exceptions=False)
        if not self.vis.check_connection():
            print(f'warning: no visdom server at {self.opt.display_server}:{self.opt.display_port}; '
                  f'start one with `python -m visdom.server -p {self.opt.display_port}`. Training goes on.',
                  file=sys.stderr)
            self.vis = None

    def reset(self) -> None:
        self.saved = False

    def display_current_results(self, visuals: dict[str, torch.Tensor], epoch: int, save_result: bool) -> None:
        """Show the visuals in visdom and, when asked, save them to the training page."""
        if self.vis is not None:
            images = [tensor2im(image).transpose([2, 0, 1]) for image in visuals.values()]
            self.vis.images(images, nrow=max(self.opt.display_ncols, 1), win=self.display_id + 1,
                            opts=dict(title=self.name + ' images'))
        if self.use_html and (save_result or not self.saved):
            self.saved = True
            for label, image in visuals.items():
                save_image(tensor2im(image), os.path.join(self.img_dir, f'epoch{epoch:03d}_{label}.png'))
            self.write_training_page(epoch, list(visuals))

    def write_training_page(self, last_epoch: int, labels: list[str]) -> None:
        webpage = html.HTML(self.web_dir, f'Experiment name = {self.name}', refresh=1)
        for epoch in range(last_epoch, 0, -1):
            names = [f'epoch{epoch:03d}_{label}.png' for label in labels]
            if not all(os.path.exists(os.path.join(self.img_dir, name)) for name in names):
                continue
            webpage.add_header(f'epoch [{epoch}]')
            webpage.add_images(names, labels, names, width=self.win_size)
        webpage.save()

    def plot_current_losses(self, epoch: int, counter_ratio: float, losses: dict[str, float]) -> None:
        """Append a point per loss to the visdom line plot."""
        if self.vis is None:
            return
        x = np.array([[epoch + counter_ratio] * len(losses)])
        y = np.array([list(losses.values())])
        self.vis.line(X=x, Y=y, win=self.display_id, update='append',
                      opts=dict(title=self.name + ' loss over time', legend=list(losses), xlabel='epoch', ylabel='loss'))

    def print_current_losses(self, epoch: int, iters: int, losses: dict[str, float], t_comp: float, t_data: float) -> None:
        message = f'(epoch: {epoch}, iters: {iters}, time: {t_comp:.3f}, data: {t_data:.3f}) '
        message += ' '.join(f'{name}: {value:.3f}' for name, value in losses.items())
        print(message)
        with open(self.log_name, 'a') as log_file:
            log_file.write(message + '\n')
