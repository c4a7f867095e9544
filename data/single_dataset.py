"""Unpaired single images, for running a generator one way (--model test)."""
from data.base_dataset import BaseDataset, check_crop_fits, get_transform


class SingleDataset(BaseDataset):
    """Reads every image under --dataroot."""

    def __init__(self, opt):
        super().__init__(opt)
        self.A_paths = self.find_images(opt.dataroot)
        self.cache_images(self.A_paths)
        input_nc = opt.output_nc if opt.direction == 'BtoA' else opt.input_nc
        self.transform = get_transform(opt, grayscale=input_nc == 1)

    def __getitem__(self, index: int) -> dict:
        path = self.A_paths[index]
        image = self.load_rgb(path)
        check_crop_fits(self.opt, image.size, path)
        return {'A': self.transform(image), 'A_paths': path}

    def __len__(self) -> int:
        return len(self.A_paths)
