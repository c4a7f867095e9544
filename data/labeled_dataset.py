"""pix2pixHD's label data: label-ID maps, instance-ID maps and target images in sibling folders, paired by name.

<dataroot>/<phase>_label/  label IDs 0..label_nc-1, single-channel 8- or 16-bit PNG (RGB images under --label_nc 0)
<dataroot>/<phase>_inst/   instance IDs, single-channel 8- or 16-bit PNG (read unless --no_instance)
<dataroot>/<phase>_img/    the target images (not needed at test time)
<dataroot>/<phase>_feat/   with --load_features: pix2pixHD's precomputed feature maps (precompute_feature_maps.py)

Under --label_nc 0, pix2pixHD's folder names <phase>_A/ and <phase>_B/ are read too. A file pairs with the one of the
same name (path under its folder, less the extension and Cityscapes' _gtFine_labelIds-style suffixes, so
pix2pixHD's datasets/cityscapes pairs as it is).
"""
import argparse
import copy
import os
import random
from typing import NamedTuple

import numpy as np
import torch
import torchvision.transforms as transforms

from data.base_dataset import (BaseDataset, check_crop_fits, check_load_size, get_params, get_transform, image_size,
                               readable_images, resize_crop_flip, to_tensor)
from data.image_folder import make_dataset
from util.errors import UserError
from util.image_io import DeepOrPil, read_id_map, read_size, with_channels

CITYSCAPES_SUFFIXES = ('_gtFine_labelIds', '_gtFine_instanceIds', '_gtCoarse_labelIds', '_gtCoarse_instanceIds',
                       '_leftImg8bit')


def add_label_options(parser: argparse.ArgumentParser, labels: argparse._ArgumentGroup | None = None) -> argparse.ArgumentParser:
    """--label_nc and --no_instance (in the group `labels`, by default a new one "label maps"), defined once by
    whichever of the model and the dataset asks first."""
    defined = {action.dest for action in parser._actions}
    labels = labels or parser.add_argument_group('label maps')
    if 'label_nc' not in defined:
        labels.add_argument('--label_nc', type=int, default=35,
                            help='label classes: label maps hold IDs 0..label_nc-1, one-hot encoded to label_nc '
                                 'channels; 0 reads the label maps as RGB images')
    if 'no_instance' not in defined:
        labels.add_argument('--no_instance', action='store_true',
                            help='do not read instance maps (<phase>_inst/); with them, their boundaries are one '
                                 'more input channel')
    return parser


class Sample(NamedTuple):
    label: str
    inst: str | None
    image: str | None
    feat: str | None = None


class LabeledDataset(BaseDataset):
    """Items {'label', 'inst' (with instances), 'image' (when <phase>_img exists), 'path' (the label map's)}; one
    crop and flip for all three, label and instance maps resized by nearest neighbour so IDs stay exact."""

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        parser.add_argument_group("pix2pixHD's feature encoder (--instance_feat, --label_feat)").add_argument(
                            '--load_features', action='store_true',
                            help='with --instance_feat or --label_feat: read G\'s feature channels from <phase>_feat/ '
                                 '(precompute_feature_maps.py writes them) instead of encoding the photo')
        return add_label_options(parser)

    def __init__(self, opt, folder: str | None = None):
        """`folder` holds the <phase>_label/ (_inst/, _img/) folders; default --dataroot (validation passes its own)."""
        if folder is not None:
            opt = copy.copy(opt)
            opt.dataroot = folder
        super().__init__(opt)
        if opt.label_nc < 0:
            raise UserError(f'--label_nc {opt.label_nc}: give the number of label classes, or 0 for RGB label images')
        check_load_size(opt)
        self.samples = find_samples(opt)
        for sample in self.samples:
            check_same_size(sample)
        self.id_cache: dict[str, np.ndarray] = {}  # as stored (8 or 16 bits a pixel), not as float tensors
        if opt.cache_dataset:
            self.id_cache = {path: read_id_map(path) for path in self.id_map_paths()}
            self.cache_images([path for sample in self.samples for path in sample
                               if path is not None and path not in self.id_cache])

    def id_map_paths(self) -> list[str]:
        labels = [sample.label for sample in self.samples] if self.opt.label_nc > 0 else []
        return labels + [sample.inst for sample in self.samples if sample.inst is not None]

    def load_ids(self, path: str) -> torch.Tensor:
        """The ID map at `path` as a 1xHxW float32 tensor holding every ID exactly."""
        cached = self.id_cache.get(path)
        ids = cached if cached is not None else read_id_map(path)
        return torch.from_numpy(ids.astype(np.float32))[None]

    def load_item(self, index: int, rng: random.Random) -> dict:
        sample = self.samples[index]
        label = self.load_label(sample.label)
        size = image_size(label)
        check_crop_fits(self.opt, size, sample.label)
        params = get_params(self.opt, size, rng)
        keep_ids = transforms.Compose(resize_crop_flip(self.opt, params, transforms.InterpolationMode.NEAREST_EXACT))
        item = {'label': keep_ids(label) if self.opt.label_nc > 0
                else get_transform(self.opt, params, self.opt.input_nc)(label)}
        if sample.inst is not None:
            item['inst'] = keep_ids(self.load_ids(sample.inst))
        if sample.image is not None:
            image = with_channels(self.load_image(sample.image), self.opt.output_nc, sample.image)
            item['image'] = get_transform(self.opt, params, self.opt.output_nc)(image)
        if sample.feat is not None:
            features = keep_ids(to_tensor(with_channels(self.load_image(sample.feat), 3, sample.feat)))
            item['feat'] = features * 2 - 1
        item['path'] = sample.label
        return item

    def load_label(self, path: str) -> DeepOrPil:
        """Label IDs (checked against --label_nc) as a 1xHxW tensor, or under --label_nc 0 the label image."""
        if self.opt.label_nc == 0:
            return with_channels(self.load_image(path), self.opt.input_nc, path)
        ids = self.load_ids(path)
        largest = int(ids.max()) if ids.numel() else 0
        if largest >= self.opt.label_nc:
            raise UserError(f'label map {path} holds ID {largest}, not below --label_nc {self.opt.label_nc}; set '
                            f'--label_nc to at least {largest + 1}, or fix the file')
        return ids

    def __len__(self) -> int:
        return len(self.samples)


