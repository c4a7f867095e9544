"""Colour photos for colorization (--dataset_mode colorization): A is the lightness L, B the colour ab, in CIE Lab."""
import argparse
import os
import random
import sys

import torchvision.transforms as transforms
from PIL import Image

from data.base_dataset import BaseDataset, check_crop_fits, get_params, image_size, resize_crop_flip
from util.errors import UserError
from util.image_io import with_channels
from util.lab import rgb_array, rgb_to_lab

GREY_MODES = ('1', 'L', 'LA', 'I', 'I;16', 'I;16B', 'I;16L', 'F')


def check_colorization_flags(opt) -> None:
    """Colorization maps L (1 channel) to ab (2 channels), A to B."""
    if (opt.input_nc, opt.output_nc, opt.direction) != (1, 2, 'AtoB'):
        raise UserError(f'colorization maps the lightness L (1 channel) to the colour ab (2 channels): got --input_nc '
                        f'{opt.input_nc} --output_nc {opt.output_nc} --direction {opt.direction}; leave these flags '
                        'at their colorization defaults (1, 2, AtoB)')


def stored_as_grey(path: str) -> bool:
    """Whether the file's header says it holds one grey channel (read without decoding the pixels)."""
    try:
        with Image.open(path) as image:
            return image.mode in GREY_MODES
    except (OSError, SyntaxError, ValueError):
        return False  # left for loading to report, or for --skip_bad_images


class ColorizationDataset(BaseDataset):
    """Reads the photos under <dataroot>/<phase>; each is cropped and flipped as --preprocess says, then converted
    to Lab with scikit-image: A = L / 50 - 1, B = ab / 110.

    Files stored as grey have no colour to learn: training leaves them out with one note. test.py keeps them and
    colorizes them; they have no ground truth, so they get no metrics (has_colour is False for them)."""

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        parser.set_defaults(input_nc=1, output_nc=2, direction='AtoB')
        return parser

    def __init__(self, opt, folder: str | None = None):
        super().__init__(opt)
        check_colorization_flags(opt)
        self.folder = folder or os.path.join(opt.dataroot, opt.phase)
        self.paths = self.find_images(self.folder)
        if opt.isTrain:
            self.paths = self.colour_images(self.paths)
        self.cache_images(self.paths)

    def colour_images(self, paths: list[str]) -> list[str]:
        """The paths not stored as grey; the others are reported in one line and left out."""
        grey = [path for path in paths if stored_as_grey(path)]
        if len(grey) == len(paths):
            raise UserError(f'{self.folder} holds only grey images ({len(grey)}); colorization learns colour from '
                            'colour photos: give a folder of RGB images')
        if grey:
            print(f'note: leaving out {len(grey)} grey image(s) of {self.folder}, which have no colour to learn '
                  f'(first: {grey[0]})', file=sys.stderr)
        grey_set = set(grey)
        return [path for path in paths if path not in grey_set]

    def load_item(self, index: int, rng: random.Random) -> dict:
        path = self.paths[index]
        image = with_channels(self.load_image(path), 3, path)
        check_crop_fits(self.opt, image_size(image), path)
        params = get_params(self.opt, image_size(image), rng)
        image = transforms.Compose(resize_crop_flip(self.opt, params))(image)
        rgb = rgb_array(image)
        lightness, ab = rgb_to_lab(rgb)
        has_colour = bool((rgb.max(axis=2) != rgb.min(axis=2)).any())
        return {'A': lightness, 'B': ab, 'A_paths': path, 'B_paths': path, 'has_colour': has_colour}

    def __len__(self) -> int:
        return len(self.paths)
