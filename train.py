"""Train a pix2pix model.

Example:
    python train.py --dataroot ./datasets/facades --name facades_pix2pix --model pix2pix --direction BtoA
"""
import time

from data import create_dataset
from models import create_model
from options.train_options import TrainOptions
from util.errors import report_user_errors
from util.visualizer import Visualizer


@report_user_errors
def main() -> None:
    opt = TrainOptions().parse()
    dataset = create_dataset(opt)
    dataset_size = len(dataset)
    print(f'The number of training images = {dataset_size}')
    model = create_model(opt)
    model.setup(opt)
    visualizer = Visualizer(opt)
    total_iters = 0
    for epoch in range(opt.epoch_count, opt.n_epochs + opt.n_epochs_decay + 1):
        epoch_start_time = time.time()
        iter_data_time = time.time()
        epoch_iter = 0
        visualizer.reset()
        for data in dataset:
            iter_start_time = time.time()
            t_data = iter_start_time - iter_data_time
            total_iters += opt.batch_size
            epoch_iter += opt.batch_size
            model.set_input(data)
            model.optimize_parameters()
            if total_iters % opt.display_freq == 0:
                model.compute_visuals()
                visualizer.display_current_results(model.get_current_visuals(), epoch,
                                                   total_iters % opt.update_html_freq == 0)
            if total_iters % opt.print_freq == 0:
                losses = model.get_current_losses()
                t_comp = (time.time() - iter_start_time) / opt.batch_size
                visualizer.print_current_losses(epoch, epoch_iter, losses, t_comp, t_data)
                visualizer.plot_current_losses(epoch, epoch_iter / dataset_size, losses)
            if total_iters % opt.save_latest_freq == 0:
                print(f'saving the latest model (epoch {epoch}, total_iters {total_iters})')
                model.save_networks(f'iter_{total_iters}' if opt.save_by_iter else 'latest')
            iter_data_time = time.time()
        if epoch % opt.save_epoch_freq == 0:
            print(f'saving the model at the end of epoch {epoch}, iters {total_iters}')
            model.save_networks('latest')
            model.save_networks(epoch)
        model.update_learning_rate()
        print(f'End of epoch {epoch} / {opt.n_epochs + opt.n_epochs_decay} \t Time Taken: {time.time() - epoch_start_time:.0f} sec')
    model.save_networks('latest')


if __name__ == '__main__':
    main()
