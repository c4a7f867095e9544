"""test_opt.txt records what test.py ran with: the settings TestOptions forces and the adopted training architecture."""
import os

from util.checkpoint import read_options_file
import pytest

from tiny_runs import TINY_NET, make_aligned_dataset, run_entry

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick


def test_test_opt_txt_holds_the_forced_and_adopted_values(tmp_path):
    data = str(tmp_path / 'data')
    make_aligned_dataset(data, {'train': 2, 'test': 1}, seed=1)
    common = ['--dataroot', data, '--name', 'rec', '--checkpoints_dir', str(tmp_path / 'ck'), '--load_size', '32',
              '--crop_size', '32', '--gpu_ids', '-1']
    run_entry('train.py', *common, *TINY_NET, '--n_epochs', '1', '--n_epochs_decay', '0', '--no_html')
    run_entry('test.py', *common, '--results_dir', str(tmp_path / 'results'), '--num_threads', '3', '--batch_size', '4')
    recorded = read_options_file(os.path.join(tmp_path, 'ck', 'rec', 'test_opt.txt'))
    assert {key: recorded[key] for key in ('num_threads', 'batch_size', 'serial_batches', 'no_flip', 'display_id',
                                            'netG', 'ngf')} == {
        'num_threads': '0', 'batch_size': '1', 'serial_batches': 'True', 'no_flip': 'True', 'display_id': '-1',
        'netG': 'resnet_6blocks', 'ngf': '8'}
