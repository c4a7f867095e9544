"""Translate images with a trained generator, at their own size: the Python API behind predict.py and export.py.

    from models.translator import Translator
    translate = Translator.from_checkpoint('checkpoints/facades_pix2pix')      # latest_net_G.pth, eval mode
    photo = translate(Image.open('labels.png'))                                # PIL in, PIL out, same size

The architecture comes from the experiment's record (training-state file, else train_opt.txt), as in test.py;
keyword arguments (netG=..., ngf=...) override it, e.g. for a reference checkpoint without a record.
A colorization checkpoint (recorded --model colorization, or model='colorization') takes any image, feeds its
lightness L to the generator and gives back an sRGB photo made of that L and the generated colour ab. A generator
trained on label maps (--model pix2pixhd, --label_nc above 0) takes one-channel images of label IDs.
"""
import os
from typing import Callable

import numpy as np
import torch
from PIL import Image

from data.base_dataset import to_tensor
from models import networks, speed
from models.feature_clusters import CLUSTER_FILE, StyleSampler, connected_instances
from models.label_maps import encode_input, label_ids_of
from models.speed import SpeedSettings, prepare_network
from models.record import (PIX2PIXHD_ARCHITECTURE, REFERENCE_ARCHITECTURE, REFERENCE_MODEL_DEFAULTS, generator_input_channels,
                           recorded_architecture, uses_features)
from util import checkpoint
from util.errors import UserError
from util.hardware import native_autocast_dtype, select_device
from util.image_io import DeepOrPil, is_deep, to_array, with_channels
from util.lab import lab_to_rgb, rgb_array, rgb_to_lab


TRANSLATED_MODELS = ('pix2pix', 'colorization', 'pix2pixhd')


def chosen_architecture(recorded: dict | None, given: dict) -> dict:
    """The flags to build with: those given, then the record, then the defaults of the reference that made that
    kind of generator (pix2pixHD's for --netG global and local without a record; an image-input generator else)."""
    given = {flag: value for flag, value in given.items() if value is not None}
    known = {**(recorded or {}), **given}
    model = known.get('model', REFERENCE_ARCHITECTURE['model'])
    if model not in TRANSLATED_MODELS:
        raise UserError(f'--model {model}: a translator runs the generators of {", ".join(TRANSLATED_MODELS)}')
    defaults = {**REFERENCE_ARCHITECTURE, **REFERENCE_MODEL_DEFAULTS.get(model, {})}
    if recorded is None and known.get('netG', defaults['netG']) in networks.HD_GENERATORS:
        defaults.update(PIX2PIXHD_ARCHITECTURE)
    return {**defaults, **known}


