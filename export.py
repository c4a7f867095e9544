"""Export a trained generator as TorchScript and ONNX, in inference mode (as test.py --eval runs it).

Example:
    python export.py --name facades_pix2pix
writes <checkpoints_dir>/<name>/<epoch>_net_G.torchscript.pt and <epoch>_net_G.onnx (when onnx is installed).
The architecture comes from the experiment's record, as in test.py; --netG, --ngf, ... override it.
"""
import argparse
import importlib.util
import os
import warnings

import torch
import torch.nn as nn

from models.record import architecture_overrides
from models.translator import Translator
from options.base_options import add_checkpoint_flags, add_crop_size_flag, add_recorded_architecture_flags
from util import checkpoint
from util.errors import ArgumentParser, UserError, report_user_errors


def make_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_checkpoint_flags(parser)
    add_crop_size_flag(parser)
    parser.add_argument('--out_dir', type=str, default=None, help='where to write the files; default: the experiment folder')
    add_recorded_architecture_flags(parser)
    return parser


def export_torchscript(net: nn.Module, example: torch.Tensor, path: str) -> None:
    """Traced, so the U-Net's image-side check is fixed at trace time (hence its TracerWarning is muted)."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        torch.jit.trace(net, example).save(path)


def export_onnx(net: nn.Module, example: torch.Tensor, path: str) -> None:
    """ONNX with a free batch dimension; the sides stay those of `example`."""
    batch = torch.export.Dim('batch', min=1, max=1024)
    torch.onnx.export(net, (example,), path, input_names=['input'], output_names=['output'],
                      dynamic_shapes={'x': {0: batch}}, dynamo=True, external_data=False, verbose=False)


def onnx_available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ('onnx', 'onnxscript'))


def export_generator(opt: argparse.Namespace) -> list[str]:
    """Write the TorchScript file and, where onnx is installed, the ONNX file; return their paths."""
    folder = checkpoint.experiment_dir(opt)
    translator = Translator.from_checkpoint(folder, opt.epoch, **architecture_overrides(opt))
    example = torch.randn(1, translator.generator_input_nc, opt.crop_size, opt.crop_size)
    out_dir = opt.out_dir or folder
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, f'{opt.epoch}_net_G')
    paths = [stem + '.torchscript.pt']
    export_torchscript(translator.net, example, paths[0])
    if onnx_available():
        paths.append(stem + '.onnx')
        export_onnx(translator.net, example, paths[1])
    else:
        print('onnx or onnxscript is not installed: skipped the ONNX export (pip install onnx onnxscript)')
    return paths


@report_user_errors
def main() -> None:
    opt = make_parser().parse_args()
    if opt.crop_size <= 0:
        raise UserError(f'--crop_size {opt.crop_size}: must be a positive image side')
    for path in export_generator(opt):
        print(f'wrote {path}')


if __name__ == '__main__':
    main()
