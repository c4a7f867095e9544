"""Prepare Cityscapes for pix2pix (photo | colour label map pairs) or, with --layout labeled, for pix2pixHD.

Download gtFine_trainvaltest.zip (the label maps) and leftImg8bit_trainvaltest.zip (the photos) from
https://www.cityscapes-dataset.com (an account is needed) and unzip them, then:

    python datasets/prepare_cityscapes_dataset.py --gtFine_dir ./gtFine/ --leftImg8bit_dir ./leftImg8bit --output_dir ./datasets/cityscapes/

Cityscapes' train split becomes train/ and its val split test/ (its own test split has no public labels).
Photos and label maps are paired by name, <city>_<seq>_<frame>_leftImg8bit.png with <city>_<seq>_<frame>_gtFine_*.png;
the whole tree is checked before anything is written.
- --layout pix2pix (default, as the reference): <output_dir>/train/<i>.jpg, the photo left and the colour label map
  right, each resized to --size x --size (256: 512x256 images); also trainA/<i>_A.jpg (photos) and trainB/<i>_B.jpg
  (colour maps) for unpaired use, as the reference writes them. Train label-to-photo with --direction BtoA.
- --layout labeled (pix2pixHD's folders): train_label/ (label IDs, 8-bit), train_inst/ (instance IDs, 16-bit, Cityscapes'
  own values), train_img/ (photos), and test_* from val, as PNG under Cityscapes' names. Full resolution (2048x1024) by
  default; --size W resizes to W wide (1024: 1024x512, pix2pixHD's lower resolution). Label and instance maps are
  resized by nearest neighbour, so every ID in the output is exactly one of the source's.
"""
import argparse
import os
import re
import sys
from multiprocessing import Pool
from typing import NamedTuple, Optional

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from util.errors import ArgumentParser, UserError, report_user_errors  # noqa: E402
from util.image_io import read_id_map  # noqa: E402

SPLITS = {'train': 'train', 'val': 'test'}  # Cityscapes split -> output phase
PHOTO_SUFFIX = '_leftImg8bit.png'
MAP_SUFFIXES = {'color': '_gtFine_color.png', 'label': '_gtFine_labelIds.png', 'inst': '_gtFine_instanceIds.png'}
LAYOUT_MAPS = {'pix2pix': ('color',), 'labeled': ('label', 'inst')}
FRAME_NAME = re.compile(r'^(?P<city>.+)_\d+_\d+$')
PIX2PIX_SIZE = 256
JPEG_OPTIONS = {'format': 'JPEG', 'quality': 100, 'subsampling': 0}


class Frame(NamedTuple):
    """One Cityscapes frame: its name <city>_<seq>_<frame>, its photo and its label maps by kind."""
    name: str
    photo: str
    maps: dict[str, str]


class Task(NamedTuple):
    frame: Frame
    phase: str
    index: int
    layout: str
    size: Optional[int]
    output_dir: str


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog='\n'.join(__doc__.splitlines()[1:]))
    parser.add_argument('--gtFine_dir', required=True, help='the unzipped gtFine folder (holding train/ and val/)')
    parser.add_argument('--leftImg8bit_dir', required=True, help='the unzipped leftImg8bit folder (holding train/ and val/)')
    parser.add_argument('--output_dir', required=True, help='where to write the dataset, e.g. ./datasets/cityscapes')
    parser.add_argument('--layout', choices=tuple(LAYOUT_MAPS), default='pix2pix',
                        help='pix2pix: photo|colour map pairs; labeled: pix2pixHD\'s *_label/, *_inst/, *_img/ folders')
    parser.add_argument('--size', type=int, default=None,
                        help=f'pix2pix: side of each square half (default {PIX2PIX_SIZE}); labeled: width, the height '
                             'keeping the aspect ratio (default: full resolution)')
    parser.add_argument('--no_multiprocessing', action='store_true', help='write in this process instead of a pool of workers')
    return parser.parse_args(argv)


