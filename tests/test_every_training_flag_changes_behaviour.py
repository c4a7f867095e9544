"""Each training flag that changes behaviour is checked to change it: a test here fails if the flag is ignored.

Flags whose effect other files pin are listed in the closing note of the flags issue (for instance --lr, --beta1 and
--lambda_L1 in test_pix2pix_objective_matches_written_out_step.py, --continue_train in test_resume_is_exact.py)."""
import os
import random
import re
from contextlib import nullcontext

import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image

from data import create_dataset
from options.train_options import TrainOptions
from tiny_runs import TINY_NET, build_model, make_aligned_dataset, random_batch, run_entry
from training.epoch import end_epoch
from training.state import Progress
from util.visualizer import Visualizer


def train_steps(model, steps: int = 4) -> dict[str, torch.Tensor]:
    """`steps` steps on fixed batches from fixed random states; returns G's and D's weights."""
    random.seed(0)
    torch.manual_seed(0)
    for step in range(steps):
        model.set_input(random_batch(model, seed=step))
        model.optimize_parameters()
    return {f'{net}.{key}': value.clone() for net in 'GD' for key, value in model.networks()[net].state_dict().items()}


def same(first: dict, second: dict) -> bool:
    return all(torch.equal(first[key], second[key]) for key in first)


def test_pool_size_0_is_the_default_behaviour_and_1_shows_D_older_fakes(tmp_path):
    default = train_steps(build_model(tmp_path))
    assert same(train_steps(build_model(tmp_path, '--pool_size', '0')), default)
    assert not same(train_steps(build_model(tmp_path, '--pool_size', '1')), default)


def test_wgangp_adds_the_gradient_penalty_weighted_by_lambda_gp(tmp_path):
    flags = ['--gan_mode', 'wgangp', '--norm', 'instance']
    with_penalty = build_model(tmp_path, *flags, '--lambda_gp', '10')
    without_penalty = build_model(tmp_path, *flags, '--lambda_gp', '0')
    assert 'D_GP' in with_penalty.loss_names and 'D_GP' not in without_penalty.loss_names
    weights = [train_steps(model, steps=1) for model in (with_penalty, without_penalty)]
    assert with_penalty.loss_D_GP.item() > 0
    d_weights = [{key: value for key, value in w.items() if key.startswith('D.')} for w in weights]
    assert not same(*d_weights)


class FixedValidation:
    """Stands in for training.validation.Validation: reports the given L1 per epoch."""

    def __init__(self, l1_by_epoch: dict[int, float]):
        self.l1_by_epoch = l1_by_epoch

    def due(self, epoch: int) -> bool:
        return epoch in self.l1_by_epoch

    def run(self, model, epoch: int):
        return type('Result', (), {'l1': self.l1_by_epoch[epoch]})()


def learning_rates(model, epochs: int, validation=None, tally=None) -> list[float]:
    """Run end_epoch for `epochs` epochs, with G_L1 tallies `tally(epoch)`, and return the rate after each."""
    progress, rates = Progress(1), []
    for epoch in range(1, epochs + 1):
        model.l1_tally = [torch.tensor(tally(epoch)), 1]
        end_epoch(model, validation, None, progress, lambda label: None, epoch, model.opt)
        rates.append(model.optimizers[0].param_groups[0]['lr'])
    return rates


def test_plateau_follows_the_epoch_G_L1_without_validation(tmp_path):
    flags = ['--lr_policy', 'plateau', '--save_epoch_freq', '1000']
    stalled = learning_rates(build_model(tmp_path, *flags), 8, tally=lambda epoch: 5.0)
    improving = learning_rates(build_model(tmp_path, *flags), 8, tally=lambda epoch: 10.0 / epoch)
    assert stalled[-1] < stalled[0] and improving[-1] == improving[0] == 0.0002


def test_plateau_follows_the_validation_L1_when_validation_runs(tmp_path):
    flags = ['--lr_policy', 'plateau', '--save_epoch_freq', '1000']
    improving_train_stalled_val = learning_rates(build_model(tmp_path, *flags), 8, FixedValidation(dict.fromkeys(range(1, 9), 0.3)),
                                                 tally=lambda epoch: 10.0 / epoch)
    assert improving_train_stalled_val[-1] < improving_train_stalled_val[0]
    improving_val = learning_rates(build_model(tmp_path, *flags), 8, FixedValidation({e: 1.0 / e for e in range(1, 9)}),
                                   tally=lambda epoch: 5.0)
    assert improving_val[-1] == improving_val[0]


