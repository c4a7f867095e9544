"""Runs a generator one way on single images (--model test --dataset_mode single)."""
import argparse

from models import networks
from models.base_model import BaseModel
from util.errors import UserError


class TestModel(BaseModel):
    """Loads <epoch>_net_G<model_suffix>.pth and produces fake from real."""

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool = True) -> argparse.ArgumentParser:
        if is_train:
            raise UserError('--model test only runs in test.py; train with --model pix2pix')
        parser.set_defaults(dataset_mode='single')
        weights = parser.add_argument_group('test model checkpoint')
        weights.add_argument('--model_suffix', type=str, default='',
                             help='load <epoch>_net_G<model_suffix>.pth, e.g. _A for a CycleGAN generator')
        return parser

    def __init__(self, opt):
        super().__init__(opt)
        self.loss_names = []
        self.visual_names = ['real', 'fake']
        self.generator_name = 'netG' + opt.model_suffix
        self.model_names = ['G' + opt.model_suffix]
        self.size_multiple = networks.size_multiple_of(opt)
        setattr(self, self.generator_name, networks.define_G(opt.input_nc, opt.output_nc, opt.ngf, opt.netG, opt.norm,
                                                             not opt.no_dropout, opt.init_type, opt.init_gain, self.device,
                                                             **networks.hd_generator_options(opt)))

    def set_input(self, input: dict) -> None:
        self.real = input['A'].to(self.device)
        self.image_paths = input['A_paths']

    def forward(self) -> None:
        """Runs the generator as it is now: compiled under --compile, whatever --model_suffix named it."""
        self.fake = networks.run_at_any_size(getattr(self, self.generator_name), self.real, self.size_multiple)

    def optimize_parameters(self) -> None:
        raise NotImplementedError('the test model is for inference only; train with --model pix2pix')
