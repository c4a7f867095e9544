"""Label colours for the drawing page: read from a palette file, or found in a training set of label maps.

A palette file has one colour per line, `R G B` (0-255) or `#rrggbb`, optionally followed by a name; blank lines and
lines starting with `//` are ignored. A training set counts as label maps when a few exact colours cover nearly all the
pixels of its input halves, as in PNG label maps; JPEG label maps blur their colours, so give them a palette file.
"""
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

from data.base_dataset import split_halves
from data.image_folder import make_dataset
from util.errors import UserError

MAX_LABELS = 40
SAMPLED_IMAGES = 40
LABEL_COVERAGE = 0.98  # the label colours cover this share of the pixels; the rest are strays
MIN_SHARE = 0.001  # with more than MAX_LABELS colours, rarer ones are strays
HEX_LINE = re.compile(r'#([0-9a-fA-F]{6})(?:\s+(.*))?$')
RGB_LINE = re.compile(r'(\d{1,3})[\s,]+(\d{1,3})[\s,]+(\d{1,3})(?:\s+(.*))?$')


@dataclass
class Label:
    rgb: tuple[int, int, int]
    name: str = ''


def read_palette_file(path: str) -> list[Label]:
    """The labels of a palette file; a malformed line is a UserError naming the file and line."""
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except OSError as err:
        raise UserError(f'--palette {path}: cannot be read ({err.strerror})') from err
    labels = [parse_palette_line(line.strip(), path, number) for number, line in enumerate(lines, 1)
              if line.strip() and not line.strip().startswith('//')]
    if not labels:
        raise UserError(f'--palette {path}: no colours in it; write one `R G B [name]` or `#rrggbb [name]` per line')
    return labels


def parse_palette_line(line: str, path: str, number: int) -> Label:
    if match := HEX_LINE.match(line):
        value = int(match.group(1), 16)
        return Label((value >> 16, (value >> 8) & 255, value & 255), match.group(2) or '')
    match = RGB_LINE.match(line)
    if match and all(int(part) <= 255 for part in match.group(1, 2, 3)):
        return Label(tuple(int(part) for part in match.group(1, 2, 3)), match.group(4) or '')
    raise UserError(f'--palette {path} line {number}: "{line}" is not a colour; '
                    'write `R G B [name]` (0-255) or `#rrggbb [name]`')


def training_set_palette(folder: str, input_half: int | None) -> list[Label] | None:
    """The label colours of the training inputs under `folder` (input_half: 0 left, 1 right, None whole image),
    most frequent first; None when the inputs are not label maps or the folder has no images."""
    try:
        paths = make_dataset(folder)
    except UserError:
        return None
    sample = paths[::max(1, len(paths) // SAMPLED_IMAGES)][:SAMPLED_IMAGES]
    pixels = np.concatenate([input_pixels(path, input_half) for path in sample])
    colours = label_colours(pixels)
    return [Label(tuple(int(c) for c in colour)) for colour in colours] if colours is not None else None


def input_pixels(path: str, input_half: int | None) -> np.ndarray:
    with Image.open(path) as image:
        image = image.convert('RGB')
    if input_half is not None:
        image = split_halves(image)[input_half]
    return np.asarray(image).reshape(-1, 3)


def label_colours(pixels: np.ndarray) -> np.ndarray | None:
    """Kx3 label colours of Nx3 uint8 pixels, most frequent first, or None if they do not look like label maps:
    a few exact colours (a stray pixel here and there allowed), as PNG label maps have."""
    keys = pixels.astype(np.int32) @ np.array([1 << 16, 1 << 8, 1], dtype=np.int32)
    unique_keys, counts = np.unique(keys, return_counts=True)
    order = np.argsort(-counts, kind='stable')
    unique_keys, shares = unique_keys[order], counts[order] / counts.sum()
    labels = unique_keys if len(unique_keys) <= MAX_LABELS else unique_keys[shares >= MIN_SHARE]
    if len(labels) > MAX_LABELS or shares[:len(labels)].sum() < LABEL_COVERAGE:
        return None
    return np.stack([labels >> 16, (labels >> 8) & 255, labels & 255], axis=1).astype(np.uint8)
