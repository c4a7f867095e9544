"""Base class of datasets and the shared preprocessing (resize, crop, flip, normalize)."""
import argparse
import random
import sys
from abc import ABC, abstractmethod

import numpy as np
import torch
import torch.utils.data as data
import torchvision.transforms as transforms
import torchvision.transforms.functional as TF

from data.image_folder import make_dataset
from util.errors import UserError
from util.image_io import DeepOrPil, is_deep, read_image


class BaseDataset(data.Dataset, ABC):
    """Subclasses provide __len__ and load_item(index, rng), and optionally modify_commandline_options.

    Items are fetched by (epoch, index) keys from the loader's sampler (a plain index means epoch 0). `rng` is that
    sample's own generator, a function of (seed, epoch, index), so the augmentation of a sample is the same in
    whichever loader worker draws it, and a resumed run repeats it exactly whatever --num_threads is.
    """

    def __init__(self, opt):
        self.opt = opt
        self.root = opt.dataroot
        self.seed = 0
        self.image_cache: dict[str, DeepOrPil] = {}

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return parser

    def find_images(self, folder: str) -> list[str]:
        """The images under `folder`, less the unreadable ones under --skip_bad_images."""
        paths = make_dataset(folder, self.opt.max_dataset_size)
        if self.opt.skip_bad_images:
            paths = readable_images(paths)
            if not paths:
                raise UserError(f'{folder} holds no readable images; check --dataroot and --phase')
        return paths

    def cache_images(self, paths: list[str]) -> None:
        """Under --cache_dataset decode every image now, before loader workers fork and share the copies."""
        if self.opt.cache_dataset:
            self.image_cache = {path: read_image(path) for path in paths}

    def load_image(self, path: str) -> DeepOrPil:
        cached = self.image_cache.get(path)
        return cached if cached is not None else read_image(path)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        return self.load_item(index, sample_rng(self.seed, epoch, index))

    @abstractmethod
    def load_item(self, index: int, rng: random.Random) -> dict:
        """The sample at `index`, augmented with random numbers drawn from `rng` only."""

    @abstractmethod
    def __len__(self) -> int: ...


def sample_rng(seed: int, epoch: int, index: int) -> random.Random:
    """The generator of one sample's augmentation: a pure function of (seed, epoch, index), whatever process draws it."""
    return random.Random(int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0]))


def readable_images(paths: list[str]) -> list[str]:
    """The paths that decode; each one that does not is reported on stderr and left out."""
    kept = []
    for path in paths:
        try:
            read_image(path)
            kept.append(path)
        except UserError as err:
            print(f'warning: skipping {path}: {err.__cause__}', file=sys.stderr)
    return kept


def image_size(image: DeepOrPil) -> tuple[int, int]:
    """(width, height) of a PIL image or a CxHxW tensor."""
    return (image.shape[2], image.shape[1]) if is_deep(image) else image.size


def split_halves(image: DeepOrPil) -> tuple[DeepOrPil, DeepOrPil]:
    """The left and right halves of a side-by-side A|B image."""
    w, h = image_size(image)
    half = w // 2
    return TF.crop(image, 0, 0, h, half), TF.crop(image, 0, half, h, w - half)


def check_load_size(opt) -> None:
    """A resize to --load_size followed by a crop needs load_size >= crop_size (without a crop, crop_size is unused)."""
    if 'crop' in opt.preprocess and opt.preprocess != 'crop' and opt.load_size < opt.crop_size:
        raise UserError(f'--load_size {opt.load_size} is smaller than --crop_size {opt.crop_size}; make load_size >= crop_size')


def check_crop_fits(opt, size: tuple[int, int], path: str) -> None:
    """With a crop but no resize to --load_size, an image smaller than --crop_size cannot be cropped."""
    w, h = size
    if opt.preprocess == 'crop' and min(w, h) < opt.crop_size:
        raise UserError(f'image {path} is {w}x{h}, smaller than --crop_size {opt.crop_size}; lower --crop_size '
                        'or use --preprocess resize_and_crop')


def get_params(opt, size: tuple[int, int], rng: random.Random) -> dict:
    """Draw one crop position and flip from `rng`, to apply identically to paired images of `size` (w, h)."""
    w, h = size
    new_w, new_h = w, h
    if opt.preprocess == 'resize_and_crop':
        new_w = new_h = opt.load_size
    elif opt.preprocess == 'scale_width_and_crop':
        new_w, new_h = opt.load_size, opt.load_size * h // w
    x = rng.randint(0, max(0, new_w - opt.crop_size))
    y = rng.randint(0, max(0, new_h - opt.crop_size))
    return {'crop_pos': (x, y), 'flip': rng.random() > 0.5}


def get_transform(opt, params: dict, channels: int,
                  method=transforms.InterpolationMode.BICUBIC) -> transforms.Compose:
    """Preprocessing chosen by --preprocess with the crop and flip of `params`, then a tensor in [-1, 1].

    Works on PIL images and on deep (16-bit, float) tensors alike. --preprocess none keeps the image's size:
    the model pads it to what the generator needs and crops the output back."""
    steps = resize_crop_flip(opt, params, method)
    steps += [transforms.Lambda(to_tensor), transforms.Normalize((0.5,) * channels, (0.5,) * channels)]
    return transforms.Compose(steps)


def resize_crop_flip(opt, params: dict, method=transforms.InterpolationMode.BICUBIC) -> list:
    """The geometric steps of get_transform alone: resize (by `method`), crop and flip as --preprocess says."""
    steps = []
    if 'resize' in opt.preprocess:
        steps.append(transforms.Resize([opt.load_size, opt.load_size], interpolation=method))
    elif 'scale_width' in opt.preprocess:
        min_height = opt.crop_size if 'crop' in opt.preprocess else 0
        steps.append(transforms.Lambda(lambda img: scale_width(img, opt.load_size, min_height, method)))
    if 'crop' in opt.preprocess:
        steps.append(transforms.Lambda(lambda img: crop(img, params['crop_pos'], opt.crop_size)))
    if not opt.no_flip and params['flip']:
        steps.append(transforms.Lambda(TF.hflip))
    return steps


def to_tensor(image: DeepOrPil) -> torch.Tensor:
    return image if is_deep(image) else TF.to_tensor(image)


def scale_width(img: DeepOrPil, target_size: int, min_height: int, method=transforms.InterpolationMode.BICUBIC) -> DeepOrPil:
    """Scale to width `target_size` keeping the aspect ratio; stretched to `min_height` where shorter (so that a
    crop of --scale_width_and_crop fits; plain scale_width keeps the aspect ratio, as pix2pixHD's does)."""
    w, h = image_size(img)
    if w == target_size and h >= min_height:
        return img
    new_h = int(max(target_size * h / w, min_height))
    return TF.resize(img, [new_h, target_size], interpolation=method)


def crop(img: DeepOrPil, pos: tuple[int, int], size: int) -> DeepOrPil:
    x, y = pos
    w, h = image_size(img)
    if w > size or h > size:
        return TF.crop(img, y, x, size, size)
    return img
