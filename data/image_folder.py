"""Finds image files in a folder tree."""
import os

from util.errors import UserError

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.tif', '.tiff', '.webp')


def is_image_file(filename: str) -> bool:
    return filename.lower().endswith(IMG_EXTENSIONS)


def make_dataset(folder: str, max_dataset_size: float = float('inf')) -> list[str]:
    """Sorted image paths under `folder`, at most `max_dataset_size` of them."""
    if not os.path.isdir(folder):
        raise UserError(f'{folder} is not a folder; check --dataroot and --phase')
    images = sorted([os.path.join(root, name) for root, _, names in os.walk(folder, followlinks=True)
                     for name in names if name.lower().endswith(IMG_EXTENSIONS)])  # is_image_file, inlined: one call per folder
    if not images:
        raise UserError(f'{folder} holds no images ({", ".join(IMG_EXTENSIONS)}); check --dataroot and --phase')
    return images[:int(min(max_dataset_size, len(images)))]
