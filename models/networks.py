"""The registry of generators, discriminators, GAN losses, norms, initializations and LR schedulers.

Module structure follows the reference repositories exactly (junyanz/pytorch-CycleGAN-and-pix2pix for the U-Nets,
ResNets and PatchGANs; NVIDIA/pix2pixHD for global, local and multiscale), so state_dict keys and shapes match.
"""
import functools
import os
import pickle
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn import init
from torch.optim import lr_scheduler
from torch.utils.checkpoint import checkpoint
from torchvision.models import VGG19_Weights, vgg19

from util.errors import UserError


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def no_norm(num_features: int) -> nn.Module:
    return Identity()


NORM_LAYERS: dict[str, Callable[[int], nn.Module]] = {
    'batch': functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True),
    'instance': functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False),
    'syncbatch': functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True),  # synced by util.distributed.wrap_ddp
    'none': no_norm,
}


def choose(kind: str, flag: str, name: str, choices) -> None:
    """Raise a one-line error when `name` is not among `choices`."""
    if name not in choices:
        raise UserError(f'{flag} {name!r}: unknown {kind}; choose one of: {", ".join(choices)}')


def get_norm_layer(norm_type: str = 'instance') -> Callable[[int], nn.Module]:
    choose('normalization layer', '--norm', norm_type, NORM_LAYERS)
    return NORM_LAYERS[norm_type]


def uses_bias(norm_layer: Callable[[int], nn.Module]) -> bool:
    """Convs before a norm with an affine shift need no bias; only instance norm (affine=False) keeps it."""
    return getattr(norm_layer, 'func', norm_layer) is nn.InstanceNorm2d


def get_scheduler(optimizer: torch.optim.Optimizer, opt) -> lr_scheduler.LRScheduler | lr_scheduler.ReduceLROnPlateau:
    """linear: constant for n_epochs, then linear decay to zero over n_epochs_decay; or step, plateau, cosine."""
    choose('learning rate policy', '--lr_policy', opt.lr_policy, ('linear', 'step', 'plateau', 'cosine'))
    if opt.lr_policy == 'linear':
        return lr_scheduler.LambdaLR(optimizer, lr_lambda=LinearDecay(opt.epoch_count, opt.n_epochs, opt.n_epochs_decay))
    if opt.lr_policy == 'step':
        return lr_scheduler.StepLR(optimizer, step_size=opt.lr_decay_iters, gamma=0.1)
    if opt.lr_policy == 'plateau':
        return lr_scheduler.ReduceLROnPlateau(optimizer, mode='min', factor=0.2, threshold=0.01, patience=5)
    return lr_scheduler.CosineAnnealingLR(optimizer, T_max=opt.n_epochs, eta_min=0)


class LinearDecay:
    """The LR factor of the linear policy: 1 until n_epochs, then down to 0 over n_epochs_decay.

    LambdaLR's state_dict keeps a callable object's __dict__: here only the run's first epoch (--epoch_count), so a
    resumed run decays as it began, while the epoch counts live in slots and follow the resumed run's flags."""

    __slots__ = ('n_epochs', 'n_epochs_decay', '__dict__')

    def __init__(self, epoch_count: int, n_epochs: int, n_epochs_decay: int):
        self.epoch_count, self.n_epochs, self.n_epochs_decay = epoch_count, n_epochs, n_epochs_decay

    def __call__(self, epoch: int) -> float:
        return 1.0 - max(0, epoch + self.epoch_count - self.n_epochs) / float(self.n_epochs_decay + 1)


INIT_TYPES = ('normal', 'xavier', 'kaiming', 'orthogonal')


