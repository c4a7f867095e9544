"""train.py --model pix2pixhd trains, and test.py and predict.py rebuild its generator from the record alone
(on aligned images with --label_nc 0; label-map data is data/labeled_dataset.py's)."""
import json

import numpy as np
import torch
from PIL import Image
import pytest

from tiny_runs import (IMAGE_SIDE, build_labeled_model, label_batch, make_aligned_dataset, run_entry, run_in_process,
                       save_as_trained)
from models.label_maps import encode_input
from models.translator import Translator
from util.image_io import to_array

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

HD_FLAGS = ['--model', 'pix2pixhd', '--dataset_mode', 'aligned', '--label_nc', '0', '--no_instance', '--no_vgg_loss', '--netG', 'global',
            '--ngf', '8', '--ndf', '8', '--n_downsample_global', '2', '--n_blocks_global', '1', '--num_D', '2',
            '--load_size', str(IMAGE_SIDE), '--crop_size', str(IMAGE_SIDE), '--gpu_ids', '-1', '--num_threads', '0',
            '--display_id', '0', '--no_html', '--seed', '0', '--print_freq', '1']


def test_train_test_and_predict(tmp_path):
    data = make_aligned_dataset(tmp_path / 'data', {'train': 2, 'test': 1})
    common = ['--dataroot', str(data), '--name', 'hd', '--checkpoints_dir', str(tmp_path / 'ck')]
    trained = run_entry('train.py', *common, *HD_FLAGS, '--n_epochs', '1', '--n_epochs_decay', '0', cwd=tmp_path)
    assert 'G_GAN_Feat' in trained.stdout and 'G_VGG' not in trained.stdout

    sizes = ['--load_size', str(IMAGE_SIDE), '--crop_size', str(IMAGE_SIDE)]
    tested = run_entry('test.py', *common, '--model', 'pix2pixhd', '--dataset_mode', 'aligned', '--gpu_ids', '-1', *sizes,
                                    '--results_dir', str(tmp_path / 'results'), cwd=tmp_path)
    assert '--n_downsample_global 2' in tested.stdout and '--label_nc 0' in tested.stdout
    page = tmp_path / 'results' / 'hd' / 'test_latest'
    assert Image.open(page / 'images' / '000_fake_B.png').size == (IMAGE_SIDE, IMAGE_SIDE)
    assert json.loads((page / 'metrics.json').read_text())['count'] == 1

    odd = tmp_path / 'odd.png'
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (29, 45, 3), dtype=np.uint8)).save(odd)
    run_in_process('predict.py', '--name', 'hd', '--checkpoints_dir', str(tmp_path / 'ck'), '--gpu_ids', '-1',
                   '--input', str(odd), str(data / 'test' / '000.png'), '--output', str(tmp_path / 'out'))
    assert Image.open(tmp_path / 'out' / 'odd.png').size == (45, 29)
    assert Image.open(tmp_path / 'out' / '000.png').size == (2 * IMAGE_SIDE, IMAGE_SIDE)


def test_label_map_generator_rebuilt_from_its_record_translates_label_pngs(tmp_path):
    model = build_labeled_model(tmp_path, '--name', 'labels', '--label_nc', '5', '--n_blocks_global', '2')
    model.set_input(label_batch(model))
    model.optimize_parameters()
    save_as_trained(model)
    ids = np.random.default_rng(1).integers(0, 5, (6, 10)).repeat(4, 0).repeat(4, 1).astype(np.uint8)
    Image.fromarray(ids).save(tmp_path / 'label.png')

    translator = Translator.from_checkpoint(str(tmp_path / 'labels'))  # train_opt.txt: --label_nc 5, instances, 2 blocks
    assert translator.input_nc == 1 and translator.generator_input_nc == 6
    labels = torch.from_numpy(ids).float()[None, None]
    with torch.no_grad():
        expected = model.netG.eval()(encode_input(labels, labels, 5, ['label.png']))
    photo = translator(Image.open(tmp_path / 'label.png'))
    assert photo.size == (40, 24) and photo.mode == 'RGB'
    assert np.abs(np.asarray(photo).astype(int) - to_array(expected[0]).astype(int)).max() <= 1

    run_in_process('predict.py', '--name', 'labels', '--checkpoints_dir', str(tmp_path), '--gpu_ids', '-1',
                   '--input', str(tmp_path / 'label.png'), '--output', str(tmp_path / 'out'))
    assert np.array_equal(np.asarray(Image.open(tmp_path / 'out' / 'label.png')), np.asarray(photo))

    instances = (np.arange(40)[None, :].repeat(24, 0) // 5 * 1000).astype(np.uint16)  # 16-bit IDs, vertical stripes
    (tmp_path / 'inst').mkdir()
    Image.fromarray(instances).save(tmp_path / 'inst' / 'label.png')
    with torch.no_grad():
        expected = model.netG(encode_input(labels, torch.from_numpy(instances.astype(np.float32))[None, None], 5, ['label.png']))
    run_in_process('predict.py', '--name', 'labels', '--checkpoints_dir', str(tmp_path), '--gpu_ids', '-1', '--overwrite',
                   '--input', str(tmp_path / 'label.png'), '--instances', str(tmp_path / 'inst'), '--output', str(tmp_path / 'out'))
    with_instances = np.asarray(Image.open(tmp_path / 'out' / 'label.png')).astype(int)
    assert np.abs(with_instances - to_array(expected[0]).astype(int)).max() <= 1
    assert not np.array_equal(with_instances, np.asarray(photo))
    Image.fromarray(np.where(ids == 4, 9, ids).astype(np.uint8)).save(tmp_path / 'bad.png')
    bad = run_in_process('predict.py', '--name', 'labels', '--checkpoints_dir', str(tmp_path), '--gpu_ids', '-1',
                         '--input', str(tmp_path / 'bad.png'), '--output', str(tmp_path / 'out'), check=False)
    assert bad.returncode == 2 and 'bad.png' in bad.stderr and 'label ID 9' in bad.stderr and bad.stderr.count('\n') == 1


def test_export_of_a_label_map_generator_takes_one_hot_and_edges(tmp_path):
    import export

    model = build_labeled_model(tmp_path, '--name', 'labels', '--label_nc', '5')
    save_as_trained(model)
    paths = export.export_generator(export.make_parser().parse_args(['--name', 'labels', '--checkpoints_dir', str(tmp_path),
                                                                     '--crop_size', '32', '--out_dir', str(tmp_path / 'out')]))
    labels = torch.randint(0, 5, (1, 1, 32, 32)).float()
    encoded = encode_input(labels, labels, 5, ['x'])  # 5 one-hot channels and the edges
    translator = Translator.from_checkpoint(str(tmp_path / 'labels'))
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(paths[0])(encoded), translator.translate(labels))
