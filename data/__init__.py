"""Datasets found by name: --dataset_mode X loads class XDataset from data/X_dataset.py."""
import os
import random
import signal

import torch.utils.data

from data.base_dataset import BaseDataset
from data.sampler import EpochSampler
from util import distributed
from util.errors import UserError
from util.registry import find_class


def find_dataset_using_name(dataset_name: str) -> type[BaseDataset]:
    return find_class('data', os.path.dirname(__file__), 'dataset', dataset_name, BaseDataset, '--dataset_mode')


def get_option_setter(dataset_name: str):
    return find_dataset_using_name(dataset_name).modify_commandline_options


def create_dataset(opt) -> 'CustomDatasetDataLoader':
    """Build the dataset named by --dataset_mode wrapped in a multi-worker loader."""
    return CustomDatasetDataLoader(opt)


class CustomDatasetDataLoader:
    """Wraps a dataset in a DataLoader and caps the number of samples at --max_dataset_size."""

    def __init__(self, opt):
        self.opt = opt
        if not os.path.isdir(opt.dataroot):
            raise UserError(f'--dataroot {opt.dataroot} is not a folder; give the dataset folder (download one with '
                            'datasets/download_pix2pix_dataset.sh)')
        self.dataset = find_dataset_using_name(opt.dataset_mode)(opt)
        print(f'dataset [{type(self.dataset).__name__}] was created')
        self.sampler = make_distributed_sampler(self.dataset, opt)
        if self.sampler is None:
            seed = opt.seed if opt.seed is not None else random.randrange(2 ** 31)
            self.sampler = EpochSampler(len(self.dataset), seed, shuffle=not opt.serial_batches)
        self.generator = torch.Generator()
        workers = int(opt.num_threads)
        self.dataloader = torch.utils.data.DataLoader(
            self.dataset,
            batch_size=opt.batch_size,
            shuffle=not opt.serial_batches and self.sampler is None,
            sampler=self.sampler,
            num_workers=workers,
            pin_memory=bool(opt.gpu_ids) and torch.cuda.is_available(),
            persistent_workers=opt.cache_dataset and workers > 0,
            generator=self.generator,
            worker_init_fn=ignore_interrupts,
        )

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Fix this epoch's order and worker seeds; a resumed run starts `start` samples in (single process)."""
        self.generator.manual_seed(self.sampler.seed + epoch)
        if isinstance(self.sampler, EpochSampler):
            self.sampler.set_epoch(epoch, start)
        else:
            self.sampler.set_epoch(epoch)

    def state_dict(self) -> dict:
        """What decides the data order, for the training-state file."""
        return {'seed': self.sampler.seed, 'shuffle': bool(getattr(self.sampler, 'shuffle', True))}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.seed = state['seed']

    def load_data(self) -> 'CustomDatasetDataLoader':
        return self

    def __len__(self) -> int:
        size = len(self.sampler) if self.sampler is not None else len(self.dataset)
        return int(min(size, self.opt.max_dataset_size))

    def __iter__(self):
        try:
            for i, batch in enumerate(self.dataloader):
                if i * self.opt.batch_size >= self.opt.max_dataset_size:
                    break
                yield batch
        except UserError as err:
            raise UserError(last_line_of_worker_error(str(err))) from None


def ignore_interrupts(worker_id: int) -> None:
    """Loader workers leave Ctrl-C to the main process, which saves a checkpoint and stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def last_line_of_worker_error(message: str) -> str:
    """A UserError raised in a loader worker comes back wrapped in its traceback; keep the message alone."""
    return message.strip().splitlines()[-1].removeprefix(f'{UserError.__module__}.{UserError.__name__}: ')


def make_distributed_sampler(dataset: BaseDataset, opt) -> torch.utils.data.DistributedSampler | None:
    """Under torchrun each rank reads its own shard of every epoch's order; None in a single-process run."""
    if not distributed.is_distributed():
        return None
    return torch.utils.data.DistributedSampler(dataset, shuffle=not opt.serial_batches, seed=opt.seed or 0)