def init_weights(net: nn.Module, init_type: str = 'normal', init_gain: float = 0.02) -> None:
    """Initialize conv and linear weights by `init_type`, biases to 0, batch norm weights to N(1, gain)."""
    choose('initialization', '--init_type', init_type, INIT_TYPES)

    def init_module(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if init_type == 'normal':
                init.normal_(m.weight, 0.0, init_gain)
            elif init_type == 'xavier':
                init.xavier_normal_(m.weight, gain=init_gain)
            elif init_type == 'kaiming':
                init.kaiming_normal_(m.weight, a=0, mode='fan_in')
            else:
                init.orthogonal_(m.weight, gain=init_gain)
            if m.bias is not None:
                init.constant_(m.bias, 0.0)
        elif isinstance(m, (nn.BatchNorm2d, nn.SyncBatchNorm)):
            init.normal_(m.weight, 1.0, init_gain)
            init.constant_(m.bias, 0.0)

    net.apply(init_module)


def init_net(net: nn.Module, init_type: str = 'normal', init_gain: float = 0.02,
             device: torch.device | None = None) -> nn.Module:
    """Move to `device` and initialize. Networks stay unwrapped, so checkpoints hold plain state_dicts."""
    if device is not None:
        net.to(device)
    init_weights(net, init_type, init_gain)
    return net


HD_GENERATORS = ('global', 'local')
GENERATORS = ('unet_256', 'unet_128', 'resnet_9blocks', 'resnet_6blocks', *HD_GENERATORS)
SIZE_MULTIPLES = {'unet_256': 256, 'unet_128': 128, 'resnet_9blocks': 4, 'resnet_6blocks': 4}


def generator_size_multiple(netG: str, n_downsample_global: int = 4, n_local_enhancers: int = 1) -> int:
    """Image sides `netG` maps exactly: 2 ** downsamplings (8 for unet_256, 7 for unet_128, 2 for the resnets,
    n_downsample_global for global, n_downsample_global + n_local_enhancers for local)."""
    choose('generator', '--netG', netG, GENERATORS)
    if netG == 'global':
        return 2 ** n_downsample_global
    if netG == 'local':
        return 2 ** (n_downsample_global + n_local_enhancers)
    return SIZE_MULTIPLES[netG]


HD_GENERATOR_FLAGS = ('n_downsample_global', 'n_blocks_global', 'n_local_enhancers', 'n_blocks_local')


def hd_generator_options(opt) -> dict[str, int]:
    """The values of HD_GENERATOR_FLAGS in `opt` (a namespace or a dict), for define_G."""
    values = opt if isinstance(opt, dict) else vars(opt)
    return {flag: values[flag] for flag in HD_GENERATOR_FLAGS}


def size_multiple_of(opt) -> int:
    """generator_size_multiple for the generator the flags in `opt` describe."""
    return generator_size_multiple(opt.netG, opt.n_downsample_global, opt.n_local_enhancers)


def reflect_pad(x: torch.Tensor, left: int, right: int, top: int, bottom: int) -> torch.Tensor:
    """Reflection padding of any width: repeated while the image is narrower than the pad, edge-replicated at 1 pixel."""
    while left or right or top or bottom:
        h, w = x.shape[-2:]
        step = [min(left, w - 1), min(right, w - 1), min(top, h - 1), min(bottom, h - 1)]
        if not any(step):
            return F.pad(x, (left, right, top, bottom), mode='replicate')
        x = F.pad(x, step, mode='reflect')
        left, right, top, bottom = (need - done for need, done in zip((left, right, top, bottom), step))
    return x


def run_at_any_size(net: nn.Module, x: torch.Tensor, multiple: int) -> torch.Tensor:
    """net(x) for any image size: x is reflect-padded (centred) to sides divisible by `multiple` and the output
    cropped back, so nothing is resized; a no-op wrapper when the sides already fit."""
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if not pad_h and not pad_w:
        return net(x)
    top, left = pad_h // 2, pad_w // 2
    out = net(reflect_pad(x, left, pad_w - left, top, pad_h - top))
    return out[..., top:top + h, left:left + w]
DISCRIMINATORS = ('basic', 'n_layers', 'pixel', 'multiscale')


def recomputed(module: nn.Module, *inputs):
    """module(*inputs); with --checkpoint_activations (module.recompute) and gradients on, only the inputs are kept
    and the forward runs again in the backward (torch.utils.checkpoint): less memory for more time."""
    if getattr(module, 'recompute', False) and torch.is_grad_enabled():
        return checkpoint(module, *inputs, use_reentrant=False)
    return module(*inputs)


def checkpoint_activations(net: nn.Module) -> None:
    """Mark for recomputation the residual blocks' convolutions, the local enhancer's coarse generator and branches,
    and each scale of the multiscale discriminator (the state_dict keys stay as they are)."""
    for module in net.modules():
        if isinstance(module, ResnetBlock):
            module.conv_block.recompute = True
        elif isinstance(module, LocalEnhancer):
            for name, branch in module.named_children():
                branch.recompute = name != 'downsample'
        elif isinstance(module, MultiscaleDiscriminator):
            module.recompute_scales = True


def define_G(input_nc: int, output_nc: int, ngf: int, netG: str, norm: str = 'batch', use_dropout: bool = False,
             init_type: str = 'normal', init_gain: float = 0.02, device: torch.device | None = None,
             n_downsample_global: int = 4, n_blocks_global: int = 9, n_local_enhancers: int = 1,
             n_blocks_local: int = 3) -> nn.Module:
    """Build the generator named `netG`; the n_* arguments shape pix2pixHD's global and local generators."""
    choose('generator', '--netG', netG, GENERATORS)
    norm_layer = get_norm_layer(norm)
    if netG == 'global':
        net = GlobalGenerator(input_nc, output_nc, ngf, n_downsample_global, n_blocks_global, norm_layer, use_dropout)
    elif netG == 'local':
        net = LocalEnhancer(input_nc, output_nc, ngf, n_downsample_global, n_blocks_global, n_local_enhancers,
                            n_blocks_local, norm_layer, use_dropout)
    elif netG.startswith('resnet'):
        n_blocks = 9 if netG == 'resnet_9blocks' else 6
        net = ResnetGenerator(input_nc, output_nc, ngf, norm_layer, use_dropout, n_blocks)
    else:
        num_downs = 8 if netG == 'unet_256' else 7
        net = UnetGenerator(input_nc, output_nc, num_downs, ngf, norm_layer, use_dropout)
    return init_net(net, init_type, init_gain, device)


def define_D(input_nc: int, ndf: int, netD: str, n_layers_D: int = 3, norm: str = 'batch',
             init_type: str = 'normal', init_gain: float = 0.02, device: torch.device | None = None,
             num_D: int = 2, intermediate_features: bool = True) -> nn.Module:
    """Build the discriminator named `netD`: basic (70x70 PatchGAN), n_layers, pixel (1x1 PatchGAN), or multiscale
    (pix2pixHD's num_D PatchGANs of n_layers_D layers on successively halved images; with intermediate_features,
    each stage is a module of its own and every stage's output is returned, for feature matching)."""
    choose('discriminator', '--netD', netD, DISCRIMINATORS)
    norm_layer = get_norm_layer(norm)
    if netD == 'pixel':
        net = PixelDiscriminator(input_nc, ndf, norm_layer)
    elif netD == 'multiscale':
        if num_D < 1:
            raise UserError(f'--num_D {num_D}: a multiscale discriminator needs at least one scale')
        net = MultiscaleDiscriminator(input_nc, ndf, n_layers_D, norm_layer, num_D, intermediate_features)
    else:
        net = NLayerDiscriminator(input_nc, ndf, 3 if netD == 'basic' else n_layers_D, norm_layer)
    return init_net(net, init_type, init_gain, device)


def final_outputs(prediction: torch.Tensor | list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """D's decisions: the tensor itself, or the last output of each scale of a multiscale D."""
    return [scale[-1] for scale in prediction] if isinstance(prediction, list) else [prediction]


GAN_MODES = ('vanilla', 'lsgan', 'wgangp')


class GANLoss(nn.Module):
    """GAN objective against a target of real (1) or fake (0), broadcast to D's output shape."""

    def __init__(self, gan_mode: str, target_real_label: float = 1.0, target_fake_label: float = 0.0):
        super().__init__()
        choose('GAN objective', '--gan_mode', gan_mode, GAN_MODES)
        self.register_buffer('real_label', torch.tensor(target_real_label))
        self.register_buffer('fake_label', torch.tensor(target_fake_label))
        self.gan_mode = gan_mode
        self.loss = {'vanilla': nn.BCEWithLogitsLoss(), 'lsgan': nn.MSELoss()}.get(gan_mode)

    def get_target_tensor(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        label = self.real_label if target_is_real else self.fake_label
        return label.to(prediction.dtype).expand_as(prediction)

    def __call__(self, prediction: torch.Tensor | list[list[torch.Tensor]], target_is_real: bool) -> torch.Tensor:
        """The loss on D's output; for a multiscale D, the sum over its scales (as pix2pixHD)."""
        return sum(self.single_loss(output, target_is_real) for output in final_outputs(prediction))

    def single_loss(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        if self.gan_mode == 'wgangp':
            return -prediction.mean() if target_is_real else prediction.mean()
        return self.loss(prediction, self.get_target_tensor(prediction, target_is_real))


def cal_gradient_penalty(netD: nn.Module, real_data: torch.Tensor, fake_data: torch.Tensor, device: torch.device,
                         type: str = 'mixed', constant: float = 1.0, lambda_gp: float = 10.0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """WGAN-GP penalty (Gulrajani et al.) on real, fake or random mixtures; returns (penalty, gradients)."""
    if lambda_gp <= 0.0:
        return torch.zeros((), device=device), None
    if type == 'real':
        points = real_data
    elif type == 'fake':
        points = fake_data
    elif type == 'mixed':
        alpha = torch.rand(real_data.shape[0], 1, 1, 1, device=device)
        points = alpha * real_data + (1 - alpha) * fake_data
    else:
        raise UserError(f'gradient penalty type {type!r}: choose real, fake or mixed')
    points = points.detach().requires_grad_(True)
    outputs = final_outputs(netD(points))
    gradients = torch.autograd.grad(outputs=outputs, inputs=points, grad_outputs=[torch.ones_like(out) for out in outputs],
                                    create_graph=True, retain_graph=True, only_inputs=True)[0]
    gradients = gradients.reshape(real_data.size(0), -1)
    penalty = (((gradients + 1e-16).norm(2, dim=1) - constant) ** 2).mean() * lambda_gp
    return penalty, gradients


class ResnetGenerator(nn.Module):
    """Two stride-2 downsamplings, n_blocks residual blocks, two upsamplings (Johnson et al.)."""

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, norm_layer=nn.BatchNorm2d,
                 use_dropout: bool = False, n_blocks: int = 6, padding_type: str = 'reflect'):
        super().__init__()
        use_bias = uses_bias(norm_layer)
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
                  norm_layer(ngf), nn.ReLU(True)]
        channels = ngf
        for _ in range(2):
            layers += [nn.Conv2d(channels, channels * 2, kernel_size=3, stride=2, padding=1, bias=use_bias),
                       norm_layer(channels * 2), nn.ReLU(True)]
            channels *= 2
        layers += [ResnetBlock(channels, padding_type, norm_layer, use_dropout, use_bias) for _ in range(n_blocks)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(channels, channels // 2, kernel_size=3, stride=2, padding=1,
                                          output_padding=1, bias=use_bias),
                       norm_layer(channels // 2), nn.ReLU(True)]
            channels //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


PADDINGS = {'reflect': nn.ReflectionPad2d, 'replicate': nn.ReplicationPad2d}


class ResnetBlock(nn.Module):
    """x + conv-norm-relu-conv-norm(x), with reflect, replicate or zero padding."""

    def __init__(self, dim: int, padding_type: str, norm_layer, use_dropout: bool, use_bias: bool):
        super().__init__()
        self.conv_block = self.build_conv_block(dim, padding_type, norm_layer, use_dropout, use_bias)

    @staticmethod
    def build_conv_block(dim: int, padding_type: str, norm_layer, use_dropout: bool, use_bias: bool) -> nn.Sequential:
        choose('padding', 'padding_type', padding_type, ('reflect', 'replicate', 'zero'))

        def conv() -> list[nn.Module]:
            if padding_type == 'zero':
                return [nn.Conv2d(dim, dim, kernel_size=3, padding=1, bias=use_bias)]
            return [PADDINGS[padding_type](1), nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias)]

        layers = conv() + [norm_layer(dim), nn.ReLU(True)]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += conv() + [norm_layer(dim)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + recomputed(self.conv_block, x)


class UnetGenerator(nn.Module):
    """U-Net of `num_downs` stride-2 levels: 8 takes 256x256 down to 1x1, 7 takes 128x128 down to 1x1."""

    def __init__(self, input_nc: int, output_nc: int, num_downs: int, ngf: int = 64,
                 norm_layer=nn.BatchNorm2d, use_dropout: bool = False):
        super().__init__()
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, norm_layer=norm_layer, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm_layer=norm_layer, use_dropout=use_dropout)
        for outer in (4, 2, 1):
            block = UnetSkipConnectionBlock(ngf * outer, ngf * outer * 2, submodule=block, norm_layer=norm_layer)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block,
                                             outermost=True, norm_layer=norm_layer)
        self.num_downs = num_downs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        side = 2 ** self.num_downs
        if x.shape[-1] % side or x.shape[-2] % side:
            raise UserError(f'a U-Net with {self.num_downs} downsamplings needs image sides divisible by {side}, '
                            f'got {x.shape[-2]}x{x.shape[-1]}; set --crop_size (and --load_size) to a multiple of {side}')
        return self.model(x)


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: down, the inner submodule, up, and the input concatenated to the output."""

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None, submodule: nn.Module | None = None,
                 outermost: bool = False, innermost: bool = False, norm_layer=nn.BatchNorm2d, use_dropout: bool = False):
        super().__init__()
        self.outermost = outermost
        use_bias = uses_bias(norm_layer)
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            layers = [downconv, submodule, nn.ReLU(True), upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True), upconv, norm_layer(outer_nc)]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, norm_layer(inner_nc), submodule,
                      nn.ReLU(True), upconv, norm_layer(outer_nc)]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: n_layers stride-2 convs then two stride-1 convs; n_layers=3 sees 70x70 patches."""

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm_layer=nn.BatchNorm2d):
        super().__init__()
        use_bias = uses_bias(norm_layer)
        layers = [nn.Conv2d(input_nc, ndf, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=stride, padding=1, bias=use_bias),
                       norm_layer(ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, kernel_size=4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN: classifies each pixel as real or fake."""

    def __init__(self, input_nc: int, ndf: int = 64, norm_layer=nn.BatchNorm2d):
        super().__init__()
        use_bias = uses_bias(norm_layer)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, kernel_size=1, stride=1, padding=0), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, kernel_size=1, stride=1, padding=0, bias=use_bias), norm_layer(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, kernel_size=1, stride=1, padding=0, bias=use_bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class GlobalGenerator(nn.Module):
    """pix2pixHD's global generator: a 7x7 conv, n_downsampling stride-2 convs, n_blocks residual blocks, as many
    transposed convs and a 7x7 conv to the output; every conv has a bias, whatever the norm (as in pix2pixHD)."""

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, n_downsampling: int = 4, n_blocks: int = 9,
                 norm_layer=nn.InstanceNorm2d, use_dropout: bool = False):
        super().__init__()
        if n_blocks < 0 or n_downsampling < 0:
            raise UserError(f'--n_downsample_global {n_downsampling}, --n_blocks_global {n_blocks}: must be 0 or more')
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0), norm_layer(ngf), nn.ReLU(True)]
        for i in range(n_downsampling):
            channels = ngf * 2 ** i
            layers += [nn.Conv2d(channels, channels * 2, kernel_size=3, stride=2, padding=1),
                       norm_layer(channels * 2), nn.ReLU(True)]
        channels = ngf * 2 ** n_downsampling
        layers += [ResnetBlock(channels, 'reflect', norm_layer, use_dropout, use_bias=True) for _ in range(n_blocks)]
        for i in range(n_downsampling):
            channels = ngf * 2 ** (n_downsampling - i)
            layers += [nn.ConvTranspose2d(channels, channels // 2, kernel_size=3, stride=2, padding=1, output_padding=1),
                       norm_layer(channels // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class Encoder(nn.Module):
    """pix2pixHD's feature encoder: the global generator's layers without residual blocks (a 7x7 conv,
    n_downsampling stride-2 convs, as many transposed convs, a 7x7 conv to feat_num channels and tanh), then each
    channel averaged over every instance of the pooling map, so an object's appearance is feat_num numbers."""

    def __init__(self, input_nc: int, feat_num: int, nef: int = 16, n_downsampling: int = 4, norm_layer=nn.InstanceNorm2d):
        super().__init__()
        self.model = GlobalGenerator(input_nc, feat_num, nef, n_downsampling, 0, norm_layer).model
        self.size_multiple = 2 ** n_downsampling

    def forward(self, image: torch.Tensor, instances: torch.Tensor) -> torch.Tensor:
        return instance_mean(run_at_any_size(self.model, image, self.size_multiple), instances)


def instance_mean(features: torch.Tensor, instances: torch.Tensor) -> torch.Tensor:
    """NxCxHxW features with every pixel replaced by the mean of its instance (same ID in the Nx1xHxW map) per
    image and channel; summed in float32, differentiable."""
    pooled = []
    for image_features, ids in zip(features.float(), instances[:, 0]):
        _, inverse = torch.unique(ids.long(), return_inverse=True)
        index = inverse.flatten()
        count = int(index.max()) + 1
        flat = image_features.flatten(1)
        sums = flat.new_zeros(flat.shape[0], count).index_add(1, index, flat)
        sizes = torch.bincount(index, minlength=count).to(flat.dtype)
        pooled.append((sums / sizes)[:, index].view_as(image_features))
    return torch.stack(pooled).to(features.dtype)


def define_E(input_nc: int, feat_num: int, nef: int, n_downsample_E: int, norm: str = 'instance',
             init_type: str = 'normal', init_gain: float = 0.02, device: torch.device | None = None) -> nn.Module:
    """pix2pixHD's feature encoder (net E of --instance_feat / --label_feat) from images of input_nc channels."""
    if feat_num < 1 or n_downsample_E < 0:
        raise UserError(f'--feat_num {feat_num}, --n_downsample_E {n_downsample_E}: need feat_num >= 1 and n_downsample_E >= 0')
    return init_net(Encoder(input_nc, feat_num, nef, n_downsample_E, get_norm_layer(norm)), init_type, init_gain, device)


def input_pyramid_downsample() -> nn.AvgPool2d:
    """pix2pixHD's 2x downsampling between the scales of the local enhancer and of the multiscale D."""
    return nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)


class LocalEnhancer(nn.Module):
    """pix2pixHD's coarse-to-fine generator: a global generator (width ngf * 2 ** n_local_enhancers, without its last
    three layers) on the input halved n_local_enhancers times, then per enhancer n a front end model<n>_1 on the input
    at its scale, added to the coarser output, and residual blocks and an upsampling back end model<n>_2."""

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 32, n_downsample_global: int = 4,
                 n_blocks_global: int = 9, n_local_enhancers: int = 1, n_blocks_local: int = 3,
                 norm_layer=nn.InstanceNorm2d, use_dropout: bool = False):
        super().__init__()
        if n_local_enhancers < 1:
            raise UserError(f'--n_local_enhancers {n_local_enhancers}: --netG local needs at least 1 (or use --netG global)')
        self.n_local_enhancers = n_local_enhancers
        coarse = GlobalGenerator(input_nc, output_nc, ngf * 2 ** n_local_enhancers, n_downsample_global,
                                 n_blocks_global, norm_layer, use_dropout).model
        self.model = nn.Sequential(*list(coarse)[:-3])
        for n in range(1, n_local_enhancers + 1):
            width = ngf * 2 ** (n_local_enhancers - n)
            front = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, width, kernel_size=7, padding=0), norm_layer(width), nn.ReLU(True),
                     nn.Conv2d(width, width * 2, kernel_size=3, stride=2, padding=1), norm_layer(width * 2), nn.ReLU(True)]
            back = [ResnetBlock(width * 2, 'reflect', norm_layer, use_dropout, use_bias=True) for _ in range(n_blocks_local)]
            back += [nn.ConvTranspose2d(width * 2, width, kernel_size=3, stride=2, padding=1, output_padding=1),
                     norm_layer(width), nn.ReLU(True)]
            if n == n_local_enhancers:
                back += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
            setattr(self, f'model{n}_1', nn.Sequential(*front))
            setattr(self, f'model{n}_2', nn.Sequential(*back))
        self.downsample = input_pyramid_downsample()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pyramid = [x]
        for _ in range(self.n_local_enhancers):
            pyramid.append(self.downsample(pyramid[-1]))
        output = recomputed(self.model, pyramid[-1])
        for n in range(1, self.n_local_enhancers + 1):
            front, back = getattr(self, f'model{n}_1'), getattr(self, f'model{n}_2')
            output = recomputed(back, recomputed(front, pyramid[self.n_local_enhancers - n]) + output)
        return output


