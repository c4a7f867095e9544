"""Train a pix2pix model.

Example:
    python train.py --dataroot ./datasets/facades --name facades_pix2pix --model pix2pix --direction BtoA
Signals: SIGINT/SIGTERM/SIGHUP save `latest` and stop (exit 130/143/129); SIGUSR1 saves `latest` and goes on.
A NaN or infinite loss stops the run before the next save (exit 2), or with --nan_policy skip skips that update.
One train.py at a time per experiment folder: a second one is refused (exit 2).
"""
import math
import time
from dataclasses import asdict

from tqdm import tqdm

from data import create_dataset
from models import create_model
from models.networks import size_multiple_of
from options.train_options import TrainOptions
from training import state
from training.epoch import end_epoch
from training.interrupt import TrainingSignals
from training.preflight import check_training_setup, explain_batch_norm_errors
from training.validation import Validation
from util import checkpoint, distributed
from util.errors import report_user_errors
from util.rng import seed_everything
from util.visualizer import Visualizer


@report_user_errors
def main() -> None:
    signals = TrainingSignals()
    options = TrainOptions()
    opt = options.parse()
    distributed.init_distributed(opt.gpu_ids)
    if distributed.is_main_process():
        checkpoint.hold_experiment_folder(checkpoint.experiment_dir(opt))  # before anything is written there
    seed_everything(opt.seed, distributed.get_rank())
    check_training_setup(opt, size_multiple_of(opt))
    if distributed.is_main_process():
        checkpoint.remove_stale_temporaries(checkpoint.experiment_dir(opt))
    dataset = create_dataset(opt)
    print(f'The number of training images = {len(dataset)}')
    validation = Validation.create(opt)
    if validation:
        print(f'validating every {opt.val_freq} epoch(s) on {len(validation.dataset)} images of {validation.folder}')
    saved = state.read(opt)
    model = create_model(opt)
    model.setup(opt, saved)
    options.save(opt, asdict(model.speed))
    is_logger = distributed.is_main_process()
    visualizer = Visualizer(opt) if is_logger else None
    progress = state.resume(model, dataset, saved, opt)
    del saved  # its tensors are in the model now
    networks = model.networks()
    guard = model.divergence

    def check_divergence(before_save: bool = False) -> None:
        """Where the loop syncs anyway: stop every rank if a loss (or, before a save, a weight) went non-finite;
        log --nan_policy skip's count."""
        guard.stop_if_diverged(progress.epoch, progress.epoch_iter, progress.total_iters,
                               networks if before_save else None)
        skips = guard.skip_report()
        if skips and is_logger:
            visualizer.log_line(f'(epoch: {progress.epoch}, iters: {progress.epoch_iter}) {skips}')

    def save(label: str | int) -> None:
        check_divergence(before_save=True)
        state.save_checkpoint(model, dataset, label, progress, opt)

    def answer_signals() -> None:
        """Save `latest` on SIGUSR1 and go on; save it and exit on a stop signal."""
        stop_signal, save_requested = signals.poll()
        if stop_signal or save_requested:
            save('latest')
            where = f'at epoch {progress.epoch}, {progress.epoch_iter} images into it'
            if stop_signal:
                signals.exit(stop_signal, where)
            print(f'saved latest {where} (SIGUSR1); training goes on')

    with explain_batch_norm_errors(opt):  # a batch-norm error in any step ends the run with one line
        answer_signals()
        last_epoch = opt.n_epochs + opt.n_epochs_decay
        quiet_bars = None if is_logger else True
        for epoch in tqdm(range(progress.epoch, last_epoch + 1), desc='epochs', unit='epoch', disable=quiet_bars):
            epoch_start_time = time.time()
            iter_data_time = time.time()
            dataset.set_epoch(epoch, start=progress.epoch_iter)
            if is_logger:
                visualizer.reset()
            for data in tqdm(dataset, desc=f'epoch {epoch}', total=math.ceil(len(dataset) / opt.batch_size),
                             initial=progress.epoch_iter // opt.batch_size, unit='batch', leave=False, disable=quiet_bars):
                iter_start_time = time.time()
                t_data = iter_start_time - iter_data_time
                progress.total_iters += opt.batch_size
                progress.epoch_iter += opt.batch_size
                model.set_input(data)
                with guard.batch(progress.total_iters, networks):
                    model.optimize_parameters()
                if is_logger and progress.total_iters % opt.display_freq == 0:
                    model.compute_visuals()
                    visualizer.display_current_results(model.get_current_visuals(), epoch,
                                                       progress.total_iters % opt.update_html_freq == 0, progress.total_iters)
                if is_logger and progress.total_iters % opt.print_freq == 0:
                    losses = model.get_current_losses()
                    t_comp = (time.time() - iter_start_time) / opt.batch_size
                    visualizer.print_current_losses(epoch, progress.epoch_iter, losses, t_comp, t_data)
                    visualizer.plot_current_losses(epoch, progress.epoch_iter / len(dataset), losses, progress.total_iters,
                                                   model.optimizers[0].param_groups[0]['lr'])
                if progress.total_iters % opt.print_freq == 0:
                    check_divergence()
                if progress.total_iters % opt.save_latest_freq == 0:
                    print(f'saving the latest model (epoch {epoch}, total_iters {progress.total_iters})')
                    save(f'iter_{progress.total_iters}' if opt.save_by_iter else 'latest')
                answer_signals()
                iter_data_time = time.time()
            check_divergence()
            end_epoch(model, validation, visualizer, progress, save, epoch, opt)
            print(f'End of epoch {epoch} / {last_epoch} \t Time Taken: {time.time() - epoch_start_time:.0f} sec')
            answer_signals()
    save('latest')
    if opt.nan_policy == 'skip' and is_logger:
        visualizer.log_line(f'end of training: {guard.describe_skips()}')
    if is_logger:
        visualizer.close()
    distributed.report_replicas(model.networks())
    distributed.shutdown()


if __name__ == '__main__':
    main()
