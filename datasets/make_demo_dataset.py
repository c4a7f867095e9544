"""Generate a small, deterministic, facades-like dataset for offline demos and tests.

Each image <out>/<split>/<index>.png is 2*size wide: the LEFT half is a rendered "photo" of a
building facade and the RIGHT half is its label map in the CMP Facades colours, mirroring the
layout of the published facades dataset (A = photo, B = labels). Train with --direction BtoA to
map labels -> photo, as with the real facades data:

    python datasets/make_demo_dataset.py --out ./datasets/demo_facades
    python train.py --dataroot ./datasets/demo_facades --model pix2pix --direction BtoA

The photo is rendered from the labels with per-class colours and textures, shadows, a lighting
gradient, noise and per-image wall colour, tint and brightness, so the mapping is learnable
but not a fixed colour lookup. The same --seed always gives byte-identical files.

--layout labeled writes the same facades in pix2pixHD's layout (--dataset_mode labeled --label_nc 12):
<split>_label/<index>.png holds the class IDs 0..11 (8-bit gray, CLASS_NAMES order), <split>_inst/<index>.png the
instance IDs (16-bit gray, Cityscapes' convention: class * 1000 + n for the n-th window or door of the image,
counted from 0; the class ID for every other pixel) and <split>_img/<index>.png the photo.
"""
import argparse
import os
import re
import sys
from typing import NamedTuple, Optional

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from util.errors import ArgumentParser, UserError, report_user_errors  # noqa: E402

# CMP Facades classes and their label colours (MATLAB jet(12), as in the published label maps).
CLASS_NAMES = ('background', 'facade', 'window', 'door', 'cornice', 'sill',
               'balcony', 'blind', 'deco', 'molding', 'pillar', 'shop')
PALETTE = np.array([(0, 0, 170), (0, 0, 255), (0, 85, 255), (0, 170, 255), (0, 255, 255), (85, 255, 170),
                    (170, 255, 85), (255, 255, 0), (255, 170, 0), (255, 85, 0), (255, 0, 0), (170, 0, 0)],
                   dtype=np.uint8)
(BACKGROUND, FACADE, WINDOW, DOOR, CORNICE, SILL,
 BALCONY, BLIND, DECO, MOLDING, PILLAR, SHOP) = range(len(CLASS_NAMES))
SPLITS = ('train', 'val', 'test')
INSTANCE_CLASSES = (WINDOW, DOOR)  # the classes whose every rectangle gets its own instance ID
LAYOUT_FOLDERS = {'aligned': './datasets/demo_facades', 'labeled': './datasets/demo_facades_labeled'}
WALL_COLOURS = np.array([(0.82, 0.74, 0.60), (0.70, 0.68, 0.64), (0.78, 0.55, 0.45),
                         (0.88, 0.82, 0.68), (0.60, 0.62, 0.66), (0.80, 0.66, 0.50)])
SHUTTER_COLOURS = np.array([(0.20, 0.38, 0.24), (0.40, 0.26, 0.16), (0.45, 0.47, 0.50), (0.18, 0.28, 0.45)])


class BuildingStyle(NamedTuple):
    """Per-building choices shared by all storeys (lengths are fractions of the image size)."""
    pillar: bool
    columns: list[tuple[float, float]]  # (left, right) of each window column
    window_width: float  # fraction of a column
    window_height: float  # fraction of a storey
    blinds: bool
    sills: bool
    deco: bool
    moldings: bool
    balcony_rate: float  # chance that an upper storey has balconies


