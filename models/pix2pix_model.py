"""pix2pix: a conditional GAN with an L1 term (Isola et al., CVPR 2017)."""
import argparse

import torch

from models import networks
from models.base_model import BaseModel
from util import distributed
from util.distributed import without_ddp
from util.image_pool import ImagePool


class Pix2PixModel(BaseModel):
    """G maps A to B; D judges (A, B) pairs as real or fake. G loss = GAN + lambda_L1 * L1."""

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool = True) -> argparse.ArgumentParser:
        parser.set_defaults(norm='batch', netG='unet_256', dataset_mode='aligned')
        if is_train:
            parser.set_defaults(pool_size=0, gan_mode='vanilla')
            losses = parser.add_argument_group("pix2pix's losses")
            losses.add_argument('--lambda_L1', type=float, default=100.0, help='weight of the L1 loss')
            losses.add_argument('--lambda_gp', type=float, default=10.0,
                                help='weight of the gradient penalty added to D\'s loss under --gan_mode wgangp; 0 turns it off')
        return parser

    def __init__(self, opt):
        super().__init__(opt)
        self.visual_names = ['real_A', 'fake_B', 'real_B']
        self.model_names = ['G', 'D'] if self.isTrain else ['G']
        self.size_multiple = networks.size_multiple_of(opt)
        self.netG = networks.define_G(opt.input_nc, opt.output_nc, opt.ngf, opt.netG, opt.norm, not opt.no_dropout,
                                      opt.init_type, opt.init_gain, self.device, **networks.hd_generator_options(opt))
        if self.isTrain:
            self.loss_names = ['G_GAN', 'G_L1', 'D_real', 'D_fake']
            self.gradient_penalty = opt.gan_mode == 'wgangp' and opt.lambda_gp > 0
            if self.gradient_penalty:
                self.loss_names.append('D_GP')
            self.netD = networks.define_D(opt.input_nc + opt.output_nc, opt.ndf, opt.netD, opt.n_layers_D,
                                          opt.norm, opt.init_type, opt.init_gain, self.device, num_D=opt.num_D)
            self.fake_AB_pool = ImagePool(opt.pool_size)
            self.criterionGAN = networks.GANLoss(opt.gan_mode).to(self.device)
            self.criterionL1 = torch.nn.L1Loss()
            self.optimizer_G = self.make_adam(self.netG.parameters())
            self.optimizer_D = self.make_adam(self.netD.parameters())
            self.optimizers = [self.optimizer_G, self.optimizer_D]
            self.l1_tally = [torch.zeros((), device=self.device), 0]

    def set_input(self, input: dict) -> None:
        a_to_b = self.opt.direction == 'AtoB'
        self.real_A = input['A' if a_to_b else 'B'].to(self.device)
        self.real_B = input['B' if a_to_b else 'A'].to(self.device)
        self.image_paths = input['A_paths' if a_to_b else 'B_paths']

    def forward(self) -> None:
        self.fake_B = networks.run_at_any_size(self.netG, self.real_A, self.size_multiple)

    def backward_D(self) -> None:
        """D sees a fake pair (detached from G; from the image pool under --pool_size) and the real pair;
        its loss is halved, plus the gradient penalty under wgangp."""
        fake_AB = torch.cat((self.real_A, self.fake_B), 1).detach()
        if self.opt.pool_size:
            fake_AB = self.fake_AB_pool.query(fake_AB)
        real_AB = torch.cat((self.real_A, self.real_B), 1)
        with self.autocast():
            self.loss_D_fake = self.criterionGAN(self.netD(fake_AB), False)
            self.loss_D_real = self.criterionGAN(self.netD(real_AB), True)
            self.loss_D = (self.loss_D_fake + self.loss_D_real) * 0.5
        if self.gradient_penalty:
            self.loss_D_GP, _ = networks.cal_gradient_penalty(without_ddp(self.netD), real_AB, fake_AB, self.device,
                                                              lambda_gp=self.opt.lambda_gp)
            self.loss_D = self.loss_D + self.loss_D_GP
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
        self.netD.requires_grad_(True)
        self.optimizer_D.zero_grad()
        self.backward_D()
        self.step_optimizer(self.optimizer_D, 'D')
        self.netD.requires_grad_(False)
        self.optimizer_G.zero_grad()
        self.backward_G()
        if self.step_optimizer(self.optimizer_G, 'G'):
            self.l1_tally[0] += self.loss_G_L1.detach().float()
            self.l1_tally[1] += 1
        self.update_scaler()

    def epoch_metric(self) -> float | None:
        """The epoch's mean G_L1 over every rank's steps, for --lr_policy plateau without validation; resets the tally."""
        total, count = distributed.reduce_over_ranks([float(self.l1_tally[0]), float(self.l1_tally[1])])
        self.l1_tally = [torch.zeros((), device=self.device), 0]
        return total / count if count else None

    def rank_state(self) -> dict:
        return {'image_pool': [image.cpu() for image in self.fake_AB_pool.images],
                'l1_tally': [float(self.l1_tally[0]), self.l1_tally[1]]}

    def load_rank_state(self, state: dict) -> None:
        self.fake_AB_pool.images = [image.to(self.device) for image in state['image_pool']]
        self.l1_tally = [torch.tensor(state['l1_tally'][0], device=self.device), int(state['l1_tally'][1])]
