"""Base class of datasets and the shared preprocessing (resize, crop, flip, normalize)."""
import argparse
import random
import sys
from abc import ABC, abstractmethod

import numpy as np
import torch.utils.data as data
import torchvision.transforms as transforms
import torchvision.transforms.functional as TF
from PIL import Image

from data.image_folder import make_dataset
from util.errors import UserError


class BaseDataset(data.Dataset, ABC):
    """Subclasses provide __len__, __getitem__ and, optionally, modify_commandline_options."""

    def __init__(self, opt):
        self.opt = opt
        self.root = opt.dataroot
        self.image_cache: dict[str, Image.Image] = {}

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
            self.image_cache = {path: read_rgb(path) for path in paths}

    def load_rgb(self, path: str) -> Image.Image:
        cached = self.image_cache.get(path)
        return cached if cached is not None else read_rgb(path)

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __getitem__(self, index: int) -> dict: ...


def read_rgb(path: str) -> Image.Image:
    """Decode any image as 8-bit RGB (gray, RGBA, palette and 16-bit too); an unreadable file is a UserError."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ('I', 'I;16', 'I;16B', 'I;16L', 'I;16N'):
                image = Image.fromarray((np.asarray(image, dtype=np.float64) / 257.0).round().clip(0, 255).astype(np.uint8))
            return image.convert('RGB')
    except (OSError, SyntaxError, ValueError) as err:
        raise UserError(f'image {path} cannot be read ({err}); replace or remove it, or pass --skip_bad_images') from err


def readable_images(paths: list[str]) -> list[str]:
    """The paths that decode; each one that does not is reported on stderr and left out."""
    kept = []
    for path in paths:
        try:
            read_rgb(path)
            kept.append(path)
        except UserError as err:
            print(f'warning: skipping {path}: {err.__cause__}', file=sys.stderr)
    return kept


def check_crop_fits(opt, size: tuple[int, int], path: str) -> None:
    """With a crop but no resize to --load_size, an image smaller than --crop_size cannot be cropped."""
    w, h = size
    if opt.preprocess == 'crop' and min(w, h) < opt.crop_size:
        raise UserError(f'image {path} is {w}x{h}, smaller than --crop_size {opt.crop_size}; lower --crop_size '
                        'or use --preprocess resize_and_crop')


def get_params(opt, size: tuple[int, int]) -> dict:
    """Draw one crop position and flip, to apply identically to paired images of `size` (w, h)."""
    w, h = size
    new_w, new_h = w, h
    if opt.preprocess == 'resize_and_crop':
        new_w = new_h = opt.load_size
    elif opt.preprocess == 'scale_width_and_crop':
        new_w, new_h = opt.load_size, opt.load_size * h // w
    x = random.randint(0, max(0, new_w - opt.crop_size))
    y = random.randint(0, max(0, new_h - opt.crop_size))
    return {'crop_pos': (x, y), 'flip': random.random() > 0.5}


def get_transform(opt, params: dict | None = None, grayscale: bool = False,
                  method=transforms.InterpolationMode.BICUBIC, convert: bool = True) -> transforms.Compose:
    """Preprocessing chosen by --preprocess; with `params` the crop and flip are fixed, else random."""
    steps = []
    if grayscale:
        steps.append(transforms.Grayscale(1))
    if 'resize' in opt.preprocess:
        steps.append(transforms.Resize([opt.load_size, opt.load_size], interpolation=method))
    elif 'scale_width' in opt.preprocess:
        steps.append(transforms.Lambda(lambda img: scale_width(img, opt.load_size, opt.crop_size, method)))
    if 'crop' in opt.preprocess:
        if params is None:
            steps.append(transforms.RandomCrop(opt.crop_size))
        else:
            steps.append(transforms.Lambda(lambda img: crop(img, params['crop_pos'], opt.crop_size)))
    if opt.preprocess == 'none':
        steps.append(transforms.Lambda(lambda img: make_power_2(img, base=4, method=method)))
    if not opt.no_flip:
        if params is None:
            steps.append(transforms.RandomHorizontalFlip())
        elif params['flip']:
            steps.append(transforms.Lambda(TF.hflip))
    if convert:
        channels = 1 if grayscale else 3
        steps += [transforms.ToTensor(), transforms.Normalize((0.5,) * channels, (0.5,) * channels)]
    return transforms.Compose(steps)


def make_power_2(img: Image.Image, base: int, method=transforms.InterpolationMode.BICUBIC) -> Image.Image:
    """Round both sides to a multiple of `base`, so every down/up-sampling step is exact."""
    w, h = img.size
    new_w, new_h = max(base, round(w / base) * base), max(base, round(h / base) * base)
    if (new_w, new_h) == (w, h):
        return img
    return TF.resize(img, [new_h, new_w], interpolation=method)


def scale_width(img: Image.Image, target_size: int, crop_size: int, method=transforms.InterpolationMode.BICUBIC) -> Image.Image:
    """Scale to width `target_size` keeping the aspect ratio, height at least `crop_size`."""
    w, h = img.size
    if w == target_size and h >= crop_size:
        return img
    new_h = int(max(target_size * h / w, crop_size))
    return TF.resize(img, [new_h, target_size], interpolation=method)


def crop(img: Image.Image, pos: tuple[int, int], size: int) -> Image.Image:
    x, y = pos
    w, h = img.size
    if w > size or h > size:
        return img.crop((x, y, x + size, y + size))
    return img