class Canvas:
    """A label map and its instance map with a rectangle painter that works in fractions of the image size."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.labels = np.full((size, size), BACKGROUND, dtype=np.uint8)
        self.instances = np.full((size, size), BACKGROUND, dtype=np.uint16)
        self.instance_counts = dict.fromkeys(INSTANCE_CLASSES, 0)

    def instance_id(self, label: int) -> int:
        """class * 1000 + n for the n-th rectangle of an instance class; the class ID for the others."""
        if label not in self.instance_counts:
            return label
        self.instance_counts[label] += 1
        return label * 1000 + self.instance_counts[label] - 1

    def fill(self, top: float, bottom: float, left: float, right: float, label: int) -> None:
        """Paint rows [top, bottom) x columns [left, right), given as fractions; at least one pixel."""
        y0, x0 = round(top * self.size), round(left * self.size)
        y1 = max(round(bottom * self.size), y0 + 1)
        x1 = max(round(right * self.size), x0 + 1)
        rows, cols = slice(max(y0, 0), min(y1, self.size)), slice(max(x0, 0), min(x1, self.size))
        self.labels[rows, cols] = label
        self.instances[rows, cols] = self.instance_id(label)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(description='generate a deterministic facades-like {photo|labels} dataset')
    parser.add_argument('--out', default=None, help='output folder (gets train/ val/ test/, or <split>_label/ '
                        '<split>_inst/ <split>_img/ with --layout labeled); default ./datasets/demo_facades, '
                        'or ./datasets/demo_facades_labeled with --layout labeled')
    parser.add_argument('--layout', choices=tuple(LAYOUT_FOLDERS), default='aligned',
                        help='aligned: {photo|labels} pairs side by side; labeled: pix2pixHD\'s label IDs, '
                             'instance IDs and photos in separate folders')
    parser.add_argument('--size', type=int, default=64, help='height of each image; width is 2*size (the side '
                        'of each square image with --layout labeled)')
    parser.add_argument('--num_train', type=int, default=200, help='number of training images')
    parser.add_argument('--num_val', type=int, default=20, help='number of validation images')
    parser.add_argument('--num_test', type=int, default=20, help='number of test images')
    parser.add_argument('--seed', type=int, default=0, help='random seed; the same seed gives identical files')
    args = parser.parse_args(argv)
    args.out = args.out or LAYOUT_FOLDERS[args.layout]
    return args


def check_args(args: argparse.Namespace) -> None:
    if args.size < 16:
        raise UserError(f'--size must be at least 16, got {args.size}')
    for flag in ('num_train', 'num_val', 'num_test'):
        if getattr(args, flag) < 0:
            raise UserError(f'--{flag} must be 0 or more, got {getattr(args, flag)}')
    if args.seed < 0:
        raise UserError(f'--seed must be 0 or more, got {args.seed}')


def draw_storey(canvas: Canvas, rng: np.random.Generator, style: BuildingStyle,
                top: float, bottom: float) -> None:
    """Windows (with sills, blinds, deco, maybe a balcony) in every column of one upper storey."""
    height = bottom - top
    balcony = rng.random() < style.balcony_rate
    for left, right in style.columns:
        centre, half_w = (left + right) / 2, (right - left) * style.window_width / 2
        w_top, w_bottom = top + height * 0.22, top + height * (0.22 + style.window_height)
        if style.deco:
            canvas.fill(w_top - height * 0.12, w_top - height * 0.04, centre - half_w, centre + half_w, DECO)
        if style.blinds:
            canvas.fill(w_top, w_bottom, centre - 1.8 * half_w, centre + 1.8 * half_w, BLIND)
        canvas.fill(w_top, w_bottom, centre - half_w, centre + half_w, WINDOW)
        if style.sills:
            canvas.fill(w_bottom, w_bottom + height * 0.06, centre - 1.2 * half_w, centre + 1.2 * half_w, SILL)
        if balcony:
            canvas.fill(w_bottom - height * 0.25, w_bottom + height * 0.04,
                        centre - 1.4 * half_w, centre + 1.4 * half_w, BALCONY)


def draw_ground_floor(canvas: Canvas, rng: np.random.Generator, style: BuildingStyle,
                      top: float, bottom: float) -> None:
    """A shop front or plain windows, and one door."""
    height, columns = bottom - top, style.columns
    door_column = int(rng.integers(len(columns)))
    if rng.random() < 0.5:
        canvas.fill(top + height * 0.2, bottom - height * 0.08, columns[0][0], columns[-1][1], SHOP)
    else:
        for left, right in columns:
            inset = (right - left) * (1 - style.window_width) / 2
            canvas.fill(top + height * 0.25, top + height * 0.75, left + inset, right - inset, WINDOW)
    left, right = columns[door_column]
    inset = (right - left) * 0.22
    canvas.fill(top + height * 0.3, bottom, left + inset, right - inset, DOOR)


def building_style(rng: np.random.Generator, left: float, right: float) -> BuildingStyle:
    pillar = bool(rng.random() < 0.4)
    inner_left, inner_right = (left + 0.04, right - 0.04) if pillar else (left, right)
    edges = np.linspace(inner_left, inner_right, int(rng.integers(2, 6)) + 1)
    return BuildingStyle(pillar=pillar, columns=list(zip(edges[:-1], edges[1:])),
                         window_width=rng.uniform(0.4, 0.65), window_height=rng.uniform(0.45, 0.6),
                         blinds=rng.random() < 0.35, sills=rng.random() < 0.7, deco=rng.random() < 0.3,
                         moldings=rng.random() < 0.5, balcony_rate=rng.uniform(0.0, 0.5))


def draw_facade(rng: np.random.Generator, size: int) -> Canvas:
    """A random facade: wall, cornice, storeys of windows, ground floor with a door."""
    canvas = Canvas(size)
    left, right, roof = rng.uniform(0, 0.1), rng.uniform(0.9, 1.0), rng.uniform(0.05, 0.2)
    style = building_style(rng, left, right)
    canvas.fill(roof, 1.0, left, right, FACADE)
    cornice_bottom = roof + 0.04
    canvas.fill(roof, cornice_bottom, left - 0.02, right + 0.02, CORNICE)
    floors = np.linspace(cornice_bottom, 1.0, int(rng.integers(3, 6)) + 1)
    for index, (top, bottom) in enumerate(zip(floors[:-1], floors[1:])):
        if style.moldings and index > 0:
            canvas.fill(top, top + 0.02, left, right, MOLDING)
        if index == len(floors) - 2:
            draw_ground_floor(canvas, rng, style, top, bottom)
        else:
            draw_storey(canvas, rng, style, top, bottom)
    if style.pillar:
        canvas.fill(cornice_bottom, 1.0, left, left + 0.04, PILLAR)
        canvas.fill(cornice_bottom, 1.0, right - 0.04, right, PILLAR)
    return canvas


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a coarse random grid upsampled bilinearly."""
    coarse = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse).resize((size, size), Image.Resampling.BILINEAR))


