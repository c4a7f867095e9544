"""Score any folder of results as test.py --eval does: L1, PSNR and SSIM (pairs matched by name), FID and KID; and
the pix2pix paper's FCN-score for Cityscapes labels -> photo.

Examples:
    python scripts/evaluate.py --real photos/ --fake other_method/
    python scripts/evaluate.py --real results/x/test_latest/images --real_glob '*_real_B.png' \\
        --fake results/x/test_latest/images --fake_glob '*_fake_B.png'
    python scripts/evaluate.py --fake results/x/test_latest/images --fake_glob '*_synthesized_image.png' \\
        --labels cityscapes/gtFine/val --segmenter fcn_cityscapes.pt
Names pair up once test.py's, pix2pixHD's and Cityscapes' suffixes (_fake_B, _real_B, _synthesized_image,
_leftImg8bit, _gtFine_labelIds, ...) are taken off. Prints the numbers; --json also writes them to a file.
"""
import argparse
import glob
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data.image_folder import is_image_file  # noqa: E402
from options.base_options import add_fid_weights_flag, add_gpu_ids_flag, parse_gpu_ids  # noqa: E402
from util.errors import ArgumentParser, UserError, report_user_errors  # noqa: E402
from util.hardware import select_device  # noqa: E402
from util.image_io import read_id_map, read_rgb8  # noqa: E402
from util.metrics import (ResultMetrics, Segmenter, cityscapes_train_ids, confusion_matrix, describe_distances,  # noqa: E402
                          fcn_scores, start_set_scores)

NAME_SUFFIXES = ('_fake_B_rgb', '_real_B_rgb', '_fake_B', '_real_B', '_synthesized_image', '_real_image',
                 '_input_label', '_leftImg8bit', '_gtFine_labelIds')


def make_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--fake', type=str, required=True, help='folder of the results to score (searched recursively)')
    parser.add_argument('--fake_glob', type=str, default='*', help='which files of --fake are results, e.g. *_fake_B.png')
    parser.add_argument('--real', type=str, default=None, help='folder of the ground-truth images: L1, PSNR, SSIM, FID and KID')
    parser.add_argument('--real_glob', type=str, default='*', help='which files of --real are ground truth, e.g. *_real_B.png')
    parser.add_argument('--unpaired', action='store_true', help='FID and KID only: the two folders need not pair up')
    add_fid_weights_flag(parser)
    parser.add_argument('--labels', type=str, default=None, help='folder of Cityscapes label-ID maps (gtFine_labelIds) for the FCN-score')
    parser.add_argument('--segmenter', type=str, default=None, help='segmentation network for the FCN-score: TorchScript (.pt) or ONNX (.onnx), RGB in [0, 1] in, 19 Cityscapes train-ID scores out')
    add_gpu_ids_flag(parser)
    parser.add_argument('--json', type=str, default=None, help='also write the numbers to this JSON file')
    return parser


def pair_key(path: str) -> str:
    """The name two partners share: the file name without extension and without the suffixes tools add."""
    stem = os.path.splitext(os.path.basename(path))[0]
    while suffix := next((suffix for suffix in NAME_SUFFIXES if stem.endswith(suffix)), None):
        stem = stem.removesuffix(suffix)
    return stem


def find_images(folder: str, pattern: str, flag: str) -> dict[str, str]:
    """Pair key -> path of the images under `folder` whose names match `pattern`."""
    if not os.path.isdir(folder):
        raise UserError(f'{flag} {folder} is not a folder')
    paths = sorted(path for path in glob.glob(os.path.join(folder, '**', pattern), recursive=True) if is_image_file(path))
    if not paths:
        raise UserError(f'{flag} {folder} holds no images matching {pattern}')
    found: dict[str, str] = {}
    for path in paths:
        if (key := pair_key(path)) in found:
            raise UserError(f'{path} and {found[key]} both pair as "{key}"; narrow the folder with {flag}_glob')
        found[key] = path
    return found


