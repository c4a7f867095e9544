"""Translate images with a trained generator, at their own size: the Python API behind predict.py and export.py.

    from models.translator import Translator
    translate = Translator.from_checkpoint('checkpoints/facades_pix2pix')      # latest_net_G.pth, eval mode
    photo = translate(Image.open('labels.png'))                                # PIL in, PIL out, same size

The architecture comes from the experiment's record (training-state file, else train_opt.txt), as in test.py;
keyword arguments (netG=..., ngf=...) override it, e.g. for a reference checkpoint without a record. A generator
trained on label maps (--model pix2pixhd, --label_nc above 0) takes one-channel images of label IDs.
"""
import argparse
import copy
from typing import Callable

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image

from models import networks
from models.label_maps import encode_input, label_ids_of
from models.speed import SpeedSettings, amp_if_native, prepare_network, tune
from util import checkpoint
from util.errors import UserError
from util.hardware import native_autocast_dtype, select_device
from util.image_io import DeepOrPil, is_deep, to_array, with_channels
from util.rng import rng_untouched

# The reference's pix2pix defaults: what a checkpoint without a record was trained with unless told otherwise.
REFERENCE_ARCHITECTURE = {'netG': 'unet_256', 'ngf': 64, 'norm': 'batch', 'no_dropout': False,
                          'input_nc': 3, 'output_nc': 3, 'direction': 'AtoB',
                          'n_downsample_global': 4, 'n_blocks_global': 9, 'n_local_enhancers': 1, 'n_blocks_local': 3}
IMAGE_INPUT = {'label_nc': 0, 'no_instance': True}  # what a record without these flags (not --model pix2pixhd) means
# NVIDIA/pix2pixHD's defaults, for a checkpoint of its generators (--netG global or local) without a record.
PIX2PIXHD_ARCHITECTURE = {**REFERENCE_ARCHITECTURE, 'netG': 'global', 'norm': 'instance', 'no_dropout': True,
                          'label_nc': 35, 'no_instance': False}
OVERRIDES = ('netG', 'ngf', 'norm', 'input_nc', 'output_nc', 'direction', 'n_downsample_global', 'n_blocks_global',
             'n_local_enhancers', 'n_blocks_local', 'label_nc', 'no_instance')


def add_architecture_overrides(parser: argparse.ArgumentParser) -> None:
    """Flags that override the recorded architecture, for checkpoints without a record (e.g. the reference's)."""
    parser.add_argument('--netG', type=str, default=None, help='generator architecture; default: as recorded in training, else unet_256')
    parser.add_argument('--ngf', type=int, default=None, help='generator filters in the last conv layer; default: as recorded, else 64')
    parser.add_argument('--norm', type=str, default=None, help='normalization layer; default: as recorded, else batch (instance for global and local)')
    parser.add_argument('--input_nc', type=int, default=None, help='channels of the input image; default: as recorded, else 3')
    parser.add_argument('--output_nc', type=int, default=None, help='channels of the output image; default: as recorded, else 3')
    parser.add_argument('--direction', type=str, default=None, help='AtoB or BtoA, for --aligned_input; default: as recorded')
    for flag, meaning in (('n_downsample_global', 'downsamplings of --netG global'), ('n_blocks_global', 'residual blocks of --netG global'),
                          ('n_local_enhancers', 'local enhancers of --netG local'), ('n_blocks_local', 'residual blocks per local enhancer')):
        parser.add_argument(f'--{flag}', type=int, default=None, help=f'{meaning}; default: as recorded, else pix2pixHD\'s')
    parser.add_argument('--label_nc', type=int, default=None,
                        help='label classes: inputs are label-ID maps; 0: inputs are images; default: as recorded, else 35 '
                             'for --netG global and local (pix2pixHD), 0 for the others')
    parser.add_argument('--no_instance', action='store_const', const=True, default=None,
                        help='the generator takes no instance-edge channel; default: as recorded, else pix2pixHD\'s (it does)')


def architecture_overrides(opt: argparse.Namespace) -> dict:
    return {flag: getattr(opt, flag) for flag in OVERRIDES}


def chosen_architecture(record: dict | None, given: dict) -> dict:
    """The flags to build with: given ones, then the record (flags it lacks: an image-input generator), then the
    defaults of the reference that made that kind of generator (pix2pixHD for global and local)."""
    netG = given.get('netG') or (record or {}).get('netG') or REFERENCE_ARCHITECTURE['netG']
    if record is not None:
        defaults = {**REFERENCE_ARCHITECTURE, **IMAGE_INPUT}
    else:
        defaults = PIX2PIXHD_ARCHITECTURE if netG in networks.HD_GENERATORS else {**REFERENCE_ARCHITECTURE, **IMAGE_INPUT}
    return {**defaults, **(record or {}), **{flag: value for flag, value in given.items() if value is not None}}


