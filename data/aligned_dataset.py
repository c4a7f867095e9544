"""Paired images stored side by side: each file holds A on the left half and B on the right."""
import os

from data.base_dataset import BaseDataset, check_crop_fits, get_params, get_transform
from util.errors import UserError


class AlignedDataset(BaseDataset):
    """Reads <dataroot>/<phase>/*; the same crop and flip are applied to A and B."""

    def __init__(self, opt):
        super().__init__(opt)
        self.dir_AB = os.path.join(opt.dataroot, opt.phase)
        self.AB_paths = self.find_images(self.dir_AB)
        self.cache_images(self.AB_paths)
        if opt.load_size < opt.crop_size:
            raise UserError(f'--load_size {opt.load_size} is smaller than --crop_size {opt.crop_size}; make load_size >= crop_size')
        self.input_nc = opt.output_nc if opt.direction == 'BtoA' else opt.input_nc
        self.output_nc = opt.input_nc if opt.direction == 'BtoA' else opt.output_nc

    def __getitem__(self, index: int) -> dict:
        path = self.AB_paths[index]
        AB = self.load_rgb(path)
        w, h = AB.size
        if w % 2:
            raise UserError(f'image {path} is {w} pixels wide, an odd number, so it is not A and B side by side; '
                            'combine pairs with datasets/combine_A_and_B.py, or use --dataset_mode single')
        half = w // 2
        check_crop_fits(self.opt, (half, h), path)
        A = AB.crop((0, 0, half, h))
        B = AB.crop((half, 0, w, h))
        params = get_params(self.opt, A.size)
        A = get_transform(self.opt, params, grayscale=self.input_nc == 1)(A)
        B = get_transform(self.opt, params, grayscale=self.output_nc == 1)(B)
        return {'A': A, 'B': B, 'A_paths': path, 'B_paths': path}

    def __len__(self) -> int:
        return len(self.AB_paths)
