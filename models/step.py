"""The step policy of every model, in one place: mixed precision (autocast and the gradient scaler) and the divergence
guard around each optimizer step. BaseModel inherits StepPolicy; a model's optimize_parameters runs its forward and
losses under `self.autocast()`, calls `self.scaler.scale(loss).backward()` and `self.step_optimizer(optimizer, net)`,
and ends with `self.update_scaler()`. DDP wrapping is util.distributed's, done once in BaseModel.setup.

Non-finite losses and weights are noticed without a device sync per step, and acted on where the loop syncs anyway.
Each optimizer step records, on the device, the first iteration at which each of its losses was NaN or infinite,
with a few tiny kernels and no read-back. The training loop reads the record (`stop_if_diverged`) only where it
already waits for the device: at --print_freq, before every save and at the end of every epoch. So under
--nan_policy stop (the default) the run ends at the first such point after the divergence, before any checkpoint
is written from the diverged networks; the save path refuses non-finite weights as a last guard.
Under --nan_policy skip the step itself must know, so `admits` reads the losses back: one sync per update, the
price of that opt-in policy; under torchrun the ranks decide together, since DDP has already averaged every rank's
gradients into all of them.

Mixed precision: the losses are checked unscaled, as the models compute them: autocast runs the loss functions
(mse, l1, BCE-with-logits) in float32, and the scaler multiplies the loss only for the backward. The gradient
scaler's skipped steps come from infinite *scaled gradients* behind a finite loss, so they never trigger this guard.
A loss that is itself NaN or infinite under float16 means the forward overflowed (activations past 65504), which
lowering the loss scale cannot cure: that is a divergence like any other, and is treated as one.
"""
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn as nn

from util import distributed
from util.errors import UserError
from util.hardware import native_autocast_dtype

NAN_POLICIES = ('stop', 'skip')


class TrainingDiverged(UserError):
    """A loss or a network became NaN or infinite: nothing useful can be saved from here."""


@dataclass
class Divergence:
    """The first non-finite value one process saw: what it was and the total_iters of its batch."""

    what: str
    total_iters: int
    rank: int = 0


