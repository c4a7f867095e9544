"""Flags shared by training and testing, parsed into one `opt` namespace."""
import argparse

import data
import models
from util import checkpoint
from util.distributed import is_main_process
from util.errors import UserError


class BaseOptions:
    """Defines the common flags; subclasses add theirs in `initialize` and set `is_train`."""

    is_train = False

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument('--dataroot', help='required: folder of the dataset (holding train/, val/, test/ for aligned data)')
        parser.add_argument('--name', type=str, default='experiment_name', help='experiment name: checkpoints go to <checkpoints_dir>/<name>')
        parser.add_argument('--gpu_ids', type=str, default='0', help='comma list of GPU ids such as 0 or 0,1; -1 runs on the CPU')
        parser.add_argument('--checkpoints_dir', type=str, default='./checkpoints', help='where experiments keep checkpoints, options and logs')
        parser.add_argument('--seed', type=int, default=None, help='seed python, numpy and torch and use deterministic algorithms')
        parser.add_argument('--model', type=str, default='pix2pix', help='model to use [pix2pix | test]')
        parser.add_argument('--input_nc', type=int, default=3, help='channels of the input image: 3 for RGB, 1 for grayscale')
        parser.add_argument('--output_nc', type=int, default=3, help='channels of the output image: 3 for RGB, 1 for grayscale')
        parser.add_argument('--ngf', type=int, default=64, help='generator filters in the last conv layer')
        parser.add_argument('--ndf', type=int, default=64, help='discriminator filters in the first conv layer')
        parser.add_argument('--netD', type=str, default='basic', help='discriminator [basic | n_layers | pixel]; basic is the 70x70 PatchGAN')
        parser.add_argument('--netG', type=str, default='unet_256', help='generator [unet_256 | unet_128 | resnet_9blocks | resnet_6blocks]')
        parser.add_argument('--n_layers_D', type=int, default=3, help='conv layers of the discriminator when --netD n_layers')
        parser.add_argument('--norm', type=str, default='batch', help='normalization layer [instance | batch | none | syncbatch]')
        parser.add_argument('--init_type', type=str, default='normal', help='weight initialization [normal | xavier | kaiming | orthogonal]')
        parser.add_argument('--init_gain', type=float, default=0.02, help='scale of the normal, xavier and orthogonal initializations')
        parser.add_argument('--no_dropout', action='store_true', help='turn off dropout in the generator')
        parser.add_argument('--dataset_mode', type=str, default='aligned', help='dataset class to load [aligned | single]')
        parser.add_argument('--direction', type=str, default='AtoB', help='AtoB or BtoA')
        parser.add_argument('--serial_batches', action='store_true', help='take images in order instead of shuffling')
        parser.add_argument('--num_threads', default=4, type=int, help='data loading worker processes')
        parser.add_argument('--batch_size', type=int, default=1, help='images per batch')
        parser.add_argument('--load_size', type=int, default=286, help='resize images to this size first')
        parser.add_argument('--crop_size', type=int, default=256, help='then crop them to this size')
        parser.add_argument('--max_dataset_size', type=float, default=float('inf'), help='use at most this many images of the dataset')
        parser.add_argument('--preprocess', type=str, default='resize_and_crop', help='resizing and cropping at load time [resize_and_crop | crop | scale_width | scale_width_and_crop | none]')
        parser.add_argument('--no_flip', action='store_true', help='turn off random horizontal flips')
        parser.add_argument('--skip_bad_images', action='store_true', help='leave out unreadable image files with a warning instead of stopping')
        parser.add_argument('--display_winsize', type=int, default=256, help='image size in the visdom display and the HTML pages')
        parser.add_argument('--epoch', type=str, default='latest', help='checkpoint to load: an epoch number or latest')
        parser.add_argument('--load_iter', type=int, default=0, help='if above 0, load the checkpoint saved as iter_<load_iter> instead of --epoch')
        parser.add_argument('--verbose', action='store_true', help='print network structures and more')
        parser.add_argument('--suffix', default='', type=str, help='appended to --name, formatted with the options, e.g. {model}_{netG}_size{load_size}')
        parser.add_argument('--display_id', type=int, default=1, help='visdom window id; 0 or less turns the live display off')
        parser.add_argument('--display_server', type=str, default='http://localhost', help='visdom server address')
        parser.add_argument('--display_env', type=str, default='main', help='visdom environment name')
        parser.add_argument('--display_port', type=int, default=8097, help='visdom server port')
        parser.add_argument('--display_ncols', type=int, default=4, help='images per row in the visdom image grid')
        parser.add_argument('--fast', action='store_true', help='before starting, time the speed settings below on a synthetic batch and keep the fastest (reported in one line, recorded in <phase>_opt.txt and reused by --continue_train)')
        parser.add_argument('--amp', action='store_true', help='mixed precision where the device computes it natively: bfloat16 on CPUs with AVX512-BF16/AMX and on bf16 GPUs, float16 with a gradient scaler on other tensor-core GPUs; elsewhere a warning and float32')
        parser.add_argument('--channels_last', action='store_true', help='keep networks and images in channels-last memory format')
        parser.add_argument('--compile', action='store_true', help='torch.compile the networks (the first iterations are slow while compiling)')
        parser.add_argument('--fused_adam', action='store_true', help='use the fused Adam kernel where the device has one (results differ from plain Adam in the last bits)')
        parser.add_argument('--cache_dataset', action='store_true', help='decode every image once and keep it in memory; loader workers stay alive between epochs')
        return parser

    def make_parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter, add_help=False)
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
        """Change parsed values before they are recorded; subclasses override."""

    def parse(self, args: list[str] | None = None, save: bool = True) -> argparse.Namespace:
        """Parse flags, apply --suffix, turn --gpu_ids into a list, print the options and (unless `save` is False:
        train.py saves them once it holds the experiment folder) save <phase>_opt.txt."""
        opt, self.parser = self.gather_options(args)
        opt.isTrain = self.is_train
        if opt.suffix:
            opt.name = opt.name + '_' + opt.suffix.format(**vars(opt))
        opt.gpu_ids = parse_gpu_ids(opt.gpu_ids)
        self.adjust(opt, args)
        text = self.save(opt) if save else checkpoint.format_options(opt, self.parser)
        if is_main_process():
            print(text)
        return opt

    def save(self, opt: argparse.Namespace) -> str:
        """(Re)write <checkpoints_dir>/<name>/<phase>_opt.txt with the values in use now."""
        return checkpoint.write_options(opt, self.parser)


def parse_gpu_ids(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.split(',') if part.strip()]
    except ValueError as err:
        raise UserError(f'--gpu_ids {text!r}: expected a comma list of integers such as 0 or 0,1, or -1 for CPU') from err
    return [i for i in ids if i >= 0]
