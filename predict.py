"""Translate image files, folders or glob patterns with a trained generator, each at its own size.

Example:
    python predict.py --name facades_pix2pix --input photos/ extra/*.jpg --output translated/
Each image is reflect-padded to the sides the generator needs and the output cropped back: nothing is resized.
Outputs are PNG files named after the inputs (TIFF inputs give TIFF), 16-bit where the input was 16-bit.
A colorization checkpoint takes grey (or colour) images and writes colour photos that keep each input's lightness.
A label-map generator (--model pix2pixhd with --label_nc N) takes one-channel PNGs of label IDs; one trained with
pix2pixHD's feature encoder (--instance_feat) draws each region's style from the cluster centres of encode_features.py,
and --styles N writes N of them per input (<name>_style<k>.png), the same again for the same --seed.
"""
import argparse
import glob
import os
from collections import defaultdict

import numpy as np
import torch
from tqdm import tqdm

from data.base_dataset import split_halves
from data.image_folder import IMG_EXTENSIONS, is_image_file
from data.labeled_dataset import files_by_name, pairing_name
from models.label_maps import read_label_ids
from models.pix2pixhd_model import add_cluster_path_flag
from models.record import architecture_overrides
from models.speed import SpeedSettings
from models.translator import Translator
from options.base_options import (add_batch_size_flag, add_checkpoint_flags, add_gpu_ids_flag, add_overwrite_flag,
                                  add_recorded_architecture_flags, add_seed_flag, add_speed_flags, parse_gpu_ids)
from util import checkpoint
from util.errors import ArgumentParser, UserError, report_user_errors
from util.hardware import describe_peak_memory
from util.image_io import is_deep, output_extension, read_image, read_size, to_array
from util.util import save_image


def make_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_checkpoint_flags(parser, name_required=True)
    parser.add_argument('--input', nargs='+', required=True, help='image files, folders (searched recursively) or glob patterns')
    parser.add_argument('--output', type=str, required=True, help='folder for the translated images')
    add_gpu_ids_flag(parser)
    add_batch_size_flag(parser)
    parser.add_argument('--aligned_input', action='store_true',
                        help='inputs are A|B side by side (as in datasets); translate the half --direction starts from')
    add_overwrite_flag(parser)
    parser.add_argument('--instances', type=str, default=None,
                        help='folder of instance-ID PNGs named as the inputs, for a generator with instance edges; '
                             'default: the edges of the label maps themselves')
    styles = parser.add_argument_group("encoded features (a generator trained with pix2pixHD's --instance_feat or --label_feat)")
    styles.add_argument('--styles', type=int, default=1, help='translations per input, each region with a cluster centre of its class drawn anew: <name>_style<k>.png for k = 0..N-1 when above 1')
    add_seed_flag(styles, 'seed of the style draws: the same seed gives the same images again; default: new draws each run')
    add_cluster_path_flag(styles)
    add_speed_flags(parser, inference_only=True)
    add_recorded_architecture_flags(parser)
    return parser


def find_inputs(patterns: list[str], output_dir: str) -> dict[str, str]:
    """Input path -> output path: folders keep their inner layout, files and glob matches go in flat."""
    pairs: dict[str, str] = {}
    for pattern in patterns:
        if os.path.isdir(pattern):
            found = [(path, os.path.relpath(path, pattern)) for path in sorted(glob.glob(os.path.join(pattern, '**', '*'), recursive=True))
                     if is_image_file(path)]
        else:
            found = [(path, os.path.basename(path)) for path in sorted(glob.glob(pattern)) if os.path.isfile(path)]
        if not found:
            raise UserError(f'--input {pattern}: no image files there ({", ".join(IMG_EXTENSIONS)})')
        for path, relative in found:
            pairs[path] = os.path.join(output_dir, os.path.splitext(relative)[0] + output_extension(path))
    check_distinct_outputs(pairs)
    return pairs


def check_distinct_outputs(pairs: dict[str, str]) -> None:
    owners: dict[str, str] = {}
    for path, output in pairs.items():
        if output in owners:
            raise UserError(f'--input: {owners[output]} and {path} would both be written to {output}; '
                            'rename one or translate them in separate runs')
        owners[output] = path


def style_outputs(output: str, styles: int) -> list[str]:
    """The files one input's translations go to: `output` itself, or <name>_style<k><ext> for each of `styles`."""
    if styles == 1:
        return [output]
    stem, extension = os.path.splitext(output)
    return [f'{stem}_style{k}{extension}' for k in range(styles)]