class DivergenceGuard:
    """Records the losses behind every optimizer step; see the module's docstring for when it looks at them."""

    def __init__(self, policy: str):
        if policy not in NAN_POLICIES:
            raise UserError(f'--nan_policy {policy!r}: choose one of: {", ".join(NAN_POLICIES)}')
        self.policy = policy
        self.total_iters = 0
        self.first_bad: dict[str, tuple[list[str], torch.Tensor, torch.Tensor]] = {}
        self.skipped: dict[str, int] = {}
        self.skipped_logged = 0

    def admits(self, net_name: str, losses: dict[str, torch.Tensor]) -> bool:
        """Record `losses` (those behind net `net_name`'s update); False when --nan_policy skip refuses the update."""
        values = torch.stack([loss.detach().float() for loss in losses.values()])
        finite = torch.isfinite(values)
        self.record(net_name, list(losses), values, finite)
        if self.policy != 'skip':
            return True
        bad = distributed.reduce_over_ranks([float(not finite.all())], op='max')[0]
        if bad:
            self.skipped[net_name] = self.skipped.get(net_name, 0) + 1
        return not bad

    def record(self, net_name: str, names: list[str], values: torch.Tensor, finite: torch.Tensor) -> None:
        """Keep, per loss, the total_iters and value of its first non-finite value (-1: none yet), on the device."""
        if net_name not in self.first_bad:
            self.first_bad[net_name] = (names, torch.full_like(values, -1, dtype=torch.long), torch.zeros_like(values))
        _, at, seen = self.first_bad[net_name]
        first_time = ~finite & (at < 0)
        self.first_bad[net_name] = (names, torch.where(first_time, self.total_iters, at),
                                    torch.where(first_time, values, seen))

    @contextmanager
    def batch(self, total_iters: int, networks: dict[str, nn.Module]) -> Iterator[None]:
        """Around one training step: note its position; under skip, a network whose update was refused gets its
        buffers (batch-norm running statistics, which the forward already moved) back as they were."""
        self.total_iters = total_iters
        if self.policy != 'skip':
            yield
            return
        saved = {name: [buffer.clone() for buffer in net.buffers()] for name, net in networks.items()}
        before = dict(self.skipped)
        yield
        for name, net in networks.items():
            if self.skipped.get(name, 0) > before.get(name, 0):
                for buffer, copy in zip(net.buffers(), saved[name]):
                    buffer.copy_(copy)

    def first_divergence(self) -> Divergence | None:
        """This process's earliest non-finite loss; reads the record back from the device (a sync)."""
        found = None
        for names, at, seen in self.first_bad.values():
            for name, where, value in zip(names, at.tolist(), seen.tolist()):
                if where >= 0 and (found is None or where < found.total_iters):
                    found = Divergence(f'loss {name} was {value}', where, distributed.get_rank())
        return found

    def non_finite_weights(self, networks: dict[str, nn.Module]) -> Divergence | None:
        """The first network tensor (weights or buffers) holding NaN or infinity after the latest update (a sync)."""
        for net_name, net in networks.items():
            tensors = {key: value for key, value in net.state_dict().items() if value.is_floating_point()}
            finite = torch.stack([torch.isfinite(value).all() for value in tensors.values()]).tolist()
            for key, ok in zip(tensors, finite):
                if not ok:
                    return Divergence(f'net {net_name} held NaN or infinite values ({key}) after the update',
                                      self.total_iters, distributed.get_rank())
        return None

    def stop_if_diverged(self, epoch: int, epoch_iter: int, total_iters: int,
                         networks: dict[str, nn.Module] | None = None) -> None:
        """End the run (every rank, together) if any rank saw a non-finite loss (under --nan_policy stop) or, when
        `networks` are given (before a save), holds non-finite weights (under either policy).

        Call it at least once per epoch, before the epoch's end moves the position on: it names the iteration
        by counting back from (epoch_iter, total_iters)."""
        found = self.first_divergence() if self.policy == 'stop' else None
        if found is None and networks is not None:
            found = self.non_finite_weights(networks)
        if not distributed.reduce_over_ranks([float(found is not None)], op='max')[0]:
            return
        everywhere = [item for item in distributed.gather_objects(found) or [] if item is not None]
        distributed.shutdown()
        if not distributed.is_main_process():
            raise SystemExit(2)
        first = min(everywhere, key=lambda item: (item.total_iters, item.rank))
        iters = epoch_iter - (total_iters - first.total_iters)
        where = f'epoch {epoch}, iters {iters}' if iters > 0 else f'the end of epoch {epoch - 1}'  # saves after an epoch
        where += f' (total_iters {first.total_iters})'
        rank = f' on rank {first.rank}' if distributed.get_world_size() > 1 else ''
        skip = '' if self.policy == 'skip' else ', or pass --nan_policy skip to skip updates with such losses'
        raise TrainingDiverged(f'training diverged: {first.what} at {where}{rank}; stopped without saving, so no '
                               'checkpoint holds the diverged networks; lower --lr (--continue_train resumes from '
                               f'the last checkpoint){skip}')

    def skip_report(self) -> str | None:
        """A line on the updates --nan_policy skip has refused, when there are more than at the last report."""
        total = sum(self.skipped.values())
        if total == self.skipped_logged:
            return None
        self.skipped_logged = total
        return self.describe_skips()

    def describe_skips(self) -> str:
        per_net = ', '.join(f'{name}: {count}' for name, count in sorted(self.skipped.items()))
        return (f'--nan_policy skip: {sum(self.skipped.values())} update(s) skipped for a non-finite loss'
                + (f' ({per_net})' if per_net else ''))


class StepPolicy:
    """Mixed into BaseModel, which has `device` and `loss_names`: the attributes amp_dtype, scaler and (in training)
    divergence, and the calls around each optimizer step."""

    device: torch.device
    loss_names: list[str]

    def init_step_policy(self, nan_policy: str | None) -> None:
        """float32 and a disabled scaler until set_precision; a divergence guard under `nan_policy` (training only)."""
        self.set_precision(amp=False)
        self.scaler_has_steps = False
        if nan_policy is not None:
            self.divergence = DivergenceGuard(nan_policy)

    def set_precision(self, amp: bool) -> None:
        """Under --amp the device's native low precision, with a gradient scaler for float16."""
        self.amp_dtype = native_autocast_dtype(self.device) if amp else None
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)

    def autocast(self) -> torch.autocast:
        """Mixed precision under --amp; a no-op context otherwise."""
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def step_optimizer(self, optimizer: torch.optim.Optimizer, net_name: str) -> bool:
        """Step `optimizer` through the gradient scaler unless the divergence guard refuses it; True when taken.
        The losses behind net X's update are those named X_<term> in loss_names."""
        losses = {name: getattr(self, 'loss_' + name) for name in self.loss_names if name.startswith(net_name + '_')}
        if not self.divergence.admits(net_name, losses):
            return False
        self.scaler.step(optimizer)
        self.scaler_has_steps = True
        return True

    def update_scaler(self) -> None:
        """The gradient scaler's update after a step's updates (it refuses to run when all of them were skipped)."""
        if self.scaler_has_steps:
            self.scaler.update()
        self.scaler_has_steps = False
