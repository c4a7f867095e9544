"""--cache_dataset decodes every image once: later reads need no file and give the same samples."""
import os

import torch

from data import create_dataset
from options.train_options import TrainOptions
from tiny_runs import make_aligned_dataset


def load_batches(tmp_path, extra: list[str], delete_files: bool) -> list[torch.Tensor]:
    args = ['--dataroot', str(tmp_path / 'data'), '--checkpoints_dir', str(tmp_path / 'ckpt'), '--load_size', '16',
            '--crop_size', '16', '--serial_batches', '--no_flip', '--gpu_ids', '-1', '--display_id', '0', *extra]
    dataset = create_dataset(TrainOptions().parse(args))
    dataset.set_epoch(1)
    if delete_files:
        for name in os.listdir(tmp_path / 'data' / 'train'):
            os.remove(tmp_path / 'data' / 'train' / name)
    return [torch.cat((batch['A'], batch['B'])) for batch in dataset]


def test_cached_dataset_needs_no_files_after_start_and_matches_uncached(tmp_path):
    make_aligned_dataset(tmp_path / 'data', {'train': 3}, size=16, seed=2)
    from_files = load_batches(tmp_path, ['--num_threads', '0'], delete_files=False)
    from_memory = load_batches(tmp_path, ['--cache_dataset', '--num_threads', '1'], delete_files=True)
    assert len(from_memory) == len(from_files) == 3
    assert all(torch.equal(cached, read) for cached, read in zip(from_memory, from_files))
