"""Paired images stored side by side: each file holds A on the left half and B on the right."""
import os
import random

from data.base_dataset import BaseDataset, check_crop_fits, check_load_size, get_params, get_transform, image_size, split_halves
from util.errors import UserError
from util.image_io import with_channels


class AlignedDataset(BaseDataset):
    """Reads <dataroot>/<phase>/*; the same crop and flip are applied to A and B."""

    def __init__(self, opt, folder: str | None = None):
        super().__init__(opt)
        self.dir_AB = folder or os.path.join(opt.dataroot, opt.phase)
        self.AB_paths = self.find_images(self.dir_AB)
        self.cache_images(self.AB_paths)
        check_load_size(opt)
        self.input_nc = opt.output_nc if opt.direction == 'BtoA' else opt.input_nc
        self.output_nc = opt.input_nc if opt.direction == 'BtoA' else opt.output_nc

    def load_item(self, index: int, rng: random.Random) -> dict:
        path = self.AB_paths[index]
        AB = self.load_image(path)
        w, h = image_size(AB)
        if w % 2:
            raise UserError(f'image {path} is {w} pixels wide, an odd number, so it is not A and B side by side; '
                            'combine pairs with datasets/combine_A_and_B.py, or use --dataset_mode single')
        check_crop_fits(self.opt, (w // 2, h), path)
        A, B = split_halves(AB)
        params = get_params(self.opt, (w // 2, h), rng)
        A = get_transform(self.opt, params, self.input_nc)(with_channels(A, self.input_nc, path))
        B = get_transform(self.opt, params, self.output_nc)(with_channels(B, self.output_nc, path))
        return {'A': A, 'B': B, 'A_paths': path, 'B_paths': path}

    def __len__(self) -> int:
        return len(self.AB_paths)
