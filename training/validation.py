"""Validation during training: the generator on the validation images every --val_freq epochs.

It runs in eval mode (running batch-norm statistics, no dropout), without gradients and inside rng_untouched,
so a run with validation ends with the same weights as one without. Every rank validates the same images (so
that any collective a DDP forward makes is matched) and rank 0's numbers decide, for all, the best checkpoint
and the plateau schedule. With --val_metric fid, rank 0 also scores FID, the validation images' own Inception
features computed at the first validation and kept for the rest of the run.
"""
import copy
import os
import time
from dataclasses import dataclass

import torch
from torch.utils.data import default_collate

from data import find_dataset_using_name
from util import distributed
from util.errors import UserError
from util.hardware import select_device
from util.metrics import InceptionFeatures, ResultMetrics, SetScores
from util.rng import rng_untouched
from util.visualizer import image_stem

SHOWN_IMAGES = 3


@dataclass
class ValidationResult:
    epoch: int
    metrics: ResultMetrics
    samples: list[tuple[str, dict[str, torch.Tensor]]]
    l1: float
    psnr: float
    ssim: float
    fid: float | None
    seconds: float


def default_folder(opt) -> str | None:
    """<dataroot>/val, or for label maps <dataroot> itself when it holds val_label/; None when absent."""
    labeled = opt.dataset_mode == 'labeled'
    folder = opt.dataroot if labeled else os.path.join(opt.dataroot, 'val')
    return folder if os.path.isdir(os.path.join(opt.dataroot, 'val_label' if labeled else 'val')) else None


class Validation:
    """The validation images, read by the --dataset_mode of training (aligned A|B images, colour photos for
    colorization, label maps with val_label/ for labeled) and preprocessed as test.py does (resized to --crop_size,
    never flipped)."""

    def __init__(self, opt, folder: str):
        self.opt = opt
        val_opt = copy.copy(opt)
        val_opt.phase, val_opt.load_size, val_opt.no_flip = 'val', opt.crop_size, True
        val_opt.max_dataset_size, val_opt.cache_dataset = opt.num_val, False
        self.dataset = find_dataset_using_name(opt.dataset_mode)(val_opt, folder)
        self.folder = folder
        self.inception: InceptionFeatures | None = None
        self.real_features = None
        if opt.val_metric == 'fid':
            if len(self.dataset) < 2:
                raise UserError(f'--val_metric fid needs at least 2 validation images and {folder} has '
                                f'{len(self.dataset)}; add images or choose --val_metric l1')
            if distributed.is_main_process():
                self.inception = InceptionFeatures(opt.fid_weights, select_device(distributed.rank_gpu_ids(opt.gpu_ids)))

    @classmethod
    def create(cls, opt) -> 'Validation | None':
        """Validation on --val_dataroot, else on <dataroot>/val (label maps: <dataroot>/val_label/...) when it exists;
        None when there is none or --val_freq 0."""
        if opt.val_freq <= 0 or opt.num_val <= 0:
            return None
        if opt.val_dataroot is None:
            folder = default_folder(opt)
            return cls(opt, folder) if folder else None
        if not os.path.isdir(opt.val_dataroot):
            raise UserError(f'--val_dataroot {opt.val_dataroot} is not a folder; give a folder of validation images as '
                            '--dataset_mode reads them (A|B pairs; colour photos for colorization; for labeled, the folder holding '
                            'val_label/), or leave the flag out')
        return cls(opt, opt.val_dataroot)

    def due(self, epoch: int) -> bool:
        return epoch % self.opt.val_freq == 0

    def run(self, model, epoch: int) -> ValidationResult:
        """Mean L1, PSNR and SSIM (and FID with --val_metric fid) of G on the validation images, and the first few
        results to show."""
        start = time.perf_counter()
        metrics = ResultMetrics(SetScores(self.inception, self.real_features) if self.inception else None)
        samples = []
        with rng_untouched():
            model.eval()
            for index in range(len(self.dataset)):
                model.set_input(default_collate([self.dataset[index]]))
                model.test()
                visuals = model.get_current_visuals()
                stem = image_stem(model.get_image_paths()[0])
                metrics.add(stem, visuals)
                if index < SHOWN_IMAGES:
                    samples.append((stem, {label: image.detach().cpu() for label, image in visuals.items()}))
            model.train()
        fid = None
        if self.inception:
            fid = metrics.set_distances()['fid']
            self.real_features = metrics.set_scores.real_features()
        l1, psnr, ssim, fid = distributed.broadcast_from_main((*metrics.means(), fid))
        return ValidationResult(epoch, metrics, samples, l1, psnr, ssim, fid, time.perf_counter() - start)
