"""Everything --continue_train needs to go on exactly where training stopped.

Beside the reference's <label>_net_<name>.pth (plain state_dicts, unchanged), <label>_train_state.pth
holds the networks again, so that this one atomically written file is always self-consistent, plus the
optimizers, schedulers, progress, random generator states and the data order.
"""
import os
from dataclasses import asdict, dataclass

from util import distributed
from util.checkpoint import atomic_save, capture_rng_state, load_checkpoint, restore_rng_state, training_state_path

ARCHITECTURE_FLAGS = ('netG', 'ngf', 'norm', 'no_dropout', 'input_nc', 'output_nc', 'direction')


@dataclass
class Progress:
    """`epoch` is the epoch to run next (or to finish), `epoch_iter` the samples of it already trained on."""

    epoch: int
    epoch_iter: int = 0
    total_iters: int = 0


def save_checkpoint(model, dataset, label: str | int, progress: Progress, opt) -> None:
    """Write the reference's network files, then the training-state file; each lands atomically."""
    model.save_networks(label)
    if not distributed.is_main_process():
        return
    state = {
        'progress': asdict(progress),
        'epoch_count': opt.epoch_count,
        'networks': model.network_state_dicts(),
        'optimizers': [optimizer.state_dict() for optimizer in model.optimizers],
        'schedulers': [scheduler.state_dict() for scheduler in model.schedulers],
        'scaler': model.scaler.state_dict(),
        'data_order': dataset.state_dict(),
        'rng': capture_rng_state(),
        'options': {flag: getattr(opt, flag) for flag in ARCHITECTURE_FLAGS},
    }
    atomic_save(state, training_state_path(model.save_dir, label))


def resume(model, dataset, opt) -> Progress:
    """Restore the state saved with the checkpoint --continue_train loaded; call it right before the loop."""
    label = f'iter_{opt.load_iter}' if opt.load_iter > 0 else opt.epoch
    path = training_state_path(model.save_dir, label)
    if not os.path.exists(path):
        print(f'note: {path} does not exist (a reference checkpoint?); resuming the networks only, '
              f'with fresh optimizers and learning-rate schedule from epoch {opt.epoch_count}')
        return Progress(opt.epoch_count)
    state = load_checkpoint(path)
    for name, net in model.networks().items():
        distributed.unwrap(net).load_state_dict(state['networks'][name])
    for optimizer, saved in zip(model.optimizers, state['optimizers'], strict=True):
        optimizer.load_state_dict(saved)
    for scheduler, saved in zip(model.schedulers, state['schedulers'], strict=True):
        scheduler.load_state_dict(saved)
    if state['scaler']:
        model.scaler.load_state_dict(state['scaler'])
    dataset.load_state_dict(state['data_order'])
    requested_epoch_count, opt.epoch_count = opt.epoch_count, state['epoch_count']
    restore_rng_state(state['rng'])
    progress = Progress(**state['progress'])
    if requested_epoch_count not in (1, progress.epoch):
        print(f'note: --epoch_count {requested_epoch_count} ignored: the saved state continues at epoch {progress.epoch}')
    print(f'resuming from {path}: epoch {progress.epoch} after {progress.epoch_iter} of its images, '
          f'{progress.total_iters} iterations in total, with optimizers, schedule and random state')
    return progress
