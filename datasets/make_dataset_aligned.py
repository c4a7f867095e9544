"""Turn an unaligned-layout folder (trainA/, trainB/, testA/, testB/) into an aligned pix2pix dataset.

For each split (train, test, and val when valA/ and valB/ exist), the i-th image of <split>A/
and the i-th image of <split>B/ (in sorted name order) are pasted side by side, A on the left,
into <dataset-path>/<split>/<iiii>.jpg. Pairs must have the same size. Everything is checked
before anything is written.

Example: python datasets/make_dataset_aligned.py --dataset-path ./datasets/my_pairs
"""
import argparse
import os
import sys
from typing import NamedTuple, Optional

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data.image_folder import is_image_file  # noqa: E402
from util.errors import ArgumentParser, UserError, report_user_errors  # noqa: E402

SPLITS = ('train', 'val', 'test')


class SplitPairs(NamedTuple):
    split: str
    paths_A: list[str]
    paths_B: list[str]


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(description='align <split>A/<split>B image folders into {A|B} images')
    parser.add_argument('--dataset-path', dest='dataset_path', required=True,
                        help='folder with subfolders trainA, trainB, testA, testB (and optionally valA, valB)')
    return parser.parse_args(argv)


def image_paths(folder: str) -> list[str]:
    """Sorted paths of the images directly inside `folder` (subfolders are not searched)."""
    names = sorted(n for n in os.listdir(folder) if is_image_file(n))
    return [os.path.join(folder, n) for n in names if os.path.isfile(os.path.join(folder, n))]


def find_split_pairs(dataset_path: str) -> list[SplitPairs]:
    """The splits with both <split>A/ and <split>B/ folders; exits on an incomplete layout."""
    if not os.path.isdir(dataset_path):
        raise UserError(f'--dataset-path {dataset_path} is not a folder; pass the folder holding trainA/ and trainB/')
    found = []
    for split in SPLITS:
        dir_A, dir_B = (os.path.join(dataset_path, split + side) for side in 'AB')
        if os.path.isdir(dir_A) != os.path.isdir(dir_B):
            present, absent = (dir_A, dir_B) if os.path.isdir(dir_A) else (dir_B, dir_A)
            raise UserError(f'{present} has no partner folder {absent}; create it or remove {present}')
        if os.path.isdir(dir_A):
            found.append(SplitPairs(split, image_paths(dir_A), image_paths(dir_B)))
    if not found:
        raise UserError(f'--dataset-path {dataset_path} has none of trainA/trainB, valA/valB, testA/testB; add them')
    return found


def check_pairs(pairs: SplitPairs) -> None:
    """Exit with a clear message unless both sides have equally many, equally sized images."""
    if len(pairs.paths_A) != len(pairs.paths_B):
        raise UserError(f'{pairs.split}A/ has {len(pairs.paths_A)} images but {pairs.split}B/ has {len(pairs.paths_B)}; '
             'they are paired in name order, so give both the same count')
    for path_A, path_B in zip(pairs.paths_A, pairs.paths_B):
        size_A, size_B = image_size(path_A), image_size(path_B)
        if size_A != size_B:
            raise UserError(f'{path_A} is {size_A[0]}x{size_A[1]} but its partner {path_B} is {size_B[0]}x{size_B[1]}; '
                 'resize one of them')


def image_size(path: str) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            return image.size
    except OSError as err:
        raise UserError(f'cannot read image {path}: {err}')


def write_aligned(pairs: SplitPairs, dataset_path: str) -> None:
    """Write <dataset_path>/<split>/<iiii>.jpg with A on the left and B on the right."""
    target = os.path.join(dataset_path, pairs.split)
    os.makedirs(target, exist_ok=True)
    for index, (path_A, path_B) in enumerate(zip(pairs.paths_A, pairs.paths_B)):
        with Image.open(path_A) as image_A, Image.open(path_B) as image_B:
            aligned = Image.new('RGB', (image_A.width * 2, image_A.height))
            aligned.paste(image_A.convert('RGB'), (0, 0))
            aligned.paste(image_B.convert('RGB'), (image_A.width, 0))
        aligned.save(os.path.join(target, f'{index:04d}.jpg'), quality=95)
    print(f'split = {pairs.split}: wrote {len(pairs.paths_A)} aligned images to {target}')


@report_user_errors
def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    all_pairs = find_split_pairs(args.dataset_path)
    for pairs in all_pairs:
        check_pairs(pairs)
    try:
        for pairs in all_pairs:
            write_aligned(pairs, args.dataset_path)
    except OSError as err:
        raise UserError(f'could not write the aligned images: {err}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
