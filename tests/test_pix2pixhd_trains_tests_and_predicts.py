"""train.py --model pix2pixhd trains, and test.py and predict.py rebuild its generator from the record alone
(on aligned images with --label_nc 0; label-map data is data/labeled_dataset.py's)."""
import json

import numpy as np
from PIL import Image

from conftest import run_in_process
from tiny_runs import IMAGE_SIDE, make_aligned_dataset, run_script

HD_FLAGS = ['--model', 'pix2pixhd', '--dataset_mode', 'aligned', '--label_nc', '0', '--no_vgg_loss', '--netG', 'global',
            '--ngf', '8', '--ndf', '8', '--n_downsample_global', '2', '--n_blocks_global', '1', '--num_D', '2',
            '--load_size', str(IMAGE_SIDE), '--crop_size', str(IMAGE_SIDE), '--gpu_ids', '-1', '--num_threads', '0',
            '--display_id', '0', '--no_html', '--seed', '0', '--print_freq', '1']


def test_train_test_and_predict(tmp_path):
    data = make_aligned_dataset(tmp_path / 'data', {'train': 2, 'test': 1})
    common = ['--dataroot', str(data), '--name', 'hd', '--checkpoints_dir', str(tmp_path / 'ck')]
    trained = run_script('train.py', [*common, *HD_FLAGS, '--n_epochs', '1', '--n_epochs_decay', '0'], tmp_path)
    assert 'G_GAN_Feat' in trained.stdout and 'G_VGG' not in trained.stdout

    tested = run_script('test.py', [*common, '--model', 'pix2pixhd', '--dataset_mode', 'aligned', '--gpu_ids', '-1',
                                    '--load_size', str(IMAGE_SIDE), '--crop_size', str(IMAGE_SIDE), '--results_dir', str(tmp_path / 'results')], tmp_path)
    assert '--n_downsample_global 2' in tested.stdout and '--label_nc 0' in tested.stdout
    page = tmp_path / 'results' / 'hd' / 'test_latest'
    assert Image.open(page / 'images' / '0_fake_B.png').size == (IMAGE_SIDE, IMAGE_SIDE)
    assert json.loads((page / 'metrics.json').read_text())['count'] == 1

    odd = tmp_path / 'odd.png'
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (29, 45, 3), dtype=np.uint8)).save(odd)
    run_in_process('predict.py', '--name', 'hd', '--checkpoints_dir', str(tmp_path / 'ck'), '--gpu_ids', '-1',
                   '--input', str(odd), str(data / 'test' / '0.png'), '--output', str(tmp_path / 'out'))
    assert Image.open(tmp_path / 'out' / 'odd.png').size == (45, 29)
    assert Image.open(tmp_path / 'out' / '0.png').size == (2 * IMAGE_SIDE, IMAGE_SIDE)
