"""Colorization (--model colorization): pix2pix from the lightness L of a photo to its colour ab, in CIE Lab."""
import argparse
from collections import OrderedDict

from data.colorization_dataset import check_colorization_flags
from models.pix2pix_model import Pix2PixModel
from util.lab import lab_to_rgb


class ColorizationModel(Pix2PixModel):
    """G maps L (1 channel) to ab (2 channels), D judges (L, ab) pairs; losses as pix2pix. The visuals are the
    input L and the real and generated photos in sRGB, each made of the input's L and an ab."""

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool = True) -> argparse.ArgumentParser:
        parser = Pix2PixModel.modify_commandline_options(parser, is_train)
        parser.set_defaults(dataset_mode='colorization')
        return parser

    def __init__(self, opt):
        check_colorization_flags(opt)
        super().__init__(opt)
        self.visual_names = ['real_A', 'real_B_rgb', 'fake_B_rgb']
        self.has_colour = True

    def set_input(self, input: dict) -> None:
        super().set_input(input)
        self.has_colour = bool(input['has_colour'].all()) if 'has_colour' in input else True

    def compute_visuals(self) -> None:
        self.real_B_rgb = lab_to_rgb(self.real_A, self.real_B)
        self.fake_B_rgb = lab_to_rgb(self.real_A, self.fake_B)

    def get_current_visuals(self) -> OrderedDict:
        """In test.py a grey input has no true colours: its row shows real_A and fake_B_rgb only, and gets no metrics."""
        visuals = super().get_current_visuals()
        if not self.isTrain and not self.has_colour:
            del visuals['real_B_rgb']
        return visuals
