"""test.py builds the generator the experiment was trained with, without repeating the architecture flags;
a flag given explicitly that contradicts the checkpoint fails with one line naming the mismatched keys."""
import os

import pytest

from tiny_runs import TINY_NET, make_aligned_dataset, run_entry

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

TRAINED_AS = [*TINY_NET, '--norm', 'instance', '--no_dropout', '--input_nc', '1', '--output_nc', '1', '--direction', 'BtoA']
PLAIN = ['--load_size', '32', '--crop_size', '32', '--gpu_ids', '-1']  # test.py is given no architecture flag


def test_test_py_takes_architecture_from_training(tmp_path):
    data = str(tmp_path / 'data')
    make_aligned_dataset(data, {'train': 2, 'test': 2}, seed=8)
    common = ['--dataroot', data, '--name', 'custom', '--checkpoints_dir', str(tmp_path / 'ck'), *PLAIN]
    run_entry('train.py', *common, *TRAINED_AS, '--n_epochs', '1', '--n_epochs_decay', '0', '--no_html')

    result = run_entry('test.py', *common, '--results_dir', str(tmp_path / 'results'))
    assert 'latest_train_state.pth' in result.stdout and '--netG resnet_6blocks' in result.stdout
    assert '--direction BtoA' in result.stdout
    images = os.listdir(tmp_path / 'results' / 'custom' / 'test_latest' / 'images')
    assert sorted(images) == ['000_fake_B.png', '000_real_A.png', '000_real_B.png',
                              '001_fake_B.png', '001_real_A.png', '001_real_B.png']

    os.remove(tmp_path / 'ck' / 'custom' / 'latest_train_state.pth')  # a reference-style experiment: train_opt.txt only
    result = run_entry('test.py', *common, '--results_dir', str(tmp_path / 'results2'))
    assert 'train_opt.txt' in result.stdout and '--ngf 8' in result.stdout

    result = run_entry('test.py', *common, '--ngf', '16', '--results_dir', str(tmp_path / 'results3'), check=False)
    assert result.returncode == 2
    assert result.stderr.count('\n') == 1 and 'does not match' in result.stderr and 'wrong shape' in result.stderr
