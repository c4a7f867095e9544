"""The order in which one epoch visits the dataset: a pure function of (length, seed, epoch)."""
import torch
import torch.utils.data


class EpochSampler(torch.utils.data.Sampler[int]):
    """Indices 0..length-1, shuffled by (seed, epoch) unless shuffle is off; `start` skips the first ones on resume."""

    def __init__(self, length: int, seed: int, shuffle: bool = True):
        self.length = length
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch = epoch
        self.start = start

    def order(self) -> list[int]:
        """The whole epoch's order, the same in every run with this seed."""
        if not self.shuffle:
            return list(range(self.length))
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return torch.randperm(self.length, generator=generator).tolist()

    def __iter__(self):
        return iter(self.order()[self.start:])

    def __len__(self) -> int:
        return self.length
