"""Base class of datasets and the shared preprocessing (resize, crop, flip, normalize)."""
import argparse
import random
from abc import ABC, abstractmethod

import torch.utils.data as data
import torchvision.transforms as transforms
import torchvision.transforms.functional as TF
from PIL import Image


class BaseDataset(data.Dataset, ABC):
    """Subclasses provide __len__, __getitem__ and, optionally, modify_commandline_options."""

    def __init__(self, opt):
        self.opt = opt
        self.root = opt.dataroot

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return parser

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __getitem__(self, index: int) -> dict: ...


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
