"""pix2pixHD's flag spellings are aliases of ours (one argparse entry each, shown in --help); a flag is taken only as
written, never as a unique prefix of another; a missing or mistaken flag is one line."""
import pytest

from options.test_options import TestOptions
from options.train_options import TrainOptions
from tiny_runs import run_entry

PIX2PIXHD_SPELLINGS = [('--loadSize', '1024', 'load_size', 1024), ('--fineSize', '512', 'crop_size', 512),
                       ('--resize_or_crop', 'scale_width', 'preprocess', 'scale_width'), ('--niter', '50', 'n_epochs', 50),
                       ('--niter_decay', '7', 'n_epochs_decay', 7), ('--batchSize', '4', 'batch_size', 4),
                       ('--nThreads', '3', 'num_threads', 3), ('--fp16', None, 'amp', True),
                       ('--data_type', '16', 'amp', True), ('--which_epoch', '5', 'epoch', '5')]


@pytest.mark.parametrize('flag, value, dest, expected', PIX2PIXHD_SPELLINGS, ids=[row[0] for row in PIX2PIXHD_SPELLINGS])
def test_pix2pixhd_spelling_sets_our_flag(flag, value, dest, expected):
    args = ['--dataroot', 'unused', '--model', 'pix2pixhd', flag, *([value] if value else [])]
    opt, parser = TrainOptions().gather_options(args)
    assert getattr(opt, dest) == expected
    assert flag in parser.format_help()


def test_data_type_32_is_full_precision_and_the_dataroot_is_pix2pixhd_s():
    opt, _ = TrainOptions().gather_options(['--model', 'pix2pixhd', '--fp16', '--data_type', '32'])
    assert opt.amp is False and opt.data_type == 32
    assert opt.dataroot == './datasets/cityscapes/'  # pix2pixHD's default, under --model pix2pixhd only
    assert TrainOptions().gather_options(['--model', 'pix2pixhd', '--data_type', '16'])[0].amp is True


def test_how_many_is_num_test():
    opt, _ = TestOptions().gather_options(['--dataroot', 'unused', '--how_many', '7'])
    assert opt.num_test == 7


def test_niter_is_not_taken_for_niter_fix_global():
    opt, _ = TrainOptions().gather_options(['--dataroot', 'unused', '--model', 'pix2pixhd', '--niter', '50'])
    assert opt.n_epochs == 50 and opt.niter_fix_global == 0


@pytest.mark.parametrize('script, args, named', [
    ('train.py', ['--dataroot', 'x', '--n_epochs_dec', '5'], '--n_epochs_dec'),  # a unique prefix is not taken
    ('train.py', ['--name', 'x'], '--dataroot'),  # the missing required flag is named
    ('predict.py', ['--name', 'x', '--inp', 'a.png', '--output', 'o'], '--inp'),
])
def test_a_mistake_in_the_flags_is_one_line_naming_it(script, args, named):
    result = run_entry(script, *args, check=False)
    assert result.returncode == 2 and result.stderr.count('\n') == 1, result.stderr
    assert result.stderr.startswith('error: ') and named in result.stderr and 'usage:' not in result.stderr