def frames_by_name(root: str, flag: str, split: str, suffix: str) -> dict[str, str]:
    """<root>/<split>/<city>/<city>_<seq>_<frame><suffix> files by frame name; a file named otherwise is an error."""
    folder = os.path.join(root, split)
    if not os.path.isdir(folder):
        raise UserError(f'{flag} {root} has no {split}/ folder; give the unzipped Cityscapes folder that holds train/ and val/')
    found = {}
    for city in sorted(os.listdir(folder)):
        city_dir = os.path.join(folder, city)
        if not os.path.isdir(city_dir):
            continue
        for file_name in sorted(os.listdir(city_dir)):
            if not file_name.endswith(suffix):
                continue
            name = file_name[:-len(suffix)]
            match = FRAME_NAME.match(name)
            if not match or match['city'] != city:
                raise UserError(f'{os.path.join(city_dir, file_name)} is not named {city}_<seq>_<frame>{suffix} as Cityscapes '
                     'names its files; remove it or restore the original name')
            found[name] = os.path.join(city_dir, file_name)
    if not found:
        raise UserError(f'{folder} holds no <city>/*{suffix} files; give the unzipped Cityscapes folder for {flag}')
    return found


def plan_split(opt: argparse.Namespace, split: str) -> list[Frame]:
    """The split's frames, each photo with the label maps the layout needs; any file without its partner is an error."""
    photos = frames_by_name(opt.leftImg8bit_dir, '--leftImg8bit_dir', split, PHOTO_SUFFIX)
    maps = {kind: frames_by_name(opt.gtFine_dir, '--gtFine_dir', split, MAP_SUFFIXES[kind]) for kind in LAYOUT_MAPS[opt.layout]}
    for kind, found in maps.items():
        check_same_frames(photos, found, opt, split, MAP_SUFFIXES[kind])
    return [Frame(name, photos[name], {kind: found[name] for kind, found in maps.items()}) for name in sorted(photos)]


def check_same_frames(photos: dict[str, str], maps: dict[str, str], opt: argparse.Namespace, split: str, suffix: str) -> None:
    """One line naming the first photo without its map (or map without its photo), the file it lacks, and how many lack one."""
    sides = ((photos, maps, opt.gtFine_dir, suffix), (maps, photos, opt.leftImg8bit_dir, PHOTO_SUFFIX))
    for have, lack, partner_root, partner_suffix in sides:
        unpaired = sorted(set(have) - set(lack))
        if unpaired:
            name = unpaired[0]
            partner = os.path.join(partner_root, split, FRAME_NAME.match(name)['city'], name + partner_suffix)
            raise UserError(f'{have[name]} has no partner {partner} ({len(unpaired)} file(s) without one); the gtFine and '
                 'leftImg8bit trees do not match: unzip both archives of the same release, unchanged')


