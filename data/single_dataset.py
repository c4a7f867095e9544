"""Unpaired single images, for running a generator one way (--model test)."""
from PIL import Image

from data.base_dataset import BaseDataset, get_transform
from data.image_folder import make_dataset


class SingleDataset(BaseDataset):
    """Reads every image under --dataroot."""

    def __init__(self, opt):
        super().__init__(opt)
        self.A_paths = make_dataset(opt.dataroot, opt.max_dataset_size)
        input_nc = opt.output_nc if opt.direction == 'BtoA' else opt.input_nc
        self.transform = get_transform(opt, grayscale=input_nc == 1)

    def __getitem__(self, index: int) -> dict:
        path = self.A_paths[index]
        return {'A': self.transform(Image.open(path).convert('RGB')), 'A_paths': path}

    def __len__(self) -> int:
        return len(self.A_paths)
