"""Reading and writing images at their own bit depth and channel count.

8-bit images are decoded by PIL exactly as the reference decodes them; deeper ones (16-bit PNG and TIFF, float
TIFF) become float tensors CxHxW in [0, 1], scaled by their dtype's maximum, so no precision is lost.
"""
import os

import numpy as np
import torch
from PIL import Image

from util.errors import UserError

TIFF_EXTENSIONS = ('.tif', '.tiff')
LARGEST_EXACT_ID = 2 ** 24 - 1  # float32, in which the networks see IDs, holds every integer up to here
DeepOrPil = Image.Image | torch.Tensor


def read_image(path: str) -> DeepOrPil:
    """Decode `path` as it is stored: a PIL image for 8-bit data, a float tensor in [0, 1] for deeper data."""
    try:
        if path.lower().endswith(TIFF_EXTENSIONS):
            array = read_tiff(path)
            if array is not None:
                return from_array(array)
        with Image.open(path) as image:
            if is_deep_color_png(image):
                return from_array(read_deep_png(path))
            image.load()
            if image.mode.startswith('I;16') or image.mode in ('I', 'F'):
                return from_array(np.asarray(image))
            return image
    except (OSError, SyntaxError, ValueError) as err:
        raise unreadable(path, err) from err


def read_rgb8(path: str) -> np.ndarray:
    """An HxWx3 uint8 array as pytorch-fid reads images (converted to RGB); deeper data rounded to 8 bits."""
    image = with_channels(read_image(path), 3, path)
    return to_array(image * 2 - 1) if is_deep(image) else np.asarray(image)


def read_id_map(path: str) -> np.ndarray:
    """The one reader of label and instance ID maps (training, test, predict, serve, the Cityscapes tool): an 8- or
    16-bit grayscale or palette PNG, or a TIFF, as an HxW integer array of the IDs as stored, checked by check_id_map."""
    try:
        array = read_tiff(path) if path.lower().endswith(TIFF_EXTENSIONS) else None
        if array is None:
            with Image.open(path) as image:
                array = read_deep_png(path) if is_deep_color_png(image) else np.asarray(image)
    except (OSError, SyntaxError, ValueError) as err:
        raise unreadable(path, err) from err
    return check_id_map(array, path)


def check_id_map(array: np.ndarray, source: str) -> np.ndarray:
    """`array` as an HxW map of integer IDs in 0..LARGEST_EXACT_ID, or one line naming `source` and what is wrong."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2 or not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        channels = array.shape[2] if array.ndim == 3 else 1
        raise UserError(f'{source} is not a single-channel ID map ({channels} channel(s) of {array.dtype}); store label '
                        'and instance IDs as 8- or 16-bit grayscale PNGs (RGB label images need a model trained with '
                        '--label_nc 0)')
    if array.size and (array.min() < 0 or array.max() > LARGEST_EXACT_ID):
        raise UserError(f'{source} holds ID {array.min() if array.min() < 0 else array.max()}; IDs must lie in '
                        f'0..{LARGEST_EXACT_ID} (16-bit PNGs always do)')
    return array


def read_size(path: str) -> tuple[int, int]:
    """(width, height) of an image file from its header, decoding the pixels only where PIL cannot open it."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, SyntaxError, ValueError):
        image = read_image(path)
        return (image.shape[2], image.shape[1]) if is_deep(image) else image.size


def unreadable(path: str, err: Exception) -> UserError:
    return UserError(f'image {path} cannot be read ({err}); replace or remove it, or pass --skip_bad_images')


def read_tiff(path: str) -> np.ndarray | None:
    """TIFF through tifffile (any channel count and depth); None for compressions it cannot decode, left to PIL."""
    import tifffile

    try:
        return tifffile.imread(path)
    except ValueError as err:
        if 'imagecodecs' in str(err):
            return None
        raise


def is_deep_color_png(image: Image.Image) -> bool:
    """PIL opens 16-bit colour PNGs as 8-bit RGB; its raw mode still says 16 bits."""
    return image.format == 'PNG' and bool(image.tile) and ';16' in str(image.tile[0].args) and image.mode != 'I;16'


