"""Tensor-to-image and the one function that saves images."""
import os

import numpy as np
import torch
from PIL import Image

from util.image_io import to_array, write_image


def tensor2im(image: torch.Tensor, imtype: type = np.uint8) -> np.ndarray:
    """First image of a batch in [-1, 1] as an HxWxC array of `imtype`, gray repeated to RGB (as the reference shows it)."""
    array = to_array(image[0], imtype)
    return np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array


def save_image(image: np.ndarray, path: str, aspect_ratio: float = 1.0) -> None:
    """Save an HxWxC uint8 or uint16 array, stretching width (ratio > 1) or height (ratio < 1) for 8-bit images."""
    height, width = image.shape[:2]
    if aspect_ratio != 1.0 and image.dtype == np.uint8:
        size = (int(width * aspect_ratio), height) if aspect_ratio > 1.0 else (width, int(height / aspect_ratio))
        image = np.asarray(Image.fromarray(image.squeeze(2) if image.shape[2] == 1 else image).resize(size, Image.BICUBIC))
    write_image(image, path)


def mkdirs(*paths: str) -> None:
    for path in paths:
        os.makedirs(path, exist_ok=True)
