"""train.py --model pix2pixhd on pix2pixHD's label layout (label IDs, instance IDs, photos) validates on val_label/,
and test.py and predict.py translate its label maps, as a pix2pixHD user runs them."""
import json

from PIL import Image
import pytest

from tiny_runs import HD_TINY_NET, make_labeled_dataset, run_entry, run_in_process

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

LABEL_FLAGS = [*HD_TINY_NET, '--label_nc', '12', '--no_vgg_loss', '--preprocess', 'none', '--seed', '0']


def test_label_maps_train_validate_test_and_predict(tmp_path):
    data = make_labeled_dataset(tmp_path / 'data', {'train': 2, 'val': 1, 'test': 2})
    common = ['--dataroot', str(data), '--name', 'hd', '--checkpoints_dir', str(tmp_path / 'ck')]
    trained = run_entry('train.py', *common, *LABEL_FLAGS, '--n_epochs', '1', '--n_epochs_decay', '0', '--no_html', '--print_freq', '1',
                        cwd=tmp_path)
    assert 'validating every 1 epoch(s) on 1 images' in trained.stdout
    log = (tmp_path / 'ck' / 'hd' / 'loss_log.txt').read_text()
    assert '(val epoch: 1, images: 1' in log and 'G_GAN_Feat' in log
    assert (tmp_path / 'ck' / 'hd' / 'best_net_G.pth').is_file()

    run_entry('test.py', *common, '--model', 'pix2pixhd', '--gpu_ids', '-1', '--preprocess', 'none',
              '--results_dir', str(tmp_path / 'results'), cwd=tmp_path)
    page = tmp_path / 'results' / 'hd' / 'test_latest'
    assert json.loads((page / 'metrics.json').read_text())['count'] == 2
    label = Image.open(data / 'test_label' / '0.png')
    assert Image.open(page / 'images' / '0_fake_B.png').size == label.size
    assert Image.open(page / 'images' / '0_real_A.png').mode == 'RGB'  # the label map shown in colour

    run_in_process('predict.py', '--name', 'hd', '--checkpoints_dir', str(tmp_path / 'ck'), '--gpu_ids', '-1',
                   '--input', str(data / 'test_label'), '--instances', str(data / 'test_inst'),
                   '--output', str(tmp_path / 'out'))
    photo = Image.open(tmp_path / 'out' / '0.png')
    assert photo.size == label.size and photo.mode == 'RGB'
