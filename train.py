"""Train a pix2pix model.

Example:
    python train.py --dataroot ./datasets/facades --name facades_pix2pix --model pix2pix --direction BtoA
"""
import math
import time

from tqdm import tqdm

from data import create_dataset
from models import create_model
from options.train_options import TrainOptions
from util import distributed
from util.errors import report_user_errors
from util.interrupt import StopRequest
from util.preflight import check_norm_can_train, explain_batch_norm_errors
from util.training_state import Progress, resume, save_checkpoint
from util.util import seed_everything
from util.visualizer import Visualizer


@report_user_errors
def main() -> None:
    opt = TrainOptions().parse()
    opt.gpu_ids = distributed.init_distributed(opt.gpu_ids)
    seed_everything(opt.seed)
    check_norm_can_train(opt)
    dataset = create_dataset(opt)
    dataset_size = len(dataset)
    print(f'The number of training images = {dataset_size}')
    model = create_model(opt)
    model.setup(opt)
    is_logger = distributed.is_main_process()
    visualizer = Visualizer(opt) if is_logger else None
    progress = resume(model, dataset, opt) if opt.continue_train else Progress(opt.epoch_count)
    stop = StopRequest()
    total_iters = progress.total_iters
    epochs = range(progress.epoch, opt.n_epochs + opt.n_epochs_decay + 1)
    quiet_bars = None if is_logger else True
    for epoch in tqdm(epochs, desc='epochs', unit='epoch', disable=quiet_bars):
        epoch_start_time = time.time()
        iter_data_time = time.time()
        epoch_iter = progress.epoch_iter if epoch == progress.epoch else 0
        dataset.set_epoch(epoch, start=epoch_iter)
        if is_logger:
            visualizer.reset()
        for data in tqdm(dataset, desc=f'epoch {epoch}', total=math.ceil(dataset_size / opt.batch_size),
                         initial=epoch_iter // opt.batch_size, unit='batch', leave=False, disable=quiet_bars):
            iter_start_time = time.time()
            t_data = iter_start_time - iter_data_time
            total_iters += opt.batch_size
            epoch_iter += opt.batch_size
            model.set_input(data)
            with explain_batch_norm_errors(opt):
                model.optimize_parameters()
            if is_logger and total_iters % opt.display_freq == 0:
                model.compute_visuals()
                visualizer.display_current_results(model.get_current_visuals(), epoch,
                                                   total_iters % opt.update_html_freq == 0)
            if is_logger and total_iters % opt.print_freq == 0:
                losses = model.get_current_losses()
                t_comp = (time.time() - iter_start_time) / opt.batch_size
                visualizer.print_current_losses(epoch, epoch_iter, losses, t_comp, t_data)
                visualizer.plot_current_losses(epoch, epoch_iter / dataset_size, losses)
            if total_iters % opt.save_latest_freq == 0:
                print(f'saving the latest model (epoch {epoch}, total_iters {total_iters})')
                save_checkpoint(model, dataset, f'iter_{total_iters}' if opt.save_by_iter else 'latest',
                                Progress(epoch, epoch_iter, total_iters), opt)
            if stop.requested:
                save_checkpoint(model, dataset, 'latest', Progress(epoch, epoch_iter, total_iters), opt)
                stop.exit(f'latest at epoch {epoch}, {epoch_iter} images into it')
            iter_data_time = time.time()
        model.update_learning_rate()
        if epoch % opt.save_epoch_freq == 0:
            print(f'saving the model at the end of epoch {epoch}, iters {total_iters}')
            save_checkpoint(model, dataset, 'latest', Progress(epoch + 1, 0, total_iters), opt)
            save_checkpoint(model, dataset, epoch, Progress(epoch + 1, 0, total_iters), opt)
        print(f'End of epoch {epoch} / {opt.n_epochs + opt.n_epochs_decay} \t Time Taken: {time.time() - epoch_start_time:.0f} sec')
    save_checkpoint(model, dataset, 'latest', Progress(epochs.stop, 0, total_iters), opt)
    distributed.report_replicas(model.networks())
    distributed.shutdown()


if __name__ == '__main__':
    main()
