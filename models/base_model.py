"""Base class of models: set-up, speed settings, schedulers, checkpoints, visuals and losses.

A subclass provides set_input, forward and optimize_parameters, and fills loss_names, model_names and
visual_names; networks are attributes named net<model_name>. optimize_parameters uses the step policy it inherits
(models.step): autocast, the gradient scaler and the divergence guard. State that must survive a resume beyond the
networks, optimizers and schedulers goes in rank_state / load_rank_state.
"""
import argparse
import contextlib
import copy
import os
from abc import ABC, abstractmethod
from collections import OrderedDict
from typing import Callable

import torch
import torch.nn as nn

from models import networks, speed
from models.speed import SpeedSettings, prepare_network
from models.step import StepPolicy
from util import checkpoint, distributed
from util.hardware import return_free_memory, select_device


class BaseModel(StepPolicy, ABC):
    def __init__(self, opt):
        self.opt = opt
        self.isTrain = opt.isTrain
        self.device = select_device(distributed.rank_gpu_ids(opt.gpu_ids))
        self.save_dir = checkpoint.experiment_dir(opt)
        if opt.preprocess != 'scale_width' and opt.seed is None:
            torch.backends.cudnn.benchmark = True
        self.loss_names: list[str] = []
        self.model_names: list[str] = []
        self.visual_names: list[str] = []
        self.optimizers: list[torch.optim.Optimizer] = []
        self.schedulers: list = []
        self.image_paths: list[str] = []
        self.speed = SpeedSettings()
        self.init_step_policy(opt.nan_policy if self.isTrain else None)

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

    def setup(self, opt, state: dict | None = None) -> None:
        """Create schedulers when training; load the networks when testing or resuming (from `state`, the training
        state --continue_train resumes, when there is one; else from the net files); mark the modules
        --checkpoint_activations recomputes; choose and apply the speed settings (a resumed --fast run keeps its
        choice); wrap for multi-process training when run by torchrun."""
        if self.isTrain:
            self.schedulers = [networks.get_scheduler(optimizer, opt) for optimizer in self.optimizers]
        if state is not None:
            self.load_network_states(state['networks'], checkpoint.checkpoint_label(opt))
        elif not self.isTrain or opt.continue_train:
            self.load_networks(checkpoint.checkpoint_label(opt))
        self.print_networks(opt.verbose)
        if self.isTrain and opt.checkpoint_activations:
            for net in self.networks().values():
                networks.checkpoint_activations(net)
        saved = state.get('speed') if state is not None else None
        self.apply_speed(speed.choose(SpeedSettings.from_opt(opt), opt.fast, self.device, self.speed_trial, self.isTrain,
                                      saved, self.held_as_is))
        if self.isTrain:
            for name, net in self.networks().items():
                setattr(self, 'net' + name, distributed.wrap_ddp(net, self.device, sync_batchnorm=opt.norm == 'syncbatch'))

    def speed_trial(self, settings: SpeedSettings) -> Callable[[], None]:
        """This model under `settings` with a synthetic batch: one training step (or test forward) for --fast to time,
        inside held_as_is. Each starts as a first step, without gradients or Adam's moments (which follow the
        parameters' layout), so that a trial holds no more memory than a step."""
        self.drop_step_state()
        if settings != self.speed:
            self.apply_speed(settings)
            return_free_memory()  # the parameters' storage before a change of memory format
        self.set_input(self.synthetic_batch())
        return self.optimize_parameters if self.isTrain else self.test

    @contextlib.contextmanager
    def held_as_is(self):
        """Afterwards, put back exactly all that steps change (networks, optimizers, schedulers, scaler, image pool,
        divergence counters, as a resume restores them): --fast times steps of this very model, no copy of it, and
        the state waits on disk meanwhile, so tuning costs about the memory of a step."""
        networks = {name: distributed.unwrap(net).state_dict() for name, net in self.networks().items()}
        training = (self.training_state(), self.rank_state()) if self.isTrain else None
        divergence = copy.deepcopy(self.divergence) if self.isTrain else None
        with checkpoint.set_aside(self.save_dir, {'networks': networks, 'training': training}) as take_back:
            del networks, training
            try:
                yield
            finally:
                self.drop_step_state()
                saved = take_back()
                for name, net in self.networks().items():
                    distributed.unwrap(net).load_state_dict(saved['networks'][name])
                if self.isTrain:
                    self.load_training_state(saved['training'][0])
                    self.load_rank_state(saved['training'][1])
                    self.divergence = divergence

    def drop_step_state(self) -> None:
        """Free the gradients and Adam's moments, between --fast's trials (held_as_is puts the moments back after)."""
        for optimizer in self.optimizers:
            optimizer.state.clear()
            optimizer.zero_grad(set_to_none=True)
        return_free_memory()

    def synthetic_batch(self) -> dict:
        """Random images of the configured batch size, crop size and channel counts."""
        opt = self.opt
        nc_a, nc_b = (opt.output_nc, opt.input_nc) if opt.direction == 'BtoA' else (opt.input_nc, opt.output_nc)
        batch = opt.batch_size
        generator = torch.Generator().manual_seed(0)
        images = {key: torch.rand(batch, nc, opt.crop_size, opt.crop_size, generator=generator) * 2 - 1
                  for key, nc in (('A', nc_a), ('B', nc_b))}
        return {**images, 'A_paths': ['synthetic.png'] * batch, 'B_paths': ['synthetic.png'] * batch}

    def apply_speed(self, settings: SpeedSettings) -> None:
        """Autocast dtype and gradient scaler, memory format, fused Adam and torch.compile, as `settings` say; they
        become self.speed."""
        self.speed = settings
        self.set_precision(settings.amp)
        for name, net in self.networks().items():
            setattr(self, 'net' + name, prepare_network(net, settings))
        set_fused_adam(self.optimizers, settings.fused_adam)

    def make_adam(self, params) -> torch.optim.Adam:
        """Adam with the reference's hyper-parameters; the fused kernel is switched on by apply_speed."""
        return torch.optim.Adam(params, lr=self.opt.lr, betas=(self.opt.beta1, 0.999))

    def eval(self) -> None:
        for net in self.networks().values():
            net.eval()

    def train(self) -> None:
        for net in self.networks().values():
            net.train()

    def test(self) -> None:
        """Forward without gradients, then compute extra visuals."""
        with torch.no_grad(), self.autocast():
            self.forward()
            self.compute_visuals()

    def compute_visuals(self) -> None:
        """Extra images for the display; none by default."""

    def get_image_paths(self) -> list[str]:
        return self.image_paths

    def update_learning_rate(self, metric: float | None = None) -> None:
        """Step every scheduler once, at the end of an epoch; plateau follows `metric` and waits when it is None."""
        old_lr = self.optimizers[0].param_groups[0]['lr']
        for scheduler in self.schedulers:
            if self.opt.lr_policy != 'plateau':
                scheduler.step()
            elif metric is not None:
                scheduler.step(metric)
        lr = self.optimizers[0].param_groups[0]['lr']
        print(f'learning rate {old_lr:.7f} -> {lr:.7f}')

    def epoch_metric(self) -> float | None:
        """A number summarizing the epoch for --lr_policy plateau when there is no validation; None by default."""
        return None

    def get_current_visuals(self) -> OrderedDict:
        return OrderedDict((name, getattr(self, name)) for name in self.visual_names)

    def get_current_losses(self) -> OrderedDict:
        return OrderedDict((name, float(getattr(self, 'loss_' + name).item())) for name in self.loss_names)

    def load_networks(self, label: str | int) -> None:
        for name, net in self.networks().items():
            path = checkpoint.net_path(self.save_dir, label, name)
            print(f'loading the model from {path}')
            checkpoint.load_network(distributed.unwrap(net), path, map_location=self.device)

    def load_network_states(self, states: dict[str, dict], label: str | int) -> None:
        """Every network from the state_dicts of the label's training-state file, the copies that were saved with its
        net files, so that the networks, optimizers and random state of a resumed run all come from one save."""
        source = checkpoint.state_path(self.save_dir, label)
        saved_with = ', '.join(os.path.basename(checkpoint.net_path(self.save_dir, label, name)) for name in self.model_names)
        print(f'loading the model from {source} (the networks saved with {saved_with})')
        for name, net in self.networks().items():
            checkpoint.load_network_state(distributed.unwrap(net), states[name], f'{source} (net {name})')

    def training_state(self) -> dict:
        """Optimizers, schedulers and gradient scaler, identical on every rank."""
        return {'optimizers': [optimizer.state_dict() for optimizer in self.optimizers],
                'schedulers': [scheduler.state_dict() for scheduler in self.schedulers],
                'scaler': self.scaler.state_dict()}

    def load_training_state(self, state: dict) -> None:
        for optimizer, saved in zip(self.optimizers, state['optimizers'], strict=True):
            optimizer.load_state_dict(saved)
        for scheduler, saved in zip(self.schedulers, state['schedulers'], strict=True):
            scheduler.load_state_dict(saved)
        if state['scaler']:
            self.scaler.load_state_dict(state['scaler'])
        set_fused_adam(self.optimizers, self.speed.fused_adam)

    def rank_state(self) -> dict:
        """State that differs between ranks and must survive a resume; none by default."""
        return {}

    def load_rank_state(self, state: dict) -> None:
        """Restore what rank_state saved."""

    def print_networks(self, verbose: bool) -> None:
        print('---------- Networks initialized -------------')
        for name, net in self.networks().items():
            if verbose:
                print(net)
            count = sum(map(torch.numel, net.parameters()))
            print(f'[Network {name}] Total number of parameters : {count / 1e6:.3f} M')
        print('-----------------------------------------------')


def set_fused_adam(optimizers: list[torch.optim.Optimizer], fused: bool) -> None:
    """Switch Adam's fused kernel on or off for every parameter group (a checkpoint's setting is overridden)."""
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group['fused'] = fused or None
