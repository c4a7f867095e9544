"""Datasets found by name: --dataset_mode X loads class XDataset from data/X_dataset.py."""
import importlib
import os

import torch.utils.data

from data.base_dataset import BaseDataset
from util.errors import UserError


def available_dataset_modes() -> list[str]:
    folder = os.path.dirname(__file__)
    return sorted(name[:-len('_dataset.py')] for name in os.listdir(folder)
                  if name.endswith('_dataset.py') and name != 'base_dataset.py')


def find_dataset_using_name(dataset_name: str) -> type[BaseDataset]:
    if dataset_name not in available_dataset_modes():
        raise UserError(f'--dataset_mode {dataset_name!r} is unknown; choose one of: {", ".join(available_dataset_modes())}')
    module = importlib.import_module(f'data.{dataset_name}_dataset')
    class_name = dataset_name.replace('_', '') + 'dataset'
    for name, cls in vars(module).items():
        if name.lower() == class_name and isinstance(cls, type) and issubclass(cls, BaseDataset):
            return cls
    raise UserError(f'data/{dataset_name}_dataset.py must define a BaseDataset subclass named {class_name} (any case)')


def get_option_setter(dataset_name: str):
    return find_dataset_using_name(dataset_name).modify_commandline_options


def create_dataset(opt) -> 'CustomDatasetDataLoader':
    """Build the dataset named by --dataset_mode wrapped in a multi-worker loader."""
    return CustomDatasetDataLoader(opt)


class CustomDatasetDataLoader:
    """Wraps a dataset in a DataLoader and caps the number of samples at --max_dataset_size."""

    def __init__(self, opt):
        self.opt = opt
        self.dataset = find_dataset_using_name(opt.dataset_mode)(opt)
        print(f'dataset [{type(self.dataset).__name__}] was created')
        self.dataloader = torch.utils.data.DataLoader(
            self.dataset,
            batch_size=opt.batch_size,
            shuffle=not opt.serial_batches,
            num_workers=int(opt.num_threads),
        )

    def load_data(self) -> 'CustomDatasetDataLoader':
        return self

    def __len__(self) -> int:
        return int(min(len(self.dataset), self.opt.max_dataset_size))

    def __iter__(self):
        for i, batch in enumerate(self.dataloader):
            if i * self.opt.batch_size >= self.opt.max_dataset_size:
                break
            yield batch