def test_step_policy_decays_every_lr_decay_iters_epochs(tmp_path):
    rates = learning_rates(build_model(tmp_path, '--lr_policy', 'step', '--lr_decay_iters', '3', '--save_epoch_freq', '1000'),
                           6, tally=lambda epoch: 1.0)
    assert rates == pytest.approx([2e-4, 2e-4, 2e-5, 2e-5, 2e-5, 2e-6])


@pytest.mark.parametrize('flag,check', [
    (['--channels_last'], lambda m: m.netG.model.model[0].weight.is_contiguous(memory_format=torch.channels_last)),
    (['--fused_adam'], lambda m: all(group['fused'] for opt in m.optimizers for group in opt.param_groups)),
    (['--compile'], lambda m: hasattr(m.netG, '_orig_mod') and hasattr(m.netD, '_orig_mod')),
    (['--no_dropout'], lambda m: not any(isinstance(layer, torch.nn.Dropout) for layer in m.netG.modules())),
    (['--norm', 'instance'], lambda m: any(isinstance(layer, torch.nn.InstanceNorm2d) for layer in m.netG.modules())),
    (['--ngf', '4'], lambda m: m.netG.model.model[0].out_channels == 4),
    (['--ndf', '4'], lambda m: m.netD.model[0].out_channels == 4),
    (['--netD', 'n_layers', '--n_layers_D', '2'], lambda m: sum(isinstance(x, torch.nn.Conv2d) for x in m.netD.modules()) == 4),
    (['--netD', 'pixel'], lambda m: all(x.kernel_size == (1, 1) for x in m.netD.modules() if isinstance(x, torch.nn.Conv2d))),
    (['--netG', 'resnet_9blocks'], lambda m: type(m.netG).__name__ == 'ResnetGenerator'),
    (['--input_nc', '1', '--output_nc', '4'], lambda m: (m.netG.model.model[0].in_channels, m.netD.model[0].in_channels) == (1, 5)),
    (['--init_gain', '0.5'], lambda m: m.netG.model.model[0].weight.std() > 0.2),
    (['--init_type', 'orthogonal'], lambda m: m.netG.model.model[0].weight.std() < 0.01),
    (['--lr', '0.1', '--beta1', '0.3'], lambda m: m.optimizers[0].param_groups[0]['lr'] == 0.1
     and m.optimizers[1].param_groups[0]['betas'] == (0.3, 0.999)),
    (['--gan_mode', 'lsgan'], lambda m: isinstance(m.criterionGAN.loss, torch.nn.MSELoss)),
])
def test_model_flag_is_applied(tmp_path, flag, check):
    assert not check(build_model(tmp_path)), f'{flag} already holds by default, so this proves nothing'
    assert check(build_model(tmp_path, *flag))


def test_direction_swaps_A_and_B(tmp_path):
    batch = random_batch(build_model(tmp_path, '--input_nc', '3', '--output_nc', '3'))
    model = build_model(tmp_path, '--direction', 'BtoA')
    model.set_input(batch)
    assert torch.equal(model.real_A, batch['B']) and torch.equal(model.real_B, batch['A'])


def first_epoch(tmp_path, *flags: str) -> list[dict]:
    args = ['--dataroot', str(tmp_path / 'data'), '--checkpoints_dir', str(tmp_path / 'ck'), '--gpu_ids', '-1',
            '--display_id', '0', '--num_threads', '0', '--load_size', '40', '--crop_size', '32', '--seed', '3', *flags]
    dataset = create_dataset(TrainOptions().parse(args))
    dataset.set_epoch(1)
    return list(dataset)


def whole_image_resized(batch: dict, side: int) -> bool:
    """A is the left half of its file resized to side x side (no crop offset), as --load_size = --crop_size gives."""
    half = Image.open(batch['A_paths'][0]).convert('RGB').crop((0, 0, 64, 64)).resize((side, side), Image.BICUBIC)
    expected = TF.normalize(TF.to_tensor(half), [0.5] * 3, [0.5] * 3)
    return batch['A'].shape[-1] == side and (torch.equal(batch['A'][0], expected) or torch.equal(batch['A'][0], expected.flip(-1)))