def class_colours(rng: np.random.Generator) -> np.ndarray:
    """Per-image base colour (RGB in [0, 1]) of every class."""
    wall = WALL_COLOURS[rng.integers(len(WALL_COLOURS))] + rng.normal(0, 0.03, 3)
    stone = np.clip(wall * 1.12 + 0.08, 0, 1)
    colours = np.zeros((len(CLASS_NAMES), 3))
    colours[BACKGROUND] = (0.55, 0.70, 0.90)
    colours[FACADE] = wall
    colours[WINDOW] = (0.16, 0.20, 0.26)
    colours[DOOR] = np.array((0.36, 0.22, 0.12)) * rng.uniform(0.7, 1.2)
    colours[[CORNICE, SILL, DECO, MOLDING]] = stone
    colours[BALCONY] = (0.16, 0.16, 0.17)
    colours[BLIND] = SHUTTER_COLOURS[rng.integers(len(SHUTTER_COLOURS))]
    colours[PILLAR] = wall * 0.88
    colours[SHOP] = (0.30, 0.24, 0.15)
    return colours


def add_textures(photo: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> None:
    """Class-specific patterns: plaster/brick wall, glass reflections, railings, shutter slats, sky."""
    size = labels.shape[0]
    rows, cols = np.mgrid[0:size, 0:size] / size
    wall = labels == FACADE
    photo[wall] *= (1 + 0.08 * smooth_noise(rng, size, 6))[wall, None]
    if rng.random() < 0.4:
        photo[wall & (np.arange(size)[:, None] % 4 == 3)] *= 0.85
    glass = np.isin(labels, (WINDOW, SHOP))
    streaks = 0.75 + 0.5 * ((cols - rows) * 4 % 1.0)
    photo[glass] *= streaks[glass, None]
    photo[(labels == BALCONY) & (np.arange(size)[None, :] % 2 == 0)] += 0.25
    photo[(labels == BLIND) & (np.arange(size)[:, None] % 2 == 0)] *= 0.7
    sky = labels == BACKGROUND
    photo[sky] += (0.25 * rows[sky])[:, None]


def add_shadows(photo: np.ndarray, labels: np.ndarray) -> None:
    """Darken wall below ledges (cornice, sills, moldings, balconies) and the top of recessed openings."""
    ledge = np.isin(labels, (CORNICE, SILL, MOLDING, BALCONY))
    below_ledge = np.zeros_like(ledge)
    below_ledge[1:] = ledge[:-1]
    photo[below_ledge & (labels == FACADE)] *= 0.7
    opening = np.isin(labels, (WINDOW, DOOR, SHOP))
    lintel = opening.copy()
    lintel[1:] &= ~opening[:-1]
    photo[lintel] *= 0.55


def render_photo(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Render a uint8 RGB "photo" of the label map with per-image lighting and colour variation."""
    size = labels.shape[0]
    photo = class_colours(rng)[labels]
    add_textures(photo, labels, rng)
    add_shadows(photo, labels)
    cols = np.arange(size) / size
    light = 1 + rng.uniform(-0.3, 0.3) * (cols - 0.5)
    photo *= light[None, :, None] * rng.uniform(0.75, 1.15) * rng.normal(1, 0.06, 3)
    photo += rng.normal(0, 0.025, photo.shape)
    return (np.clip(photo, 0, 1) * 255 + 0.5).astype(np.uint8)


class Sample(NamedTuple):
    photo: np.ndarray  # HxWx3 uint8
    labels: np.ndarray  # HxW uint8 class IDs
    instances: np.ndarray  # HxW uint16 instance IDs


def make_sample(seed: int, split: str, index: int, size: int) -> Sample:
    """One facade's photo, label and instance maps; depends only on (seed, split, index, size)."""
    rng = np.random.default_rng([seed, SPLITS.index(split), index])
    canvas = draw_facade(rng, size)
    return Sample(render_photo(canvas.labels, rng), canvas.labels, canvas.instances)


def make_pair(seed: int, split: str, index: int, size: int) -> np.ndarray:
    """One {photo|labels} image; depends only on (seed, split, index, size)."""
    sample = make_sample(seed, split, index, size)
    return np.concatenate([sample.photo, PALETTE[sample.labels]], axis=1)


def remove_stale_images(folder: str, count: int) -> None:
    """Delete <index>.png files from an earlier, larger run so the split holds exactly `count` images."""
    for name in os.listdir(folder):
        match = re.fullmatch(r'(\d+)\.png', name)
        if match and int(match.group(1)) >= count:
            os.remove(os.path.join(folder, name))


def write_split(args: argparse.Namespace, split: str, count: int) -> None:
    folder = os.path.join(args.out, split)
    os.makedirs(folder, exist_ok=True)
    remove_stale_images(folder, count)
    for index in range(count):
        Image.fromarray(make_pair(args.seed, split, index, args.size)).save(os.path.join(folder, f'{index}.png'))
    print(f'wrote {count} images of {2 * args.size}x{args.size} to {folder}')


def write_labeled_split(args: argparse.Namespace, split: str, count: int) -> None:
    """<split>_label/, <split>_inst/ and <split>_img/, each with <index>.png."""
    folders = {kind: os.path.join(args.out, f'{split}_{kind}') for kind in ('label', 'inst', 'img')}
    for folder in folders.values():
        os.makedirs(folder, exist_ok=True)
        remove_stale_images(folder, count)
    for index in range(count):
        sample = make_sample(args.seed, split, index, args.size)
        for kind, pixels in (('label', sample.labels), ('inst', sample.instances), ('img', sample.photo)):
            Image.fromarray(pixels).save(os.path.join(folders[kind], f'{index}.png'))
    print(f'wrote {count} label, instance and photo images of {args.size}x{args.size} to {args.out}/{split}_*')


@report_user_errors
def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    check_args(args)
    try:
        write = write_labeled_split if args.layout == 'labeled' else write_split
        for split, count in zip(SPLITS, (args.num_train, args.num_val, args.num_test)):
            write(args, split, count)
    except OSError as err:
        raise UserError(f'cannot write to --out {args.out}: {err}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
