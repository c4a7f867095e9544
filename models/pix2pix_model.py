"""pix2pix: a conditional GAN with an L1 term (Isola et al., CVPR 2017)."""
import argparse

import torch

from models import networks
from models.base_model import BaseModel
from util.distributed import without_ddp


class Pix2PixModel(BaseModel):
    """G maps A to B; D judges (A, B) pairs as real or fake. G loss = GAN + lambda_L1 * L1."""

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool = True) -> argparse.ArgumentParser:
        parser.set_defaults(norm='batch', netG='unet_256', dataset_mode='aligned')
        if is_train:
            parser.set_defaults(pool_size=0, gan_mode='vanilla')
            parser.add_argument('--lambda_L1', type=float, default=100.0, help='weight of the L1 loss')
        return parser

    def __init__(self, opt):
        super().__init__(opt)
        self.loss_names = ['G_GAN', 'G_L1', 'D_real', 'D_fake']
        self.visual_names = ['real_A', 'fake_B', 'real_B']
        self.model_names = ['G', 'D'] if self.isTrain else ['G']
        self.netG = networks.define_G(opt.input_nc, opt.output_nc, opt.ngf, opt.netG, opt.norm,
                                      not opt.no_dropout, opt.init_type, opt.init_gain, self.device)
        if self.isTrain:
            self.netD = networks.define_D(opt.input_nc + opt.output_nc, opt.ndf, opt.netD, opt.n_layers_D,
                                          opt.norm, opt.init_type, opt.init_gain, self.device)
            self.criterionGAN = networks.GANLoss(opt.gan_mode).to(self.device)
            self.criterionL1 = torch.nn.L1Loss()
            self.optimizer_G = self.make_adam(self.netG.parameters())
            self.optimizer_D = self.make_adam(self.netD.parameters())
            self.optimizers = [self.optimizer_G, self.optimizer_D]

    def set_input(self, input: dict) -> None:
        a_to_b = self.opt.direction == 'AtoB'
        self.real_A = input['A' if a_to_b else 'B'].to(self.device)
        self.real_B = input['B' if a_to_b else 'A'].to(self.device)
        self.image_paths = input['A_paths' if a_to_b else 'B_paths']

    def forward(self) -> None:
        self.fake_B = self.netG(self.real_A)

    def backward_D(self) -> None:
        """D sees the fake pair (detached from G) and the real pair; its loss is halved."""
        with self.autocast():
            pred_fake = self.netD(torch.cat((self.real_A, self.fake_B), 1).detach())
            self.loss_D_fake = self.criterionGAN(pred_fake, False)
            pred_real = self.netD(torch.cat((self.real_A, self.real_B), 1))
            self.loss_D_real = self.criterionGAN(pred_real, True)
            self.loss_D = (self.loss_D_fake + self.loss_D_real) * 0.5
        self.scaler.scale(self.loss_D).backward()

    def backward_G(self) -> None:
        """G should fool D and stay close to the target in L1. D is frozen, so it runs outside DDP, which would wait for its gradients."""
        with self.autocast():
            pred_fake = without_ddp(self.netD)(torch.cat((self.real_A, self.fake_B), 1))
            self.loss_G_GAN = self.criterionGAN(pred_fake, True)
            self.loss_G_L1 = self.criterionL1(self.fake_B, self.real_B) * self.opt.lambda_L1
            self.loss_G = self.loss_G_GAN + self.loss_G_L1
        self.scaler.scale(self.loss_G).backward()

    def optimize_parameters(self) -> None:
        with self.autocast():
            self.forward()
        self.set_requires_grad(self.netD, True)
        self.optimizer_D.zero_grad()
        self.backward_D()
        self.scaler.step(self.optimizer_D)
        self.set_requires_grad(self.netD, False)
        self.optimizer_G.zero_grad()
        self.backward_G()
        self.scaler.step(self.optimizer_G)
        self.scaler.update()
