"""One pix2pixHD training iteration written out from its recipe (Wang et al., 2018), independently of models/.

LSGAN summed over the discriminator's scales, plus lambda_feat times the L1 distance between D's stages on the
fake and the real pair (each term weighted 4/(n_layers_D+1)/num_D), no VGG loss; G is updated first, against D as
it was before this step, then D on the detached fake and the real pair, its loss halved; Adam(lr, beta1, 0.999),
plain float32, eager. bench/pix2pixhd_benchmark.py times it as "the pix2pixHD-structure step".
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def least_squares(outputs: list[list[torch.Tensor]], target: float) -> torch.Tensor:
    """The LSGAN loss against `target`, on the last output (the decision) of each scale, summed over scales."""
    return sum(F.mse_loss(scale[-1], torch.full_like(scale[-1], target)) for scale in outputs)


class Pix2PixHDStep:
    def __init__(self, netG: nn.Module, netD: nn.Module, n_layers_D: int, num_D: int, lambda_feat: float = 10.0,
                 lr: float = 0.0002, beta1: float = 0.5):
        self.netG, self.netD = netG, netD
        self.feature_weight = 4.0 / (n_layers_D + 1) / num_D * lambda_feat
        self.optimizer_G = torch.optim.Adam(netG.parameters(), lr=lr, betas=(beta1, 0.999))
        self.optimizer_D = torch.optim.Adam(netD.parameters(), lr=lr, betas=(beta1, 0.999))

    def __call__(self, generator_input: torch.Tensor, real: torch.Tensor) -> dict[str, torch.Tensor]:
        fake = self.netG(generator_input)
        pred_real = self.netD(torch.cat([generator_input, real], dim=1))

        for param in self.netD.parameters():
            param.requires_grad_(False)
        pred_fake = self.netD(torch.cat([generator_input, fake], dim=1))
        loss_G_GAN = least_squares(pred_fake, 1.0)
        loss_G_feat = sum(F.l1_loss(fake_stage, real_stage.detach()) * self.feature_weight
                          for fake_scale, real_scale in zip(pred_fake, pred_real)
                          for fake_stage, real_stage in zip(fake_scale[:-1], real_scale[:-1]))
        self.optimizer_G.zero_grad()
        (loss_G_GAN + loss_G_feat).backward()
        self.optimizer_G.step()

        for param in self.netD.parameters():
            param.requires_grad_(True)
        loss_D_fake = least_squares(self.netD(torch.cat([generator_input, fake.detach()], dim=1)), 0.0)
        loss_D_real = least_squares(pred_real, 1.0)
        self.optimizer_D.zero_grad()
        ((loss_D_fake + loss_D_real) * 0.5).backward()
        self.optimizer_D.step()
        return {'G_GAN': loss_G_GAN, 'G_GAN_Feat': loss_G_feat, 'D_real': loss_D_real, 'D_fake': loss_D_fake}