def split_folder(opt, *kinds: str) -> str | None:
    """The first existing folder <dataroot>/<phase>_<kind>, or None."""
    for kind in kinds:
        folder = os.path.join(opt.dataroot, f'{opt.phase}_{kind}')
        if os.path.isdir(folder):
            return folder
    return None


def find_samples(opt) -> list[Sample]:
    """The label maps of <phase>_label with their instance maps and images, the partners checked both ways."""
    label_dir = split_folder(opt, 'label', *(('A',) if opt.label_nc == 0 else ()))
    if label_dir is None:
        raise UserError(f'{os.path.join(opt.dataroot, opt.phase + "_label")} is not a folder; --dataset_mode labeled '
                        'reads label maps from <dataroot>/<phase>_label/: check --dataroot and --phase')
    labels = files_by_name(label_dir)
    instance_dir = wanted_folder(opt, 'inst', not opt.no_instance,
                                 'add the instance maps there, or pass --no_instance to train without them')
    insts = partners(labels, label_dir, instance_dir, 'instance map')
    image_dir = split_folder(opt, 'img', *(('B',) if opt.label_nc == 0 else ()))
    if image_dir is None and opt.isTrain:
        raise UserError(f'{os.path.join(opt.dataroot, opt.phase + "_img")} is not a folder; training needs the '
                        'target images next to the label maps')
    images = partners(labels, label_dir, image_dir, 'image')
    feature_dir = wanted_folder(opt, 'feat', getattr(opt, 'load_features', False), '--load_features reads the feature '
                                'maps there: run precompute_feature_maps.py --name <the encoder\'s experiment> first')
    feats = partners(labels, label_dir, feature_dir, 'feature map')
    samples = [Sample(path, insts.get(name), images.get(name), feats.get(name)) for name, path in sorted(labels.items())]
    samples = samples[:int(min(opt.max_dataset_size, len(samples)))]
    return readable_samples(samples, label_dir) if opt.skip_bad_images else samples


def wanted_folder(opt, kind: str, wanted: bool, advice: str) -> str | None:
    """<dataroot>/<phase>_<kind> when `wanted` (one line ending in `advice` when it is not there), else None."""
    if not wanted:
        return None
    folder = split_folder(opt, kind)
    if folder is None:
        raise UserError(f'{os.path.join(opt.dataroot, f"{opt.phase}_{kind}")} is not a folder; {advice}')
    return folder


def files_by_name(folder: str) -> dict[str, str]:
    """The images under `folder` by pairing name; two files with one name are an error."""
    found: dict[str, str] = {}
    for path in make_dataset(folder):
        name = pairing_name(folder, path)
        if name in found:
            raise UserError(f'{found[name]} and {path} pair by the same name {name!r}; keep one of them')
        found[name] = path
    return found


def pairing_name(folder: str, path: str) -> str:
    stem = os.path.splitext(os.path.relpath(path, folder))[0]
    for suffix in CITYSCAPES_SUFFIXES:
        if stem.endswith(suffix):
            return stem[:-len(suffix)]
    return stem


def partners(labels: dict[str, str], label_dir: str, folder: str | None, kind: str) -> dict[str, str]:
    """The files of `folder` by pairing name, one for every label map and none without one."""
    if folder is None:
        return {}
    found = files_by_name(folder)
    for name, label in sorted(labels.items()):
        if name not in found:
            raise UserError(f'label map {label} has no {kind} of the same name in {folder}; add it, or remove the '
                            'label map')
    for name, path in sorted(found.items()):
        if name not in labels:
            raise UserError(f'{kind} {path} has no label map of the same name in {label_dir}; add it, or remove '
                            f'the {kind}')
    return found


def check_same_size(sample: Sample) -> None:
    (w, h) = read_size(sample.label)
    for path in (sample.inst, sample.image, sample.feat):
        if path is not None and read_size(path) != (w, h):
            pw, ph = read_size(path)
            raise UserError(f'{path} is {pw}x{ph} but its label map {sample.label} is {w}x{h}; the label map, '
                            'instance map and image of a sample must be the same size')


def readable_samples(samples: list[Sample], label_dir: str) -> list[Sample]:
    """Under --skip_bad_images, the samples whose files all decode (each other one is reported on stderr)."""
    readable = set(readable_images([path for sample in samples for path in sample if path is not None]))
    kept = [sample for sample in samples if all(path is None or path in readable for path in sample)]
    if not kept:
        raise UserError(f'{label_dir} holds no sample whose files all decode; check --dataroot and --phase')
    return kept