def input_size(path: str, aligned: bool) -> tuple[int, int]:
    """(width, height) of the image the generator gets, read from the file header where possible."""
    width, height = read_size(path)
    return (width // 2 if aligned else width), height


def load_input(path: str, translator: Translator, aligned: bool) -> tuple[torch.Tensor, bool]:
    """The generator's input in [-1, 1] (for colorization the image's lightness; label IDs, read by the one ID-map
    reader, for a label-map generator) and whether the file was deeper than 8 bits; predict.py and serve.py read
    their inputs here."""
    if translator.label_nc:
        if aligned:
            raise UserError('--aligned_input: this generator takes label maps (one-channel PNGs of label IDs), not A|B pairs')
        return read_label_ids(path), False
    image = read_image(path)
    if aligned:
        halves = split_halves(image)
        image = halves[0] if translator.architecture['direction'] == 'AtoB' else halves[1]
    return translator.prepare(image, path), is_deep(image)


def instance_files(folder: str | None, translator: Translator) -> dict[str, str] | None:
    """The instance maps of --instances by pairing name (Cityscapes' _gtFine_instanceIds and _gtFine_labelIds
    suffixes aside), for a generator with instance edges or features; None otherwise."""
    if folder is None or not (translator.uses_instances or translator.styles is not None):
        return None
    return files_by_name(folder)


def load_instances(paths: list[str], files: dict[str, str] | None, folder: str | None) -> torch.Tensor | None:
    """The instance maps of a batch, each the file of `files` (instance_files) named as its input."""
    if files is None:
        return None
    maps = []
    for path in paths:
        instance_path = files.get(pairing_name(os.path.dirname(path), path))
        if instance_path is None:
            raise UserError(f'--instances {folder}: no instance map named as {path}')
        maps.append(read_label_ids(instance_path))
        if maps[-1].shape[1:] != input_size(path, False)[::-1]:
            raise UserError(f'instance map {instance_path} is not the size of {path}; give maps of the same size')
    return torch.stack(maps)


def batches_by_size(paths: list[str], aligned: bool, batch_size: int) -> list[list[str]]:
    """Images of one size together, `batch_size` at a time, in input order within each size."""
    groups: dict[tuple[int, int], list[str]] = defaultdict(list)
    for path in paths:
        groups[input_size(path, aligned)].append(path)
    return [group[i:i + batch_size] for group in groups.values() for i in range(0, len(group), batch_size)]


@report_user_errors
def main() -> None:
    opt = make_parser().parse_args()
    if opt.batch_size < 1 or opt.styles < 1:
        raise UserError(f'--batch_size {opt.batch_size}, --styles {opt.styles}: each must be 1 or more')
    pairs = {path: style_outputs(output, opt.styles) for path, output in find_inputs(opt.input, opt.output).items()}
    todo = [path for path, outputs in pairs.items() if opt.overwrite or not all(map(os.path.exists, outputs))]
    if len(todo) < len(pairs):
        print(f'skipping {len(pairs) - len(todo)} image(s) whose output exists (pass --overwrite to replace them)')
    translator = Translator.from_checkpoint(checkpoint.experiment_dir(opt), opt.epoch, parse_gpu_ids(opt.gpu_ids),
                                            opt.cluster_path, opt.seed, **architecture_overrides(opt))
    if opt.styles > 1 and translator.styles is None:
        raise UserError(f'--styles {opt.styles}: this generator has no encoded features to vary (it was trained '
                        'without --instance_feat or --label_feat)')
    batches = batches_by_size(todo, opt.aligned_input, opt.batch_size)
    instance_maps = instance_files(opt.instances, translator)
    if translator.uses_instances and opt.instances is None and translator.label_nc:
        print('note: no --instances folder: the instance edges are the label maps\' own class boundaries')
    fast = opt.fast and bool(batches)
    example = torch.stack([load_input(path, translator, opt.aligned_input)[0] for path in batches[0]]) if fast else None
    translator.choose_speed(SpeedSettings.from_opt(opt), fast, example)
    with tqdm(total=len(todo), desc='translating', unit='image', disable=None) as bar:
        for batch_paths in batches:
            inputs = [load_input(path, translator, opt.aligned_input) for path in batch_paths]
            batch = torch.stack([tensor for tensor, _ in inputs])
            instances = load_instances(batch_paths, instance_maps, opt.instances)
            for style in range(opt.styles):
                outputs = translator.translate_images(batch, instances, batch_paths)
                for path, (_, deep), output in zip(batch_paths, inputs, outputs):
                    write_output(output, pairs[path][style], deep)
            bar.update(len(batch_paths))
    print(f'wrote {len(todo) * opt.styles} image(s) to {opt.output}; {describe_peak_memory(translator.device)}')


def write_output(output: torch.Tensor, path: str, deep: bool) -> None:
    """The output at 16 bits when its input had more than 8, with the generator's channel count (1, 3 or 4; RGB for colorization)."""
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    save_image(to_array(output, np.uint16 if deep else np.uint8), path)


if __name__ == '__main__':
    main()