def hd_patch_stages(input_nc: int, ndf: int, n_layers: int, norm_layer) -> list[list[nn.Module]]:
    """pix2pixHD's PatchGAN as n_layers + 2 stages: 4x4 convs padded by 2, stride 2 except the last two, widths
    doubling up to 512, every conv with a bias."""
    stages = [[nn.Conv2d(input_nc, ndf, kernel_size=4, stride=2, padding=2), nn.LeakyReLU(0.2, True)]]
    width = ndf
    for n in range(1, n_layers + 1):
        previous, width = width, min(width * 2, 512)
        stages.append([nn.Conv2d(previous, width, kernel_size=4, stride=2 if n < n_layers else 1, padding=2),
                       norm_layer(width), nn.LeakyReLU(0.2, True)])
    stages.append([nn.Conv2d(width, 1, kernel_size=4, stride=1, padding=2)])
    return stages


class MultiscaleDiscriminator(nn.Module):
    """pix2pixHD's num_D PatchGANs: scale<num_D-1> sees the full image, each lower index an image halved once more.

    forward returns one list per scale, full resolution first: every stage's output with intermediate_features
    (modules scale<i>_layer<j>), else only the decision (modules layer<i>). Without a sigmoid: the vanilla GAN loss
    takes logits (pix2pixHD's sigmoid has no parameters, so its checkpoints load all the same)."""

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm_layer=nn.InstanceNorm2d,
                 num_D: int = 2, intermediate_features: bool = True):
        super().__init__()
        self.num_D = num_D
        self.intermediate_features = intermediate_features
        for i in range(num_D):
            stages = hd_patch_stages(input_nc, ndf, n_layers, norm_layer)
            if intermediate_features:
                for j, stage in enumerate(stages):
                    setattr(self, f'scale{i}_layer{j}', nn.Sequential(*stage))
            else:
                setattr(self, f'layer{i}', nn.Sequential(*[module for stage in stages for module in stage]))
        self.n_stages = n_layers + 2
        self.downsample = input_pyramid_downsample()
        self.recompute_scales = False

    def scale_stages(self, scale: int) -> list[nn.Module]:
        if self.intermediate_features:
            return [getattr(self, f'scale{scale}_layer{j}') for j in range(self.n_stages)]
        return [getattr(self, f'layer{scale}')]

    def run_scale(self, scale: int, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in self.scale_stages(scale):
            features.append(stage(features[-1] if features else x))
        return features

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        results = []
        for i in range(self.num_D):
            scale = self.num_D - 1 - i
            if self.recompute_scales and torch.is_grad_enabled():
                results.append(checkpoint(self.run_scale, scale, x, use_reentrant=False))
            else:
                results.append(self.run_scale(scale, x))
            if i != self.num_D - 1:
                x = self.downsample(x)
        return results


VGG_SLICE_ENDS = (2, 7, 12, 21, 30)  # torchvision's vgg19().features up to relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
VGG_LAYER_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)


