"""Base class of models: set-up, schedulers, checkpoints, visuals and losses.

A subclass provides set_input, forward and optimize_parameters, and fills loss_names,
model_names and visual_names; networks are attributes named net<model_name>.
"""
import argparse
import os
from abc import ABC, abstractmethod
from collections import OrderedDict

import torch
import torch.nn as nn

from models import networks
from util import distributed
from util.checkpoint import atomic_save, load_checkpoint
from util.errors import UserError
from util.util import select_device


class BaseModel(ABC):
    def __init__(self, opt):
        self.opt = opt
        self.isTrain = opt.isTrain
        self.device = select_device(opt.gpu_ids)
        self.gpu_ids = opt.gpu_ids
        self.save_dir = os.path.join(opt.checkpoints_dir, opt.name)
        if opt.preprocess != 'scale_width' and opt.seed is None:
            torch.backends.cudnn.benchmark = True
        self.loss_names: list[str] = []
        self.model_names: list[str] = []
        self.visual_names: list[str] = []
        self.optimizers: list[torch.optim.Optimizer] = []
        self.image_paths: list[str] = []
        self.metric = 0.0
        self.amp_dtype = autocast_dtype(self.device) if opt.amp else None
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return parser

    @abstractmethod
    def set_input(self, input: dict) -> None:
        """Unpack a batch from the data loader and move it to the device."""

    @abstractmethod
    def forward(self) -> None:
        """Compute the outputs from the current inputs."""

    @abstractmethod
    def optimize_parameters(self) -> None:
        """One training step: losses, gradients, weight updates."""

    def networks(self) -> dict[str, nn.Module]:
        return {name: getattr(self, 'net' + name) for name in self.model_names}

    def setup(self, opt) -> None:
        """Create schedulers when training; load checkpoints when testing or resuming; print the networks."""
        if self.isTrain:
            self.schedulers = [networks.get_scheduler(optimizer, opt) for optimizer in self.optimizers]
        if not self.isTrain or opt.continue_train:
            self.load_networks(f'iter_{opt.load_iter}' if opt.load_iter > 0 else opt.epoch)
        self.print_networks(opt.verbose)
        self.accelerate(opt)

    def accelerate(self, opt) -> None:
        """Apply --channels_last and --compile, then wrap for multi-process training when run by torchrun."""
        for name, net in self.networks().items():
            if opt.channels_last:
                net.to(memory_format=torch.channels_last)
            if opt.compile:
                net = torch.compile(net)
            if self.isTrain:
                net = distributed.wrap_ddp(net, self.device, sync_batchnorm=opt.norm == 'syncbatch')
            setattr(self, 'net' + name, net)

    def autocast(self) -> torch.autocast:
        """Mixed precision under --amp; a no-op context otherwise."""
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def make_adam(self, params) -> torch.optim.Adam:
        """Adam with the reference's hyper-parameters; --fused_adam picks the fused kernel."""
        return torch.optim.Adam(params, lr=self.opt.lr, betas=(self.opt.beta1, 0.999), fused=self.opt.fused_adam or None)

    def eval(self) -> None:
        for net in self.networks().values():
            net.eval()

    def test(self) -> None:
        """Forward without gradients, then compute extra visuals."""
        with torch.no_grad(), self.autocast():
            self.forward()
            self.compute_visuals()

    def compute_visuals(self) -> None:
        """Extra images for the display; none by default."""

    def get_image_paths(self) -> list[str]:
        return self.image_paths

    def update_learning_rate(self) -> None:
        """Step every scheduler once, at the end of an epoch."""
        old_lr = self.optimizers[0].param_groups[0]['lr']
        for scheduler in self.schedulers:
            if self.opt.lr_policy == 'plateau':
                scheduler.step(self.metric)
            else:
                scheduler.step()
        lr = self.optimizers[0].param_groups[0]['lr']
        print(f'learning rate {old_lr:.7f} -> {lr:.7f}')

    def get_current_visuals(self) -> OrderedDict:
        return OrderedDict((name, getattr(self, name)) for name in self.visual_names)

    def get_current_losses(self) -> OrderedDict:
        return OrderedDict((name, float(getattr(self, 'loss_' + name).item())) for name in self.loss_names)

    def checkpoint_path(self, epoch: str | int, name: str) -> str:
        return os.path.join(self.save_dir, f'{epoch}_net_{name}.pth')

    def network_state_dicts(self) -> dict[str, dict[str, torch.Tensor]]:
        """Each network's plain CPU state_dict, unwrapped from DDP and compile, with the reference's keys."""
        return {name: {key: value.detach().cpu() for key, value in distributed.unwrap(net).state_dict().items()}
                for name, net in self.networks().items()}

    def save_networks(self, epoch: str | int) -> None:
        """Rank 0 saves each network's plain CPU state_dict as <epoch>_net_<name>.pth, the reference's format."""
        if not distributed.is_main_process():
            return
        for name, state in self.network_state_dicts().items():
            atomic_save(state, self.checkpoint_path(epoch, name))

    def load_networks(self, epoch: str | int) -> None:
        for name, net in self.networks().items():
            net = distributed.unwrap(net)
            path = self.checkpoint_path(epoch, name)
            print(f'loading the model from {path}')
            state = load_checkpoint(path, map_location=self.device)
            state.pop('_metadata', None)
            drop_stale_instance_norm_stats(net, state)
            check_state_dict_matches(net, state, path)
            net.load_state_dict(state)

    def print_networks(self, verbose: bool) -> None:
        print('---------- Networks initialized -------------')
        for name, net in self.networks().items():
            if verbose:
                print(net)
            count = sum(p.numel() for p in net.parameters())
            print(f'[Network {name}] Total number of parameters : {count / 1e6:.3f} M')
        print('-----------------------------------------------')

    @staticmethod
    def set_requires_grad(nets: nn.Module | list[nn.Module], requires_grad: bool = False) -> None:
        for net in nets if isinstance(nets, list) else [nets]:
            for param in net.parameters():
                param.requires_grad = requires_grad


def autocast_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 where the device computes it natively (needs no gradient scaler), else float16."""
    if device.type == 'cuda' and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def drop_stale_instance_norm_stats(net: nn.Module, state: dict) -> None:
    """Checkpoints from PyTorch < 0.4 carry running stats for InstanceNorm layers that no longer track them."""
    for module_name, module in net.named_modules():
        if isinstance(module, nn.InstanceNorm2d) and not module.track_running_stats:
            for key in ('running_mean', 'running_var', 'num_batches_tracked'):
                state.pop(f'{module_name}.{key}', None)


def check_state_dict_matches(net: nn.Module, state: dict, path: str) -> None:
    """Raise one line naming the keys that differ, instead of load_state_dict's long traceback."""
    expected = net.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    wrong_shape = [f'{key} {tuple(state[key].shape)} vs {tuple(value.shape)}' for key, value in expected.items()
                   if key in state and state[key].shape != value.shape]
    if not (missing or unexpected or wrong_shape):
        return
    parts = []
    for label, keys in (('missing', missing), ('unexpected', unexpected), ('wrong shape (file vs model)', wrong_shape)):
        if keys:
            shown = ', '.join(keys[:3]) + (f' and {len(keys) - 3} more' if len(keys) > 3 else '')
            parts.append(f'{label}: {shown}')
    raise UserError(f'checkpoint {path} does not match the network built from the flags '
                    f'(--netG/--netD, --ngf/--ndf, --norm, --input_nc/--output_nc): {"; ".join(parts)}')