def resize_nearest(ids: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Each output pixel takes the ID of the source pixel under its centre, so no ID is blended or invented."""
    width, height = size
    rows = ((np.arange(height) + 0.5) * ids.shape[0] / height).astype(int)
    columns = ((np.arange(width) + 0.5) * ids.shape[1] / width).astype(int)
    return ids[rows[:, None], columns[None, :]]


def read_ids(path: str, dtype: type) -> np.ndarray:
    """A label or instance ID map as stored (util.image_io.read_id_map), checked to fit `dtype`."""
    ids = read_id_map(path)
    if ids.size and ids.max() > np.iinfo(dtype).max:
        raise ValueError(f'{path} holds ID {ids.max()}, above {np.iinfo(dtype).max}')
    return ids.astype(dtype)


def write_pix2pix(task: Task) -> None:
    """<phase>/<i>.jpg with the photo left and the colour map right, and the two halves in <phase>A/ and <phase>B/."""
    side = task.size or PIX2PIX_SIZE
    with Image.open(task.frame.photo) as photo, Image.open(task.frame.maps['color']) as colour_map:
        halves = [image.convert('RGB').resize((side, side), Image.Resampling.BICUBIC) for image in (photo, colour_map)]
    pair = Image.new('RGB', (2 * side, side))
    pair.paste(halves[0], (0, 0))
    pair.paste(halves[1], (side, 0))
    folder = os.path.join(task.output_dir, task.phase)
    pair.save(os.path.join(folder, f'{task.index}.jpg'), **JPEG_OPTIONS)
    halves[0].save(os.path.join(folder + 'A', f'{task.index}_A.jpg'), **JPEG_OPTIONS)
    halves[1].save(os.path.join(folder + 'B', f'{task.index}_B.jpg'), **JPEG_OPTIONS)


def write_labeled(task: Task) -> None:
    """<phase>_img/, <phase>_label/ and <phase>_inst/ under Cityscapes' names, IDs resized by nearest neighbour."""
    frame = task.frame
    with Image.open(frame.photo) as image:
        photo = image.convert('RGB')
    label, inst = read_ids(frame.maps['label'], np.uint8), read_ids(frame.maps['inst'], np.uint16)
    for path, ids in ((frame.maps['label'], label), (frame.maps['inst'], inst)):
        if ids.shape != (photo.height, photo.width):
            raise ValueError(f'{path} is {ids.shape[1]}x{ids.shape[0]} but its photo {frame.photo} is {photo.width}x{photo.height}')
    size = (task.size, round(task.size * photo.height / photo.width)) if task.size else photo.size
    if size != photo.size:
        photo = photo.resize(size, Image.Resampling.BICUBIC)
        label, inst = resize_nearest(label, size), resize_nearest(inst, size)
    prefix = os.path.join(task.output_dir, task.phase)
    photo.save(os.path.join(prefix + '_img', frame.name + PHOTO_SUFFIX))
    Image.fromarray(label).save(os.path.join(prefix + '_label', frame.name + MAP_SUFFIXES['label']))
    Image.fromarray(inst).save(os.path.join(prefix + '_inst', frame.name + MAP_SUFFIXES['inst']))


def write_frame(task: Task) -> Optional[str]:
    """Write one frame in the task's layout; returns an error message, or None."""
    try:
        (write_pix2pix if task.layout == 'pix2pix' else write_labeled)(task)
    except (OSError, ValueError, UserError) as err:
        return f'{task.frame.name}: {err}'
    return None


def output_folders(output_dir: str, phase: str, layout: str) -> list[str]:
    if layout == 'pix2pix':
        return [os.path.join(output_dir, phase + suffix) for suffix in ('', 'A', 'B')]
    return [os.path.join(output_dir, f'{phase}_{kind}') for kind in ('img', 'label', 'inst')]


@report_user_errors
def main(argv: Optional[list[str]] = None) -> int:
    opt = parse_args(argv)
    if opt.size is not None and opt.size < 1:
        raise UserError(f'--size {opt.size}: must be a positive number of pixels')
    plans = {split: plan_split(opt, split) for split in SPLITS}
    tasks = []
    for split, frames in plans.items():
        phase = SPLITS[split]
        for folder in output_folders(opt.output_dir, phase, opt.layout):
            os.makedirs(folder, exist_ok=True)
        tasks += [Task(frame, phase, index, opt.layout, opt.size, opt.output_dir) for index, frame in enumerate(frames)]
        print(f'{split}: {len(frames)} photos with their label maps -> {phase}')
    if opt.no_multiprocessing or len(tasks) < 2:
        errors = [message for message in map(write_frame, tasks) if message]
    else:
        with Pool() as pool:
            errors = [message for message in pool.imap(write_frame, tasks, chunksize=8) if message]
    for message in errors:
        print(f'error: {message}', file=sys.stderr)
    print(f'wrote {len(tasks) - len(errors)} frames to {opt.output_dir} ({opt.layout} layout); {len(errors)} failed')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
