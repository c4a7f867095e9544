"""Datasets found by name: --dataset_mode X loads class XDataset from data/X_dataset.py, and the loader around them.

Also here: the shared preprocessing (base_dataset), finding image files (image_folder), the epoch order (sampler)
and label colours found in a training set (palette)."""
import os
import random
import signal

import torch.utils.data

from data.base_dataset import BaseDataset
from data.sampler import EpochSampler
from util import distributed
from util.errors import UserError
from util.registry import find_class

# What the main process answers (training.interrupt): stop (INT, TERM, HUP) and save (USR1). Loader workers ignore them.
MAIN_PROCESS_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1)


def find_dataset_using_name(dataset_name: str) -> type[BaseDataset]:
    return find_class('data', os.path.dirname(__file__), 'dataset', dataset_name, BaseDataset, '--dataset_mode')


def get_option_setter(dataset_name: str):
    return find_dataset_using_name(dataset_name).modify_commandline_options


def create_dataset(opt) -> 'CustomDatasetDataLoader':
    """Build the dataset named by --dataset_mode wrapped in a multi-worker loader."""
    if not os.path.isdir(opt.dataroot):
        raise UserError(f'--dataroot {opt.dataroot} is not a folder; give the dataset folder (download one with '
                        'datasets/download_pix2pix_dataset.sh)')
    dataset = find_dataset_using_name(opt.dataset_mode)(opt)
    print(f'dataset [{type(dataset).__name__}] was created')
    return CustomDatasetDataLoader(dataset, opt)


class CustomDatasetDataLoader:
    """Wraps a dataset in a DataLoader whose sampler yields (epoch, index) keys; under torchrun, this rank's shard."""

    def __init__(self, dataset: BaseDataset, opt):
        self.opt = opt
        self.dataset = dataset
        seed = opt.seed if opt.seed is not None else random.randrange(2 ** 31)
        self.sampler = EpochSampler(len(dataset), seed, shuffle=not opt.serial_batches,
                                    rank=distributed.get_rank(), world_size=distributed.get_world_size())
        self.dataset.seed = seed
        self.generator = torch.Generator()
        workers = int(opt.num_threads)
        self.dataloader = torch.utils.data.DataLoader(
            self.dataset,
            batch_size=opt.batch_size,
            sampler=self.sampler,
            num_workers=workers,
            pin_memory=bool(opt.gpu_ids) and torch.cuda.is_available(),
            persistent_workers=opt.cache_dataset and workers > 0,
            generator=self.generator,
            worker_init_fn=leave_signals_to_main_process,
        )

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Fix this epoch's order; a resumed run starts `start` samples into this rank's share."""
        self.generator.manual_seed(self.sampler.seed + epoch)
        self.sampler.set_epoch(epoch, start)

    def state_dict(self) -> dict:
        """What decides the data order and the augmentation, for the training-state file."""
        return {'seed': self.sampler.seed, 'shuffle': self.sampler.shuffle}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.seed = self.dataset.seed = state['seed']

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        return iter(self.dataloader)


def leave_signals_to_main_process(worker_id: int) -> None:
    """Loader workers ignore stop and save signals sent to the whole process group (Ctrl-C, timeout, Slurm):
    the main process saves a checkpoint and then shuts them down."""
    for signum in MAIN_PROCESS_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
