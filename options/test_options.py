"""Flags for test.py."""
import argparse

from .base_options import BaseOptions


class TestOptions(BaseOptions):
    is_train = False

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser = super().initialize(parser)
        parser.add_argument('--results_dir', type=str, default='./results/', help='result pages and images are written here')
        parser.add_argument('--aspect_ratio', type=float, default=1.0, help='aspect ratio (width / height) of the saved result images')
        parser.add_argument('--phase', type=str, default='test', help='dataset split to use: train, val, test, ...')
        parser.add_argument('--eval', action='store_true', help='use eval mode (running batch norm statistics, no dropout) during test')
        parser.add_argument('--num_test', type=int, default=50, help='how many test images to run')
        parser.set_defaults(load_size=parser.get_default('crop_size'))
        return parser

    def parse(self, args: list[str] | None = None) -> argparse.Namespace:
        """As the reference's test.py: one image at a time, in order, unflipped, loaded in the main process, no display."""
        opt = super().parse(args)
        opt.num_threads, opt.batch_size, opt.serial_batches, opt.no_flip, opt.display_id = 0, 1, True, True, -1
        return opt