def partners(fake: dict[str, str], other: dict[str, str], other_flag: str) -> list[tuple[str, str]]:
    """(fake, partner) paths for every fake image; a fake image without a partner is an error naming it."""
    for key, path in fake.items():
        if key not in other:
            raise UserError(f'{path} has no partner named "{key}" in {other_flag}; remove it, or pass --unpaired '
                            'for FID and KID alone')
    return [(path, other[key]) for key, path in fake.items()]


def image_scores(fake: dict[str, str], real: dict[str, str], unpaired: bool, fid_weights: str | None,
                 device: torch.device) -> dict:
    """L1, PSNR, SSIM, FID and KID, as test.py --eval writes them to metrics.json."""
    pairs = [] if unpaired else partners(fake, real, '--real')
    set_scores, note = start_set_scores(fid_weights, device)
    if unpaired:
        if set_scores is None:
            raise UserError(note)
        for path in tqdm(list(fake.values()), desc='fake images', unit='image', disable=None):
            set_scores.fake.add(read_rgb8(path))
        for path in tqdm(list(real.values()), desc='real images', unit='image', disable=None):
            set_scores.real.add(read_rgb8(path))
        scores = set_scores.scores()
        if scores['fid'] is None:
            raise UserError('FID and KID need at least 2 images in each of --fake and --real')
        print(f'{describe_distances(scores)} over {len(fake)} and {len(real)} images')
        return {'count_fake': len(fake), 'count_real': len(real), **scores}
    metrics = ResultMetrics(set_scores, note)
    for fake_path, real_path in tqdm(pairs, desc='image pairs', unit='pair', disable=None):
        fake_image, real_image = read_rgb8(fake_path), read_rgb8(real_path)
        if fake_image.shape != real_image.shape:
            raise UserError(f'{fake_path} is {fake_image.shape[1]}x{fake_image.shape[0]} and its partner {real_path} '
                            f'{real_image.shape[1]}x{real_image.shape[0]}; paired metrics need equal sizes (or --unpaired)')
        metrics.add_images(pair_key(fake_path), fake_image, real_image)
    print(metrics.describe())
    return metrics.summary()


def fcn_score(fake: dict[str, str], labels: dict[str, str], segmenter_path: str, device: torch.device) -> dict:
    """The paper's FCN-score: each result resized to its label map's size (bilinear, as the reference's
    scripts/eval_cityscapes does), segmented, and compared pixel by pixel with the label's train IDs."""
    segmenter = Segmenter(segmenter_path, device)
    confusion = 0
    for fake_path, label_path in tqdm(partners(fake, labels, '--labels'), desc='segmenting', unit='image', disable=None):
        truth = cityscapes_train_ids(read_id_map(label_path))
        photo = np.asarray(Image.fromarray(read_rgb8(fake_path)).resize(truth.shape[::-1], Image.BILINEAR))
        confusion = confusion + confusion_matrix(truth, segmenter(photo))
    scores = fcn_scores(confusion)
    print(f'FCN-score over {len(fake)} images: per-pixel accuracy {scores["per_pixel_accuracy"]:.4f}, per-class '
          f'accuracy {scores["per_class_accuracy"]:.4f}, class IoU {scores["class_iou"]:.4f}')
    return scores


@report_user_errors
def main() -> None:
    opt = make_parser().parse_args()
    if (opt.labels is None) != (opt.segmenter is None):
        raise UserError('the FCN-score needs both --labels and --segmenter')
    if opt.real is None and opt.labels is None:
        raise UserError('nothing to score against: give --real (image metrics) or --labels with --segmenter (FCN-score)')
    fake = find_images(opt.fake, opt.fake_glob, '--fake')
    device = select_device(parse_gpu_ids(opt.gpu_ids))
    results = {}
    if opt.real is not None:
        results['images'] = image_scores(fake, find_images(opt.real, opt.real_glob, '--real'), opt.unpaired,
                                         opt.fid_weights, device)
    if opt.labels is not None:
        results['fcn_score'] = fcn_score(fake, find_images(opt.labels, '*', '--labels'), opt.segmenter, device)
    if opt.json:
        with open(opt.json, 'w') as json_file:
            json.dump(results, json_file, indent=2)
        print(f'written to {opt.json}')


if __name__ == '__main__':
    main()
