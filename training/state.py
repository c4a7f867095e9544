"""Where training stands, saved with every checkpoint and restored by --continue_train.

<label>_train_state.pth holds the networks again (so that this one atomically written file is always
self-consistent), optimizers, schedulers, progress, data order, every rank's random state and the training record.
"""
import sys
from dataclasses import asdict, dataclass

from models.record import training_record
from util import checkpoint, distributed
from util.rng import capture_rng_state, restore_rng_state


@dataclass
class Progress:
    """Where training stands: `epoch` to run next (or to finish), `epoch_iter` samples of it done, per process."""

    epoch: int
    epoch_iter: int = 0
    total_iters: int = 0
    best_val: float | None = None  # of the best checkpoint, by best_val_metric (--val_metric)
    best_val_metric: str = 'l1'


def save_checkpoint(model, dataset, label: str | int, progress: Progress, opt) -> None:
    """Write the reference's network files and the training-state file, as one set that lands all or nothing.

    Every rank must call it: each rank's random state and model state are gathered to rank 0, which writes."""
    rank_states = distributed.gather_objects({'rng': capture_rng_state(), 'model': model.rank_state()})
    if not distributed.is_main_process():
        return
    networks = checkpoint.network_states(model.networks())
    state = {
        'progress': asdict(progress),
        'networks': networks,
        'model': model.training_state(),
        'data_order': dataset.state_dict(),
        'ranks': rank_states,
        **training_record(opt, asdict(model.speed)),
    }
    checkpoint.save_checkpoint(model.save_dir, label, networks, state)


def read(opt) -> dict | None:
    """The training state --continue_train resumes from, read once: model.setup loads the networks from it and
    `resume` the rest. None without --continue_train, or, with a note, for a checkpoint that has none (the reference's)."""
    if not opt.continue_train:
        return None
    save_dir, label = checkpoint.experiment_dir(opt), checkpoint.checkpoint_label(opt)
    state = checkpoint.read_training_state(save_dir, label)
    if state is None:
        print(f'note: {checkpoint.state_path(save_dir, label)} does not exist (a reference checkpoint?); resuming the '
              f'networks only, with fresh optimizers and learning-rate schedule from epoch {opt.epoch_count}')
    return state


def resume(model, dataset, state: dict | None, opt) -> Progress:
    """Restore what `state` holds beyond the networks (model.setup loaded those); call it right before the loop."""
    if state is None:
        return Progress(opt.epoch_count)
    model.load_training_state(state['model'])
    dataset.load_state_dict(state['data_order'])
    path = checkpoint.state_path(model.save_dir, checkpoint.checkpoint_label(opt))
    rank_state = pick_rank_state(state['ranks'], path)
    model.load_rank_state(rank_state['model'])
    restore_rng_state(rank_state['rng'])
    saved = dict(state['progress'])
    if 'best_val_l1' in saved:  # a state saved before --val_metric
        saved['best_val'] = saved.pop('best_val_l1')
    progress = Progress(**saved)
    if opt.epoch_count not in (1, progress.epoch):
        print(f'note: --epoch_count {opt.epoch_count} ignored: the saved state continues at epoch {progress.epoch}')
    print(f'resuming from {path}: epoch {progress.epoch} after {progress.epoch_iter} of its images, '
          f'{progress.total_iters} iterations in total, with optimizers, schedule and random state')
    if distributed.restart_count():
        print(f'resuming from epoch {progress.epoch}, iteration {progress.total_iters} after restart '
              f'{distributed.restart_count()}')
    return progress


def pick_rank_state(rank_states: list[dict], path: str) -> dict:
    """This rank's saved state; when the number of processes changed, rank 0's, with a note."""
    rank, world_size = distributed.get_rank(), distributed.get_world_size()
    if len(rank_states) == world_size:
        return rank_states[rank]
    if distributed.is_main_process():
        print(f'note: {path} was saved by {len(rank_states)} process(es) and this run has {world_size}; every '
              'process continues from rank 0\'s random state, so the run is not an exact continuation', file=sys.stderr)
    return rank_states[0]
