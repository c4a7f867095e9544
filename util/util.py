"""Small helpers shared by the whole project: device choice, tensor-to-image, image saving."""
import os
import random
import warnings

import numpy as np
import torch
from PIL import Image


def select_device(gpu_ids: list[int]) -> torch.device:
    """The single place that turns --gpu_ids into a device; falls back to CPU with one warning."""
    if not gpu_ids:
        return torch.device('cpu')
    if not torch.cuda.is_available():
        warnings.warn(f'--gpu_ids {",".join(map(str, gpu_ids))} asked for CUDA but none is available; running on the CPU', stacklevel=2)
        gpu_ids.clear()
        return torch.device('cpu')
    torch.cuda.set_device(gpu_ids[0])
    return torch.device('cuda', gpu_ids[0])


def tensor2im(image: torch.Tensor | np.ndarray, imtype: type = np.uint8) -> np.ndarray:
    """First image of a batch in [-1, 1] as an HxWx3 uint8 array (grayscale repeated to RGB)."""
    if isinstance(image, np.ndarray):
        return image.astype(imtype)
    array = image[0].detach().float().cpu().clamp(-1.0, 1.0).numpy()
    if array.shape[0] == 1:
        array = np.tile(array, (3, 1, 1))
    array = (np.transpose(array, (1, 2, 0)) + 1.0) / 2.0 * 255.0
    return np.round(array).astype(imtype)


def save_image(image: np.ndarray, path: str, aspect_ratio: float = 1.0) -> None:
    """Save an HxWx3 uint8 array, stretching width (ratio > 1) or height (ratio < 1)."""
    pil_image = Image.fromarray(image)
    height, width = image.shape[:2]
    if aspect_ratio > 1.0:
        pil_image = pil_image.resize((int(width * aspect_ratio), height), Image.BICUBIC)
    elif aspect_ratio < 1.0:
        pil_image = pil_image.resize((width, int(height / aspect_ratio)), Image.BICUBIC)
    pil_image.save(path)


def mkdirs(*paths: str) -> None:
    for path in paths:
        os.makedirs(path, exist_ok=True)


def seed_everything(seed: int | None) -> None:
    """Under --seed, seed python, numpy and torch and ask for deterministic algorithms (exact on CPU)."""
    if seed is None:
        return
    os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