@pytest.mark.parametrize('flag,check', [
    (['--serial_batches'], lambda batches: [os.path.basename(b['A_paths'][0]) for b in batches] == ['000.png', '001.png', '002.png', '003.png']),
    (['--load_size', '32'], lambda batches: whole_image_resized(batches[0], 32)),
    (['--crop_size', '24'], lambda batches: batches[0]['A'].shape[-1] == 24),
    (['--preprocess', 'crop', '--crop_size', '48', '--load_size', '48'], lambda batches: batches[0]['A'].shape[-1] == 48),
    (['--preprocess', 'none'], lambda batches: batches[0]['A'].shape[-2:] == (64, 64)),
    (['--preprocess', 'scale_width', '--load_size', '48'], lambda batches: batches[0]['A'].shape[-2:] == (48, 48)),
    (['--max_dataset_size', '2'], lambda batches: len(batches) == 2),
    (['--batch_size', '2'], lambda batches: len(batches) == 2 and batches[0]['A'].shape[0] == 2),
    (['--input_nc', '1', '--direction', 'AtoB'], lambda batches: batches[0]['A'].shape[1] == 1),
])
def test_data_flag_is_applied(tmp_path, flag, check):
    make_aligned_dataset(tmp_path / 'data', {'train': 4}, size=64, seed=11)
    assert not check(first_epoch(tmp_path)), f'{flag} already holds by default, so this proves nothing'
    assert check(first_epoch(tmp_path, *flag))


def test_no_flip_turns_off_flips(tmp_path):
    """Without --no_flip some of 8 samples come out mirrored; with it none does (crop fixed by --load_size = crop)."""
    make_aligned_dataset(tmp_path / 'data', {'train': 8}, seed=12)
    plain = first_epoch(tmp_path, '--load_size', '32', '--no_flip', '--serial_batches')
    flipped = first_epoch(tmp_path, '--load_size', '32', '--serial_batches')
    mirrored = [torch.equal(a['A'], torch.flip(b['A'], dims=[-1])) for a, b in zip(flipped, plain)]
    unchanged = [torch.equal(a['A'], b['A']) for a, b in zip(flipped, plain)]
    assert any(mirrored) and all(m or u for m, u in zip(mirrored, unchanged))


@pytest.mark.slow
def test_logging_and_saving_flags(tmp_path):
    """--print_freq, --display_freq, --update_html_freq, --no_html, --save_latest_freq, --save_by_iter,
    --save_epoch_freq and --load_iter, in two short runs."""
    make_aligned_dataset(tmp_path / 'data', {'train': 4}, seed=13)
    common = ['--dataroot', str(tmp_path / 'data'), '--checkpoints_dir', str(tmp_path / 'ck'), *TINY_NET,
              '--n_epochs', '2', '--n_epochs_decay', '0']
    run_entry('train.py', *common, '--name', 'logged', '--print_freq', '3', '--display_freq', '2',
              '--update_html_freq', '4', '--save_latest_freq', '3', '--save_by_iter', '--save_epoch_freq', '2')
    experiment = tmp_path / 'ck' / 'logged'
    files = set(os.listdir(experiment))
    assert {'iter_3_net_G.pth', 'iter_6_net_G.pth', '2_net_G.pth'} <= files and '1_net_G.pth' not in files
    log = (experiment / 'loss_log.txt').read_text()
    assert len(re.findall(r'^\(epoch', log, re.M)) == 2  # iterations 3 and 6 of 8
    assert sorted(os.listdir(experiment / 'web' / 'images')) == sorted(
        [f'epoch{e:03d}_{label}.png' for e in (1, 2) for label in ('real_A', 'fake_B', 'real_B')] + ['loss_curve.png'])

    result = run_entry('train.py', *common, '--name', 'logged', '--continue_train', '--load_iter', '3', '--no_html',
                       '--print_freq', '100')
    assert 'iter_3_net_G.pth' in result.stdout and 'epoch 1 after 3 of its images' in result.stdout

    run_entry('train.py', *common, '--name', 'quiet', '--no_html', '--n_epochs', '1')
    assert not (tmp_path / 'ck' / 'quiet' / 'web').exists()


def test_suffix_verbose_gpu_ids_and_display_server(tmp_path, capsys):
    args = ['--dataroot', 'unused', '--checkpoints_dir', str(tmp_path), '--name', 'exp', '--suffix', '{netG}_b{batch_size}']
    assert TrainOptions().parse(args).name == 'exp_unet_256_b1'
    build_model(tmp_path, '--verbose')
    assert 'UnetGenerator(' in capsys.readouterr().out
    with pytest.warns(UserWarning, match='no CUDA|none is available') if not torch.cuda.is_available() else nullcontext():
        model = build_model(tmp_path, '--gpu_ids', '0')
    assert model.device.type == ('cuda' if torch.cuda.is_available() else 'cpu')
    opt = TrainOptions().parse(['--dataroot', 'unused', '--checkpoints_dir', str(tmp_path), '--display_server',
                                'http://visdom.example', '--display_port', '9000', '--display_id', '3'])
    assert Visualizer(opt).display.address == 'http://visdom.example:9000'
