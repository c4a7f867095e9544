"""Paired images stored side by side: each file holds A on the left half and B on the right."""
import os

from PIL import Image

from data.base_dataset import BaseDataset, get_params, get_transform
from data.image_folder import make_dataset
from util.errors import UserError


class AlignedDataset(BaseDataset):
    """Reads <dataroot>/<phase>/*; the same crop and flip are applied to A and B."""

    def __init__(self, opt):
        super().__init__(opt)
        self.dir_AB = os.path.join(opt.dataroot, opt.phase)
        self.AB_paths = make_dataset(self.dir_AB, opt.max_dataset_size)
        if opt.load_size < opt.crop_size:
            raise UserError(f'--load_size {opt.load_size} is smaller than --crop_size {opt.crop_size}; make load_size >= crop_size')
        self.input_nc = opt.output_nc if opt.direction == 'BtoA' else opt.input_nc
        self.output_nc = opt.input_nc if opt.direction == 'BtoA' else opt.output_nc

    def __getitem__(self, index: int) -> dict:
        path = self.AB_paths[index]
        AB = Image.open(path).convert('RGB')
        w, h = AB.size
        half = w // 2
        A = AB.crop((0, 0, half, h))
        B = AB.crop((half, 0, w, h))
        params = get_params(self.opt, A.size)
        A = get_transform(self.opt, params, grayscale=self.input_nc == 1)(A)
        B = get_transform(self.opt, params, grayscale=self.output_nc == 1)(B)
        return {'A': A, 'B': B, 'A_paths': path, 'B_paths': path}

    def __len__(self) -> int:
        return len(self.AB_paths)
