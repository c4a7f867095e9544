"""A buffer of past generated images, so D sees a history of G's outputs (Shrivastava et al.)."""
import random

import torch


class ImagePool:
    def __init__(self, pool_size: int):
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Return a batch in which each image is, with probability 1/2 once full, swapped for a stored one."""
        if self.pool_size == 0:
            return images
        chosen = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image)
                chosen.append(image)
            elif random.random() > 0.5:
                index = random.randrange(self.pool_size)
                chosen.append(self.images[index].clone())
                self.images[index] = image
            else:
                chosen.append(image)
        return torch.cat(chosen, 0)
