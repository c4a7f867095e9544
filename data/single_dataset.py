"""Unpaired single images, for running a generator one way (--model test)."""
import random

from data.base_dataset import BaseDataset, check_crop_fits, get_params, get_transform, image_size
from util.image_io import with_channels


class SingleDataset(BaseDataset):
    """Reads every image under --dataroot."""

    def __init__(self, opt):
        super().__init__(opt)
        self.A_paths = self.find_images(opt.dataroot)
        self.cache_images(self.A_paths)
        self.input_nc = opt.output_nc if opt.direction == 'BtoA' else opt.input_nc

    def load_item(self, index: int, rng: random.Random) -> dict:
        path = self.A_paths[index]
        image = with_channels(self.load_image(path), self.input_nc, path)
        check_crop_fits(self.opt, image_size(image), path)
        params = get_params(self.opt, image_size(image), rng)
        return {'A': get_transform(self.opt, params, self.input_nc)(image), 'A_paths': path}

    def __len__(self) -> int:
        return len(self.A_paths)