class Translator:
    """A generator in eval mode that maps images in [-1, 1] of any size to images of the same size."""

    def __init__(self, net: torch.nn.Module, architecture: dict, device: torch.device):
        self.net = net.eval()
        self.architecture = architecture
        self.device = device
        self.size_multiple = networks.generator_size_multiple(architecture['netG'], architecture['n_downsample_global'],
                                                              architecture['n_local_enhancers'])
        self.label_nc = architecture['label_nc']
        self.uses_instances = not architecture['no_instance']
        self.settings = SpeedSettings()
        self.amp_dtype: torch.dtype | None = None

    @classmethod
    def from_checkpoint(cls, folder: str, epoch: str | int = 'latest', gpu_ids: list[int] | None = None,
                        **architecture) -> 'Translator':
        """Load <folder>/<epoch>_net_G.pth (epoch: latest, best, a number or iter_<n>) on the device --gpu_ids names."""
        label = str(epoch)
        record = checkpoint.recorded_options(folder, label, checkpoint.ARCHITECTURE_FLAGS, PIX2PIXHD_ARCHITECTURE)
        chosen = chosen_architecture(record[0] if record else None, architecture)
        device = select_device(list(gpu_ids or []))
        generator_input_nc = (chosen['label_nc'] or chosen['input_nc']) + int(not chosen['no_instance'])
        net = networks.define_G(generator_input_nc, chosen['output_nc'], chosen['ngf'], chosen['netG'], chosen['norm'],
                                not chosen['no_dropout'], device=device,
                                **networks.hd_generator_options(chosen))
        checkpoint.load_network(net, checkpoint.net_path(folder, label, 'G'), map_location=device)
        return cls(net, chosen, device)

    @property
    def input_nc(self) -> int:
        """Channels of the images it takes: 1 (label IDs) for a label-map generator."""
        return 1 if self.label_nc else self.architecture['input_nc']

    @property
    def generator_input_nc(self) -> int:
        """Channels the network itself sees: one-hot labels (or the image), plus the instance edges."""
        return (self.label_nc or self.architecture['input_nc']) + int(self.uses_instances)

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

    def translate(self, batch: torch.Tensor, instances: torch.Tensor | None = None,
                  sources: list[str] | None = None) -> torch.Tensor:
        """NxCxHxW in [-1, 1] (or Nx1xHxW label IDs for a label-map generator) to NxC'xHxW in [-1, 1], float32 on the
        CPU. A generator with instance edges takes them from `instances`, else from the label map's own boundaries."""
        batch = batch.to(self.device)
        encoded = encode_input(batch, self.instance_maps(batch, instances), self.label_nc,
                               sources or ['the input label map'] * len(batch))
        with torch.no_grad(), torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            output = networks.run_at_any_size(self.net, encoded, self.size_multiple)
        return output.float().cpu()

    def instance_maps(self, batch: torch.Tensor, instances: torch.Tensor | None) -> torch.Tensor | None:
        """The maps the instance edges come from: `instances`, else a label map's own; None without instance edges."""
        if not self.uses_instances:
            return None
        if instances is None and not self.label_nc:
            raise UserError('this generator also takes the edges of an instance map (trained with --label_nc 0 without '
                            '--no_instance): pass the maps to Translator.translate(batch, instances); predict.py reads none')
        return (batch if instances is None else instances).to(self.device)

    def __call__(self, image: DeepOrPil) -> DeepOrPil:
        """A PIL image (any mode) to a PIL image; a CxHxW tensor in [0, 1] (e.g. 16-bit data) to one in [0, 1].
        For a label-map generator: a one-channel PIL image of label IDs to an RGB photo."""
        if self.label_nc:
            return to_pil(self.translate(label_ids_of(image, 'the input label map')[None])[0])
        image = with_channels(image, self.input_nc, 'the input image')
        tensor = image if is_deep(image) else TF.to_tensor(image)
        output = self.translate(tensor[None] * 2 - 1)[0]
        if is_deep(image):
            return (output + 1) / 2
        return to_pil(output)


def to_pil(output: torch.Tensor) -> Image.Image:
    array = to_array(output, np.uint8)
    return Image.fromarray(array.squeeze(2) if array.shape[2] == 1 else array)
