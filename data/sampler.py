"""The order in which one epoch visits the dataset: a pure function of (length, seed, epoch, rank, world size)."""
import math

import torch
import torch.utils.data


class EpochSampler(torch.utils.data.Sampler[tuple[int, int]]):
    """(epoch, index) keys, shuffled by (seed, epoch) unless shuffle is off.

    Under torchrun each rank takes every world_size-th index of the order, padded by repeating its start so that
    every rank gets as many; `start` skips this rank's first keys when a run resumes mid-epoch."""

    def __init__(self, length: int, seed: int, shuffle: bool = True, rank: int = 0, world_size: int = 1):
        self.length = length
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch = epoch
        self.start = start

    def order(self) -> list[int]:
        """This rank's indices for the whole epoch, the same in every run with this seed."""
        if self.shuffle:
            indices = torch.randperm(self.length, generator=torch.Generator().manual_seed(self.seed + self.epoch)).tolist()
        else:
            indices = list(range(self.length))
        total = len(self) * self.world_size
        indices += (indices * math.ceil(total / self.length))[:total - self.length]
        return indices[self.rank::self.world_size]

    def __iter__(self):
        return iter([(self.epoch, index) for index in self.order()[self.start:]])

    def __len__(self) -> int:
        return math.ceil(self.length / self.world_size)
