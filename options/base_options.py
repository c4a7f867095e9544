"""Flags shared by training and testing, parsed into one `opt` namespace, and the flag groups that predict.py,
serve.py and export.py take too (each flag is declared once, here or in the class it concerns)."""
import argparse

import data
import models
from data.labeled_dataset import add_label_options
from models.pix2pixhd_model import add_encoder_options
from models.record import REFERENCE_ARCHITECTURE
from util import checkpoint
from util.distributed import is_main_process
from util.hardware import available_cpus
from util.errors import ArgumentParser, UserError


class BaseOptions:
    """Defines the common flags; subclasses add theirs in `initialize` and set `is_train`."""

    is_train = False

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        experiment = parser.add_argument_group('experiment and checkpoint')
        experiment.add_argument('--dataroot', help='required: folder of the dataset (holding train/, val/, test/ for aligned data)')
        add_checkpoint_flags(experiment)
        add_gpu_ids_flag(experiment)
        add_seed_flag(experiment, 'seed python, numpy and torch (and the style draws of encoded features) and use deterministic algorithms')
        experiment.add_argument('--load_iter', type=int, default=0, help='if above 0, load the checkpoint saved as iter_<load_iter> instead of --epoch')
        experiment.add_argument('--suffix', type=str, default='', help='appended to --name, formatted with the options, e.g. {model}_{netG}_size{load_size}')
        experiment.add_argument('--verbose', action='store_true', help='print network structures and more')
        networks = parser.add_argument_group('networks')
        loading = parser.add_argument_group('data loading')
        add_architecture_flags(networks, parser.add_argument_group("pix2pixHD generators (--netG global or local)"), loading)
        networks.add_argument('--netD', type=str, default='basic', help='discriminator [basic | n_layers | pixel | multiscale]; basic is the 70x70 PatchGAN, multiscale pix2pixHD\'s --num_D PatchGANs at halved scales')
        networks.add_argument('--ndf', type=int, default=64, help='discriminator filters in the first conv layer')
        networks.add_argument('--n_layers_D', type=int, default=3, help='conv layers of the discriminator when --netD n_layers or multiscale')
        networks.add_argument('--num_D', type=int, default=2, help='discriminators (scales) of --netD multiscale')
        initialization = parser.add_argument_group('weight initialization')
        initialization.add_argument('--init_type', type=str, default='normal', help='weight initialization [normal | xavier | kaiming | orthogonal]')
        initialization.add_argument('--init_gain', type=float, default=0.02, help='scale of the normal, xavier and orthogonal initializations')
        loading.add_argument('--dataset_mode', type=str, default='aligned', help='dataset class to load [aligned | single | labeled | colorization]')
        add_batch_size_flag(loading)
        loading.add_argument('--load_size', '--loadSize', type=int, default=286, help='resize images to this size first')
        add_crop_size_flag(loading)
        loading.add_argument('--preprocess', '--resize_or_crop', type=str, default='resize_and_crop', help='resizing and cropping at load time [resize_and_crop | crop | scale_width | scale_width_and_crop | none]')
        loading.add_argument('--no_flip', action='store_true', help='turn off random horizontal flips')
        loading.add_argument('--serial_batches', action='store_true', help='take images in order instead of shuffling')
        loading.add_argument('--num_threads', '--nThreads', type=int, default=min(4, available_cpus()), help='data loading worker processes (the reference\'s 4, at most one per CPU this process may use)')
        loading.add_argument('--max_dataset_size', type=float, default=float('inf'), help='use at most this many images of the dataset')
        loading.add_argument('--skip_bad_images', action='store_true', help='leave out unreadable image files with a warning instead of stopping')
        loading.add_argument('--cache_dataset', action='store_true', help='decode every image once and keep it in memory; loader workers stay alive between epochs')
        display = parser.add_argument_group('display and tracking')
        display.add_argument('--display_id', type=int, default=1, help='visdom window id; 0 or less turns the live display off')
        display.add_argument('--display_server', type=str, default='http://localhost', help='visdom server address')
        display.add_argument('--display_env', type=str, default='main', help='visdom environment name')
        display.add_argument('--display_port', type=int, default=8097, help='visdom server port')
        display.add_argument('--display_ncols', type=int, default=4, help='images per row in the visdom image grid')
        display.add_argument('--display_winsize', type=int, default=256, help='image size in the visdom display and the HTML pages')
        display.add_argument('--use_wandb', action='store_true', help='log to Weights & Biases: losses, learning rate, images, validation (train.py) or results and metrics (test.py), the options as config; the run is named after --name; offline with WANDB_MODE=offline')
        display.add_argument('--wandb_project_name', type=str, default='CycleGAN-and-pix2pix', help='wandb project of the run (--use_wandb)')
        add_speed_flags(parser)
        return parser

    def make_parser(self) -> argparse.ArgumentParser:
        parser = ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter, add_help=False)
        return self.initialize(parser)

    def gather_options(self, args: list[str] | None = None) -> tuple[argparse.Namespace, argparse.ArgumentParser]:
        """Parse the base flags, then let the chosen model and dataset add or change theirs."""
        parser = self.make_parser()
        opt, _ = parser.parse_known_args(args)
        parser = models.get_option_setter(opt.model)(parser, self.is_train)
        opt, _ = parser.parse_known_args(args)
        parser = data.get_option_setter(opt.dataset_mode)(parser, self.is_train)
        parser.add_argument('-h', '--help', action='help', help='show this help message, with the chosen model\'s defaults, and exit')
        opt = parser.parse_args(args)
        if opt.dataroot is None:
            parser.error('the following arguments are required: --dataroot')
        return opt, parser

    def adjust(self, opt: argparse.Namespace, args: list[str] | None) -> None:
        """Change parsed values before parse() returns them; subclasses override."""

    def parse(self, args: list[str] | None = None) -> argparse.Namespace:
        """Parse flags, apply --suffix, turn --gpu_ids into a list and print the options: they are final when this returns."""
        opt, self.parser = self.gather_options(args)
        opt.isTrain = self.is_train
        if opt.suffix:
            opt.name = opt.name + '_' + opt.suffix.format(**vars(opt))
        opt.gpu_ids = parse_gpu_ids(opt.gpu_ids)
        self.adjust(opt, args)
        if is_main_process():
            print(format_options(opt, self.parser))
        return opt

    def save(self, opt: argparse.Namespace, speed: dict) -> None:
        """Rank 0 writes <checkpoints_dir>/<name>/<phase>_opt.txt, once the model is set up, with the speed settings
        used; test.py on the training split writes test_train_opt.txt, never over the training record."""
        if is_main_process():
            phase = 'test_train' if opt.phase == 'train' and not self.is_train else opt.phase
            checkpoint.write_options_file(checkpoint.experiment_dir(opt), phase, format_options(opt, self.parser, speed))


