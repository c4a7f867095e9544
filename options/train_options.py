"""Flags for train.py."""
import argparse

from options.base_options import BaseOptions, add_fid_weights_flag, add_overwrite_flag, add_phase_flag
from util import checkpoint, distributed
from util.errors import UserError


class TrainOptions(BaseOptions):
    is_train = True

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser = super().initialize(parser)
        progress = parser.add_argument_group('training progress')
        progress.add_argument('--print_freq', type=int, default=100, help='iterations between printing losses')
        progress.add_argument('--display_freq', type=int, default=400, help='iterations between showing results in visdom')
        progress.add_argument('--update_html_freq', type=int, default=1000, help='iterations between saving results to the training page')
        progress.add_argument('--no_html', action='store_true', help='do not write the training page <checkpoints_dir>/<name>/web/')
        progress.add_argument('--tf_log', action='store_true', help='write TensorBoard event files (losses, learning rate, images, validation) to <checkpoints_dir>/<name>/logs: tensorboard --logdir <checkpoints_dir>')
        saving = parser.add_argument_group('saving and resuming')
        saving.add_argument('--save_latest_freq', type=int, default=5000, help='iterations between saving the latest checkpoint')
        saving.add_argument('--save_epoch_freq', type=int, default=5, help='epochs between saving numbered checkpoints')
        saving.add_argument('--save_by_iter', action='store_true', help='name the periodic checkpoints iter_<n> instead of latest')
        saving.add_argument('--continue_train', action='store_true', help='resume from the checkpoint chosen by --epoch')
        add_overwrite_flag(saving)
        saving.add_argument('--epoch_count', type=int, default=1, help='first epoch number: epochs run from epoch_count to n_epochs + n_epochs_decay')
        training = parser.add_argument_group('training')
        add_phase_flag(training, 'train')
        training.add_argument('--n_epochs', '--niter', type=int, default=100, help='epochs at the initial learning rate')
        training.add_argument('--n_epochs_decay', '--niter_decay', type=int, default=100, help='epochs of linear decay of the learning rate to zero')
        training.add_argument('--lr_policy', type=str, default='linear', help='learning rate policy [linear | step | plateau | cosine]; plateau follows the validation L1, or the epoch\'s mean G_L1 without validation')
        training.add_argument('--lr_decay_iters', type=int, default=50, help='multiply the learning rate by 0.1 every lr_decay_iters epochs (step policy)')
        training.add_argument('--lr', type=float, default=0.0002, help='initial learning rate of Adam')
        training.add_argument('--beta1', type=float, default=0.5, help='momentum term of Adam')
        training.add_argument('--gan_mode', type=str, default='lsgan', help='GAN objective [vanilla | lsgan | wgangp]; vanilla is the cross-entropy of the original paper')
        training.add_argument('--pool_size', type=int, default=50, help='size of the buffer of generated images shown to D; 0 turns it off')
        training.add_argument('--checkpoint_activations', action='store_true', help='keep less in memory: the residual blocks, the local enhancer\'s parts and each scale of the multiscale D recompute their activations in the backward instead of storing them (about half the memory of a 2048x1024 pix2pixHD step, for some more time); needs --norm instance or none')
        training.add_argument('--nan_policy', type=str, default='stop', help='when a loss becomes NaN or infinite: stop (at the next --print_freq or save, before writing any checkpoint; exit code 2) or skip (leave out that update, count it in loss_log.txt)')
        validation = parser.add_argument_group('validation')
        validation.add_argument('--val_dataroot', type=str, default=None, help='folder of validation images as --dataset_mode reads them (A|B pairs; colour photos for colorization; for labeled, the folder holding val_label/); default: <dataroot>/val when it exists')
        validation.add_argument('--val_freq', type=int, default=1, help='epochs between validations (L1, PSNR, SSIM of G on the validation images); 0 turns validation off')
        validation.add_argument('--val_metric', type=str, default='l1', choices=('l1', 'psnr', 'ssim', 'fid'), help='the validation number that picks the best checkpoint and drives --lr_policy plateau: lowest l1 or fid, highest psnr or ssim')
        add_fid_weights_flag(validation)
        validation.add_argument('--num_val', type=int, default=50, help='validate on at most this many images')
        return parser

    def adjust(self, opt: argparse.Namespace, args: list[str] | None) -> None:
        """Resume when torchrun restarted the run; refuse to start again over a training state unless asked to."""
        resume_or_refuse(opt)


def resume_or_refuse(opt: argparse.Namespace) -> None:
    """A run that torchrun restarted (TORCHELASTIC_RESTART_COUNT above 0) resumes from the newest training state of
    its folder, as --continue_train would; a first run on a folder that holds one is refused in one line unless it
    says --continue_train or --overwrite, so nothing is written over silently."""
    if opt.continue_train or opt.overwrite:
        return
    save_dir = checkpoint.experiment_dir(opt)
    newest = checkpoint.newest_training_state(save_dir)
    if newest is None:
        return
    if distributed.restart_count():
        opt.continue_train, opt.epoch, opt.load_iter = True, newest, 0
        return
    raise UserError(f'{save_dir} holds a training state ({checkpoint.state_path(save_dir, newest)}); pass '
                    '--continue_train to resume it, --overwrite to start again over it, or choose another --name')