class Translator:
    """A generator in eval mode that maps images in [-1, 1] of any size to images of the same size."""

    def __init__(self, net: torch.nn.Module, architecture: dict, device: torch.device, styles: StyleSampler | None = None):
        self.net = net.eval()
        self.styles = styles
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
                        cluster_path: str = CLUSTER_FILE, seed: int | None = None, **architecture) -> 'Translator':
        """Load <folder>/<epoch>_net_G.pth (epoch: latest, best, a number or iter_<n>) on the device --gpu_ids names;
        a generator with encoded features draws them from `cluster_path` (default <folder>/features_clustered_010.npy)
        with a generator seeded by `seed`."""
        label = str(epoch)
        record = recorded_architecture(folder, label)
        chosen = chosen_architecture(record[0] if record else None, architecture)
        device = select_device(list(gpu_ids or []))
        net = networks.define_G(generator_input_channels(chosen), chosen['output_nc'], chosen['ngf'], chosen['netG'],
                                chosen['norm'], not chosen['no_dropout'], device=device,
                                **networks.hd_generator_options(chosen))
        checkpoint.load_network(net, checkpoint.net_path(folder, label, 'G'), map_location=device)
        styles = None
        if uses_features(chosen):
            styles = StyleSampler.from_file(os.path.join(folder, cluster_path), chosen['feat_num'], seed)
        return cls(net, chosen, device, styles)

    @property
    def colorization(self) -> bool:
        return self.architecture['model'] == 'colorization'

    @property
    def input_nc(self) -> int:
        """Channels of the images it takes: 1 (label IDs) for a label-map generator."""
        return 1 if self.label_nc else self.architecture['input_nc']

    @property
    def generator_input_nc(self) -> int:
        """Channels the network itself sees: one-hot labels (or the image), instance edges, encoded features."""
        return generator_input_channels(self.architecture)

    @property
    def output_nc(self) -> int:
        return self.architecture['output_nc']

    def apply_speed(self, settings: SpeedSettings) -> None:
        """Run with these settings (fused_adam does not apply to inference)."""
        self.settings = settings
        self.amp_dtype = native_autocast_dtype(self.device) if settings.amp else None
        self.net = prepare_network(self.net, settings)

    def choose_speed(self, requested: SpeedSettings, fast: bool, example: torch.Tensor) -> None:
        """The requested settings (--amp only where native), or under --fast the fastest on a batch like `example`."""
        self.apply_speed(speed.choose(requested, fast, self.device,
                                      lambda candidate: self.speed_trial(candidate, example), training=False))

    def speed_trial(self, settings: SpeedSettings, example: torch.Tensor) -> Callable[[], None]:
        """This translator under `settings`: one translation of `example` for --fast to time. No copy of the network:
        an inference in eval mode changes nothing in it."""
        self.apply_speed(settings)
        return lambda: self.translate(example)

    def translate(self, batch: torch.Tensor, instances: torch.Tensor | None = None, sources: list[str] | None = None,
                  style_steps: dict[int, int] | None = None, rng: np.random.Generator | None = None) -> torch.Tensor:
        """NxCxHxW in [-1, 1] (or Nx1xHxW label IDs for a label-map generator) to NxC'xHxW in [-1, 1], float32 on the
        CPU. A generator with instance edges takes them from `instances`, else from the label map's own boundaries.
        One with encoded features gives each instance a cluster centre of its class, drawn with `rng` (default the
        translator's seeded generator) and moved on by `style_steps`[instance ID] (see style_steps_at)."""
        batch = batch.to(self.device)
        encoded = encode_input(batch, self.instance_maps(batch, instances), self.label_nc,
                               sources or ['the input label map'] * len(batch))
        if self.styles is not None:
            encoded = torch.cat((encoded, self.styles.feature_map(self.regions(batch, instances), style_steps, rng)), 1)
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

    def regions(self, batch: torch.Tensor, instances: torch.Tensor | None) -> torch.Tensor:
        """What encoded features are constant over: the label maps under --label_feat, else the instance maps, or
        for label maps without them each connected region of a class."""
        if self.architecture['label_feat']:
            return batch
        return connected_instances(batch) if instances is None else instances.to(self.device)

    @staticmethod
    def style_steps_at(regions: torch.Tensor, points: list[tuple[int, int]]) -> dict[int, int]:
        """Style steps for translate(): one per (x, y) point of an HxW region map (regions()), for the region it
        falls in."""
        steps: dict[int, int] = {}
        for x, y in points:
            if 0 <= y < regions.shape[0] and 0 <= x < regions.shape[1]:
                region = int(regions[y, x])
                steps[region] = steps.get(region, 0) + 1
        return steps

    def prepare(self, image: DeepOrPil, path: str = 'the input image') -> torch.Tensor:
        """The generator's input for a decoded image (PIL, or a CxHxW tensor in [0, 1]): CxHxW in [-1, 1]; for
        colorization its lightness L, as ColorizationDataset computes it; for a label-map generator the label IDs."""
        if self.label_nc:
            return label_ids_of(image, path)
        if not self.colorization:
            image = with_channels(image, self.input_nc, path)
            return to_tensor(image) * 2 - 1
        return rgb_to_lab(rgb_array(with_channels(image, 3, path)))[0]

    def translate_images(self, batch: torch.Tensor, instances: torch.Tensor | None = None,
                         sources: list[str] | None = None, **styles) -> torch.Tensor:
        """prepare()d inputs (NxCxHxW) to the images to show, in [-1, 1]: the generator's output, or for colorization
        the sRGB photo made of the input's L and the generated ab; `styles` go to translate()."""
        output = self.translate(batch, instances, sources, **styles)
        return lab_to_rgb(batch.float(), output) if self.colorization else output

    def __call__(self, image: DeepOrPil) -> DeepOrPil:
        """A PIL image (any mode) to a PIL image; a CxHxW tensor in [0, 1] (e.g. 16-bit data) to one in [0, 1].
        For a label-map generator: a one-channel PIL image of label IDs to an RGB photo."""
        output = self.translate_images(self.prepare(image, 'the input label map' if self.label_nc else 'the input image')[None])[0]
        if is_deep(image) and not self.label_nc:
            return (output + 1) / 2
        array = to_array(output, np.uint8)
        return Image.fromarray(array.squeeze(2) if array.shape[2] == 1 else array)