def format_options(opt: argparse.Namespace, parser: argparse.ArgumentParser, used: dict | None = None) -> str:
    """The options as the reference prints them, one `name: value [default: d]` line each; `used` holds values
    decided after parsing (the speed settings --fast chose), shown in place of the flags'."""
    values = {**vars(opt), **(used or {})}
    lines = ['----------------- Options ---------------']
    for key, value in sorted(values.items()):
        default = parser.get_default(key)
        note = f'\t[default: {default}]' if value != default else ''
        lines.append(f'{key:>25}: {str(value):<30}{note}')
    lines.append('----------------- End -------------------')
    return '\n'.join(lines)


def parse_gpu_ids(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.split(',') if part.strip()]
    except ValueError as err:
        raise UserError(f'--gpu_ids {text!r}: expected a comma list of integers such as 0 or 0,1, or -1 for CPU') from err
    return [i for i in ids if i >= 0]


def add_checkpoint_flags(group: argparse._ActionsContainer, name_required: bool = False) -> None:
    """Which checkpoint: --name, --checkpoints_dir and --epoch, for every entry point."""
    group.add_argument('--name', type=str, default='experiment_name', required=name_required, help='experiment name: checkpoints go to <checkpoints_dir>/<name>')
    group.add_argument('--checkpoints_dir', type=str, default='./checkpoints', help='where experiments keep checkpoints, options and logs')
    group.add_argument('--epoch', '--which_epoch', type=str, default='latest', help='checkpoint to load: latest, best, an epoch number or iter_<n>')


def add_overwrite_flag(group: argparse._ActionsContainer) -> None:
    group.add_argument('--overwrite', action='store_true', help='write over what is there: train.py starts again in an experiment folder that holds a training state (refused without it, unless --continue_train); predict.py replaces outputs that exist (skipped without it)')


def add_fid_weights_flag(group: argparse._ActionsContainer) -> None:
    group.add_argument('--fid_weights', type=str, default=None, help="pytorch-fid's Inception weights (pt_inception-2015-12-05-6726825d.pth) for FID and KID; default: torch's hub cache, downloaded there when online")


def add_seed_flag(group: argparse._ActionsContainer, meaning: str) -> None:
    group.add_argument('--seed', type=int, default=None, help=meaning)


def add_phase_flag(group: argparse._ActionsContainer, default: str) -> None:
    group.add_argument('--phase', type=str, default=default, help='dataset split to use: train, val, test, ...')