def read_deep_png(path: str) -> np.ndarray:
    import cv2

    array = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ValueError('a 16-bit PNG that OpenCV cannot decode')
    return array[..., [2, 1, 0, 3][:array.shape[2]]] if array.ndim == 3 else array


def from_array(array: np.ndarray) -> DeepOrPil:
    """HxW or HxWxC array: 8-bit with 1-4 channels as PIL, anything else as a float tensor scaled to [0, 1]."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.dtype == np.uint8 and array.shape[2] <= 4:
        return Image.fromarray(array.squeeze(2) if array.shape[2] == 1 else array)
    if np.issubdtype(array.dtype, np.integer):
        scaled = array.astype(np.float64) / np.iinfo(array.dtype).max
    else:
        scaled = np.clip(array.astype(np.float64), 0.0, 1.0)
    return torch.from_numpy(np.ascontiguousarray(scaled.transpose(2, 0, 1), dtype=np.float32))


def is_deep(image: DeepOrPil) -> bool:
    return isinstance(image, torch.Tensor)


def channel_count(image: DeepOrPil) -> int:
    if is_deep(image):
        return image.shape[0]
    return len(image.getbands()) if image.mode != 'P' else 3


def with_channels(image: DeepOrPil, channels: int, path: str) -> DeepOrPil:
    """`image` with `channels` channels, as the reference converts: to luminance for 1, to RGB for 3 (alpha dropped,
    gray repeated); other counts must be stored as such. A mismatch is a one-line error naming the file."""
    have = channel_count(image)
    if is_deep(image):
        if have == channels:
            return image
        if channels == 1 and have >= 3:
            weights = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
            return (image[:3] * weights).sum(0, keepdim=True)
        if channels == 3 and have in (1, 2):
            return image[:1].expand(3, -1, -1).contiguous()
        if channels == 3 and have == 4:
            return image[:3]
    else:
        if channels == 1:
            return image if image.mode == 'L' else image.convert('RGB').convert('L')
        if channels == 3:
            return image if image.mode == 'RGB' else image.convert('RGB')
        if channels == 4 and image.mode == 'RGBA':
            return image
        if channels == 4 and image.mode == 'P' and 'transparency' in image.info:
            return image.convert('RGBA')
        if channels == 2 and image.mode == 'LA':
            return image
    raise UserError(f'image {path} has {have} channel(s) but the flags ask for {channels} '
                    '(--input_nc/--output_nc); convert the image or change the flags')


def to_array(image: torch.Tensor, dtype: type = np.uint8) -> np.ndarray:
    """A CxHxW tensor in [-1, 1] as an HxWxC array of `dtype` (uint8 or uint16), rounded."""
    scale = np.iinfo(dtype).max
    array = (image.detach().float().cpu().clamp(-1.0, 1.0).numpy().transpose(1, 2, 0) + 1.0) / 2.0 * scale
    return np.round(array).astype(dtype)


def write_image(array: np.ndarray, path: str) -> None:
    """Save an HxWxC (or HxW) uint8 or uint16 array (1-4 channels) as the file type `path` names."""
    array = array[:, :, None] if array.ndim == 2 else array
    channels = array.shape[2]
    if path.lower().endswith(TIFF_EXTENSIONS):
        import tifffile

        tifffile.imwrite(path, array, photometric='rgb' if channels in (3, 4) else 'minisblack')
    elif array.dtype == np.uint16 and channels > 1:
        import cv2

        if not cv2.imwrite(path, array[..., [2, 1, 0, 3][:channels]]):
            raise OSError(f'OpenCV could not write {path}')
    elif array.dtype == np.uint16:
        Image.fromarray(array.reshape(array.shape[:2])).save(path)
    else:
        Image.fromarray(array.squeeze(2) if channels == 1 else array).save(path)


def output_extension(path: str) -> str:
    """Outputs are PNG (lossless, 8 or 16 bits), except that TIFF inputs give TIFF outputs."""
    return os.path.splitext(path)[1].lower() if path.lower().endswith(TIFF_EXTENSIONS) else '.png'
