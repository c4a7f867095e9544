"""Translate images with a trained generator, at their own size: the Python API behind predict.py and export.py.

    from models.translator import Translator
    translate = Translator.from_checkpoint('checkpoints/facades_pix2pix')      # latest_net_G.pth, eval mode
    photo = translate(Image.open('labels.png'))                                # PIL in, PIL out, same size

The architecture comes from the experiment's record (training-state file, else train_opt.txt), as in test.py;
keyword arguments (netG=..., ngf=...) override it, e.g. for a reference checkpoint without a record.
A colorization checkpoint (recorded --model colorization, or model='colorization') takes any image, feeds its
lightness L to the generator and gives back an sRGB photo made of that L and the generated colour ab.
"""
import argparse
import copy
from typing import Callable

import numpy as np
import torch
from PIL import Image

from data.base_dataset import to_tensor
from models import networks
from models.speed import SpeedSettings, amp_if_native, prepare_network, tune
from util import checkpoint
from util.errors import UserError
from util.hardware import native_autocast_dtype, select_device
from util.image_io import DeepOrPil, is_deep, to_array, with_channels
from util.lab import lab_to_rgb, rgb_array, rgb_to_lab
from util.rng import rng_untouched

# The reference's pix2pix defaults: what a checkpoint without a record was trained with unless told otherwise.
REFERENCE_ARCHITECTURE = {'netG': 'unet_256', 'ngf': 64, 'norm': 'batch', 'no_dropout': False,
                          'input_nc': 3, 'output_nc': 3, 'direction': 'AtoB', 'model': 'pix2pix'}
# What differs from them for the reference's other models.
REFERENCE_MODEL_DEFAULTS = {'colorization': {'input_nc': 1, 'output_nc': 2}}


def add_architecture_overrides(parser: argparse.ArgumentParser) -> None:
    """Flags that override the recorded architecture, for checkpoints without a record (e.g. the reference's)."""
    parser.add_argument('--netG', type=str, default=None, help='generator architecture; default: as recorded in training, else unet_256')
    parser.add_argument('--ngf', type=int, default=None, help='generator filters in the last conv layer; default: as recorded, else 64')
    parser.add_argument('--norm', type=str, default=None, help='normalization layer; default: as recorded, else batch')
    parser.add_argument('--input_nc', type=int, default=None, help='channels of the input image; default: as recorded, else 3')
    parser.add_argument('--output_nc', type=int, default=None, help='channels of the output image; default: as recorded, else 3')
    parser.add_argument('--direction', type=str, default=None, help='AtoB or BtoA, for --aligned_input; default: as recorded')
    parser.add_argument('--model', type=str, default=None,
                        help='pix2pix or colorization (L in, colour photo out); default: as recorded, else pix2pix')


def architecture_overrides(opt: argparse.Namespace) -> dict:
    return {flag: getattr(opt, flag) for flag in ('netG', 'ngf', 'norm', 'input_nc', 'output_nc', 'direction', 'model')}


class Translator:
    """A generator in eval mode that maps images in [-1, 1] of any size to images of the same size."""

    def __init__(self, net: torch.nn.Module, architecture: dict, device: torch.device):
        self.net = net.eval()
        self.architecture = architecture
        self.device = device
        self.size_multiple = networks.generator_size_multiple(architecture['netG'])
        self.settings = SpeedSettings()
        self.amp_dtype: torch.dtype | None = None

    @classmethod
    def from_checkpoint(cls, folder: str, epoch: str | int = 'latest', gpu_ids: list[int] | None = None,
                        **architecture) -> 'Translator':
        """Load <folder>/<epoch>_net_G.pth (epoch: latest, best, a number or iter_<n>) on the device --gpu_ids names."""
        label = str(epoch)
        record = checkpoint.recorded_options(folder, label, checkpoint.ARCHITECTURE_FLAGS, REFERENCE_ARCHITECTURE)
        recorded = record[0] if record else {}
        given = {flag: value for flag, value in architecture.items() if value is not None}
        model = given.get('model', recorded.get('model', REFERENCE_ARCHITECTURE['model']))
        if model not in ('pix2pix', 'colorization'):
            raise UserError(f'--model {model}: a translator runs pix2pix or colorization generators')
        chosen = {**REFERENCE_ARCHITECTURE, **REFERENCE_MODEL_DEFAULTS.get(model, {}), **recorded, **given}
        device = select_device(list(gpu_ids or []))
        net = networks.define_G(chosen['input_nc'], chosen['output_nc'], chosen['ngf'], chosen['netG'], chosen['norm'],
                                not chosen['no_dropout'], device=device)
        checkpoint.load_network(net, checkpoint.net_path(folder, label, 'G'), map_location=device)
        return cls(net, chosen, device)

    @property
    def colorization(self) -> bool:
        return self.architecture['model'] == 'colorization'

    @property
    def input_nc(self) -> int:
        return self.architecture['input_nc']

    @property
    def output_nc(self) -> int:
        return self.architecture['output_nc']

    def use_speed(self, settings: SpeedSettings) -> None:
        """Run with these settings (amp only where native; fused_adam does not apply to inference)."""
        self.settings = settings
        self.amp_dtype = native_autocast_dtype(self.device) if amp_if_native(settings.amp, self.device) else None
        self.net = prepare_network(self.net, settings)

    def choose_speed(self, example: torch.Tensor) -> str:
        """--fast for inference: time the settings on a batch shaped like `example`, keep the fastest; returns the report."""
        with rng_untouched():
            settings, _, report = tune(lambda candidate: self.speed_trial(candidate, example), self.device, training=False)
        self.use_speed(settings)
        return report

    def speed_trial(self, settings: SpeedSettings, example: torch.Tensor) -> Callable[[], None]:
        trial = copy.copy(self)
        trial.net = copy.deepcopy(self.net)
        trial.use_speed(settings)
        return lambda: trial.translate(example)

    def translate(self, batch: torch.Tensor) -> torch.Tensor:
        """NxCxHxW in [-1, 1] to NxC'xHxW in [-1, 1], float32 on the CPU."""
        with torch.no_grad(), torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            output = networks.run_at_any_size(self.net, batch.to(self.device), self.size_multiple)
        return output.float().cpu()

    def prepare(self, image: DeepOrPil, path: str = 'the input image') -> torch.Tensor:
        """The generator's input for a decoded image (PIL, or a CxHxW tensor in [0, 1]): CxHxW in [-1, 1]. For
        colorization its lightness L, as ColorizationDataset computes it (grey images as RGB with equal channels)."""
        if not self.colorization:
            image = with_channels(image, self.input_nc, path)
            return to_tensor(image) * 2 - 1
        return rgb_to_lab(rgb_array(with_channels(image, 3, path)))[0]

    def translate_images(self, batch: torch.Tensor) -> torch.Tensor:
        """prepare()d inputs (NxCxHxW) to the images to show, in [-1, 1]: the generator's output, or for colorization
        the sRGB photo made of the input's L and the generated ab."""
        output = self.translate(batch)
        return lab_to_rgb(batch.float(), output) if self.colorization else output

    def __call__(self, image: DeepOrPil) -> DeepOrPil:
        """A PIL image (any mode) to a PIL image; a CxHxW tensor in [0, 1] (e.g. 16-bit data) to one in [0, 1]."""
        output = self.translate_images(self.prepare(image)[None])[0]
        if is_deep(image):
            return (output + 1) / 2
        array = to_array(output, np.uint8)
        return Image.fromarray(array.squeeze(2) if array.shape[2] == 1 else array)