def add_gpu_ids_flag(group: argparse._ActionsContainer) -> None:
    group.add_argument('--gpu_ids', type=str, default='0', help='comma list of GPU ids such as 0 or 0,1; -1 runs on the CPU')


def add_batch_size_flag(group: argparse._ActionsContainer) -> None:
    group.add_argument('--batch_size', '--batchSize', type=int, default=1, help='images per batch (predict.py: images of one size translated together)')


def add_crop_size_flag(group: argparse._ActionsContainer) -> None:
    group.add_argument('--crop_size', '--fineSize', type=int, default=256, help='then crop them to this size (export.py: the side of the example input it traces with)')


def add_architecture_flags(networks: argparse._ActionsContainer, hd_generators: argparse._ActionsContainer,
                           loading: argparse._ActionsContainer) -> None:
    """What a generator checkpoint is rebuilt from (models.record.ARCHITECTURE, less the label-map flags of
    data.labeled_dataset): in train.py and test.py under three groups, in predict.py, serve.py and export.py under one."""
    networks.add_argument('--model', type=str, default='pix2pix', help='model to use [pix2pix | colorization | pix2pixhd | test]')
    networks.add_argument('--netG', type=str, default='unet_256', help='generator [unet_256 | unet_128 | resnet_9blocks | resnet_6blocks | global | local]; global and local are pix2pixHD\'s')
    networks.add_argument('--input_nc', type=int, default=3, help='channels of the input image: 3 for RGB, 1 for grayscale')
    networks.add_argument('--output_nc', type=int, default=3, help='channels of the output image: 3 for RGB, 1 for grayscale')
    networks.add_argument('--ngf', type=int, default=64, help='generator filters in the last conv layer')
    networks.add_argument('--norm', type=str, default='batch', help='normalization layer [instance | batch | none | syncbatch]')
    networks.add_argument('--no_dropout', action='store_true', help='turn off dropout in the generator')
    hd_generators.add_argument('--n_downsample_global', type=int, default=4, help='stride-2 downsamplings of --netG global (and of the global part of local)')
    hd_generators.add_argument('--n_blocks_global', type=int, default=9, help='residual blocks of --netG global (and of the global part of local)')
    hd_generators.add_argument('--n_local_enhancers', type=int, default=1, help='local enhancers of --netG local, each doubling the resolution')
    hd_generators.add_argument('--n_blocks_local', type=int, default=3, help='residual blocks of each local enhancer of --netG local')
    loading.add_argument('--direction', type=str, default='AtoB', help='AtoB or BtoA')


def add_recorded_architecture_flags(parser: argparse.ArgumentParser) -> None:
    """The architecture flags of predict.py, serve.py and export.py, in one group: each overrides what the checkpoint's
    record says (models.record.architecture_overrides), and is absent from `opt` when not given."""
    architecture = parser.add_argument_group('architecture (as recorded in training unless given)')
    add_architecture_flags(architecture, architecture, architecture)
    add_label_options(parser, architecture)
    add_encoder_options(architecture)
    for action in architecture._group_actions:
        action.default = argparse.SUPPRESS
        action.help += f'; default: as recorded in training, else {REFERENCE_ARCHITECTURE[action.dest]}'


class DataType(argparse.Action):
    """--data_type 16|32 sets --amp as pix2pixHD's precision does: mixed precision or full."""

    def __call__(self, parser, namespace, value, option_string=None):
        setattr(namespace, self.dest, value)
        namespace.amp = value == 16


def add_speed_flags(parser: argparse.ArgumentParser, inference_only: bool = False) -> None:
    """The speed flags of an entry point, as the group "speed" of --help; predict.py's and serve.py's (inference_only) lack --fused_adam."""
    speed = parser.add_argument_group('speed')
    speed.add_argument('--fast', action='store_true', help='before starting, time the speed settings below on a synthetic batch and keep the fastest (reported in one line, recorded in <phase>_opt.txt and reused by --continue_train)')
    speed.add_argument('--data_type', type=int, choices=(16, 32), default=32, action=DataType, help="pix2pixHD's precision flag: 16 turns --amp on, 32 off")
    speed.add_argument('--amp', '--fp16', action='store_true', help='mixed precision where the device computes it natively: bfloat16 on CPUs with AVX512-BF16/AMX and on bf16 GPUs, float16 with a gradient scaler on other tensor-core GPUs; elsewhere a warning and float32')
    speed.add_argument('--channels_last', action='store_true', help='keep networks and images in channels-last memory format')
    speed.add_argument('--compile', action='store_true', help='torch.compile the networks (the first iterations are slow while compiling)')
    if not inference_only:
        speed.add_argument('--fused_adam', action='store_true', help='use the fused Adam kernel where the device has one (results differ from plain Adam in the last bits)')