def load_vgg19_features() -> nn.Sequential:
    """torchvision's ImageNet VGG19 convolutional part, from its cache (TORCH_HOME/hub/checkpoints), downloaded there
    when missing; one clear line when it is neither there nor downloadable."""
    weights = VGG19_Weights.IMAGENET1K_V1
    file_name = os.path.basename(weights.url)
    folder = os.path.join(torch.hub.get_dir(), 'checkpoints')
    path = os.path.join(folder, file_name)
    present = os.path.isfile(path)
    try:
        return vgg19(weights=weights).features
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        if present:
            raise UserError(f'the VGG19 weights {path} cannot be loaded ({type(err).__name__}); delete the file to '
                            'download it again, or train without the perceptual loss: --no_vgg_loss') from err
        raise UserError(f'the VGG19 weights for the perceptual loss are not in {folder} and cannot be downloaded '
                        f'({type(err).__name__}); download {weights.url} and put it there as {file_name} (set TORCH_HOME '
                        'to use another folder), or train without the perceptual loss: --no_vgg_loss') from err


class VGGLoss(nn.Module):
    """pix2pixHD's perceptual loss: sum over relu1_1..relu5_1 of weight * L1(VGG19(fake), VGG19(real)), on images
    taken from [-1, 1] to the ImageNet normalization the weights were trained with; VGG itself is frozen."""

    def __init__(self, features: nn.Sequential | None = None):
        super().__init__()
        features = load_vgg19_features() if features is None else features
        starts = (0,) + VGG_SLICE_ENDS[:-1]
        self.slices = nn.ModuleList(nn.Sequential(*list(features)[start:end]) for start, end in zip(starts, VGG_SLICE_ENDS))
        normalization = VGG19_Weights.IMAGENET1K_V1.transforms()
        self.register_buffer('mean', torch.tensor(normalization.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(normalization.std).view(1, 3, 1, 1), persistent=False)
        self.criterion = nn.L1Loss()
        self.requires_grad_(False)
        self.eval()

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = ((x + 1) / 2 - self.mean) / self.std
        outputs = []
        for block in self.slices:
            x = block(x)
            outputs.append(x)
        return outputs

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            targets = self.features(real)
        return sum(weight * self.criterion(out, target)
                   for weight, out, target in zip(VGG_LAYER_WEIGHTS, self.features(fake), targets))
