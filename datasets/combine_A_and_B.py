"""Combine paired images from two folders into side-by-side {A|B} images for pix2pix.

Layout: --fold_A and --fold_B each hold the same split subfolders (train, val, test, ...)
with matching file names; each pair is written as one image, A on the left and B on the
right, into --fold_AB/<split>/. If B's size differs from A's, B is resized to A's size.
A file without a partner is reported on stderr and skipped.

Example: python datasets/combine_A_and_B.py --fold_A /data/A --fold_B /data/B --fold_AB /data/AB
"""
import argparse
import os
import sys
from multiprocessing import Pool
from typing import Iterable, NamedTuple, Optional

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data.image_folder import is_image_file  # noqa: E402
from util.errors import ArgumentParser, UserError, report_user_errors  # noqa: E402



class Pair(NamedTuple):
    path_A: str
    path_B: str
    path_AB: str


class SplitPlan(NamedTuple):
    pairs: list[Pair]
    unpaired: list[str]  # messages, one per file without a partner


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(description='create image pairs {A|B} for pix2pix')
    parser.add_argument('--fold_A', required=True, help='input directory for image A (holds split subfolders)')
    parser.add_argument('--fold_B', required=True, help='input directory for image B (same split subfolders)')
    parser.add_argument('--fold_AB', required=True, help='output directory for the combined images')
    parser.add_argument('--num_imgs', type=int, default=1000000, help='at most this many images per split')
    parser.add_argument('--use_AB', action='store_true',
                        help='pair NAME_A.ext with NAME_B.ext (in the same-named folders) and write NAME.ext')
    parser.add_argument('--no_multiprocessing', action='store_true',
                        help='combine in this process instead of a pool of worker processes')
    return parser.parse_args(argv)


def list_images(folder: str, suffix: str) -> list[str]:
    """Sorted image file names in `folder` whose stem ends with `suffix` ('' for all)."""
    names = (n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n)) and is_image_file(n))
    return sorted(n for n in names if os.path.splitext(n)[0].endswith(suffix))


def swap_suffix(name: str, old: str, new: str) -> str:
    """'x_A.jpg' -> 'x_B.jpg' for old='_A', new='_B'; unchanged when old is ''."""
    stem, ext = os.path.splitext(name)
    return stem[:len(stem) - len(old)] + new + ext


def find_splits(fold_A: str, fold_B: str) -> list[str]:
    """Split subfolders of fold_A; exits with a clear message when a folder is missing."""
    for flag, folder in (('--fold_A', fold_A), ('--fold_B', fold_B)):
        if not os.path.isdir(folder):
            raise UserError(f'{flag} folder {folder} does not exist; pass a folder holding split subfolders such as train/')
    splits = sorted(n for n in os.listdir(fold_A) if os.path.isdir(os.path.join(fold_A, n)))
    if not splits:
        raise UserError(f'--fold_A folder {fold_A} has no split subfolders; put the A images in e.g. {fold_A}/train/')
    for split in splits:
        if not os.path.isdir(os.path.join(fold_B, split)):
            raise UserError(f'--fold_B folder {fold_B} lacks the split subfolder {split}/ that --fold_A has; create it')
    return splits


def plan_split(args: argparse.Namespace, split: str) -> SplitPlan:
    """Pair the first --num_imgs A images of `split` with their B partners."""
    suffix_A, suffix_B = ('_A', '_B') if args.use_AB else ('', '')
    dir_A, dir_B = os.path.join(args.fold_A, split), os.path.join(args.fold_B, split)
    all_A, all_B = list_images(dir_A, suffix_A), list_images(dir_B, suffix_B)
    known_A, known_B = set(all_A), set(all_B)
    pairs, unpaired = [], []
    for name_A in all_A[:args.num_imgs]:
        name_B = swap_suffix(name_A, suffix_A, suffix_B)
        if name_B in known_B:
            path_AB = os.path.join(args.fold_AB, split, swap_suffix(name_A, suffix_A, ''))
            pairs.append(Pair(os.path.join(dir_A, name_A), os.path.join(dir_B, name_B), path_AB))
        else:
            unpaired.append(f'no partner for {os.path.join(dir_A, name_A)}: {os.path.join(dir_B, name_B)} is missing')
    for name_B in all_B:
        name_A = swap_suffix(name_B, suffix_B, suffix_A)
        if name_A not in known_A:
            unpaired.append(f'no partner for {os.path.join(dir_B, name_B)}: {os.path.join(dir_A, name_A)} is missing')
    print(f'split = {split}, use {len(pairs)} pairs of {len(all_A)} A images')
    return SplitPlan(pairs, unpaired)


def combine_pair(pair: Pair) -> Optional[str]:
    """Write A|B side by side (B resized to A's size); returns an error message or None."""
    try:
        with Image.open(pair.path_A) as image_A, Image.open(pair.path_B) as image_B:
            left, right = image_A.convert('RGB'), image_B.convert('RGB')
    except OSError as err:
        return f'cannot read pair {pair.path_A} / {pair.path_B}: {err}'
    if right.size != left.size:
        right = right.resize(left.size, Image.Resampling.BICUBIC)
    combined = Image.new('RGB', (left.width * 2, left.height))
    combined.paste(left, (0, 0))
    combined.paste(right, (left.width, 0))
    try:
        combined.save(pair.path_AB, quality=95)
    except (OSError, ValueError) as err:
        return f'cannot write {pair.path_AB}: {err}'
    return None


def combine_all(pairs: list[Pair], use_pool: bool) -> list[str]:
    """Combine every pair, in a process pool or serially; returns the error messages."""
    if use_pool and len(pairs) > 1:
        with Pool() as pool:
            results: Iterable[Optional[str]] = pool.map(combine_pair, pairs, chunksize=16)
    else:
        results = map(combine_pair, pairs)
    return [message for message in results if message]


@report_user_errors
def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.num_imgs < 1:
        raise UserError(f'--num_imgs must be at least 1, got {args.num_imgs}')
    splits = find_splits(args.fold_A, args.fold_B)
    plans = [plan_split(args, split) for split in splits]
    for split in splits:
        os.makedirs(os.path.join(args.fold_AB, split), exist_ok=True)
    pairs = [pair for plan in plans for pair in plan.pairs]
    unpaired = [message for plan in plans for message in plan.unpaired]
    for message in unpaired:
        print(message, file=sys.stderr)
    errors = combine_all(pairs, use_pool=not args.no_multiprocessing)
    for message in errors:
        print(message, file=sys.stderr)
    print(f'wrote {len(pairs) - len(errors)} images to {args.fold_AB}; skipped {len(unpaired)} files '
          f'without a partner; failed on {len(errors)} pairs')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
