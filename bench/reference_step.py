"""One pix2pix training iteration written out from the paper's recipe, independently of models/.

It is what the reference computes per iteration, in plain float32, eager, contiguous tensors and non-fused Adam:
the benchmark times it as "the reference's step", and tests/test_pix2pix_objective_matches_written_out_step.py
checks that the model's optimize_parameters reproduces it exactly.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ReferenceStep:
    """G and D updated as in pix2pix: D on (A, G(A) detached) as fake and (A, B) as real, its loss halved;
    then G on fooling the frozen D plus lambda_L1 times the L1 distance to B; Adam(lr, beta1, 0.999) for both."""

    def __init__(self, netG: nn.Module, netD: nn.Module, lr: float = 0.0002, beta1: float = 0.5, lambda_L1: float = 100.0):
        self.netG, self.netD = netG, netD
        self.optimizer_G = torch.optim.Adam(netG.parameters(), lr=lr, betas=(beta1, 0.999))
        self.optimizer_D = torch.optim.Adam(netD.parameters(), lr=lr, betas=(beta1, 0.999))
        self.lambda_L1 = lambda_L1

    def __call__(self, real_A: torch.Tensor, real_B: torch.Tensor) -> dict[str, torch.Tensor]:
        fake_B = self.netG(real_A)

        for param in self.netD.parameters():
            param.requires_grad_(True)
        self.optimizer_D.zero_grad()
        logits_fake = self.netD(torch.cat([real_A, fake_B.detach()], dim=1))
        logits_real = self.netD(torch.cat([real_A, real_B], dim=1))
        loss_D_fake = F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
        loss_D_real = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
        loss_D = 0.5 * (loss_D_fake + loss_D_real)
        loss_D.backward()
        self.optimizer_D.step()

        for param in self.netD.parameters():
            param.requires_grad_(False)
        self.optimizer_G.zero_grad()
        logits = self.netD(torch.cat([real_A, fake_B], dim=1))
        loss_G_GAN = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        loss_G_L1 = self.lambda_L1 * (fake_B - real_B).abs().mean()
        (loss_G_GAN + loss_G_L1).backward()
        self.optimizer_G.step()
        return {'G_GAN': loss_G_GAN, 'G_L1': loss_G_L1, 'D_real': loss_D_real, 'D_fake': loss_D_fake, 'D': loss_D}
