"""predict.py and the Translator API translate files, folders and globs at each image's own size (padding, never
resizing), 16-bit and 1- or 4-channel images included, and agree with test.py where both apply."""
import os
import re
import shutil

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from data import create_dataset
from models import networks
from models.translator import Translator
from options.train_options import TrainOptions
from tiny_runs import TINY_NET, TINY_UNET, make_aligned_dataset, random_image, run_entry, run_in_process, with_values
from util.checkpoint import atomic_save
from util.image_io import read_image

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
UNET_256 = [*with_values(TINY_UNET, netG='unet_256', load_size=256, crop_size=256), '--no_html']


@pytest.fixture(scope='module')
def unet256(tmp_path_factory):
    """A unet_256 (ngf 8) experiment trained one epoch on two 256x256 pairs, with its record."""
    root = tmp_path_factory.mktemp('unet256')
    make_aligned_dataset(root / 'data', {'train': 2, 'test': 1}, size=256, seed=21)
    run_entry('train.py', '--dataroot', str(root / 'data'), '--name', 'u', '--checkpoints_dir', str(root / 'ck'), *UNET_256,
              '--n_epochs', '1', '--n_epochs_decay', '0')
    return root


def predict(root, *args: str, check: bool = True):
    return run_in_process('predict.py', '--name', 'u', '--checkpoints_dir', str(root / 'ck'), '--gpu_ids', '-1', *args, check=check)


def test_odd_sized_image_keeps_its_size(unet256, tmp_path):
    source = random_image(tmp_path / 'odd.png', 300, 217, seed=1)
    predict(unet256, '--input', source, '--output', str(tmp_path / 'out'))
    assert Image.open(tmp_path / 'out' / 'odd.png').size == (300, 217)


def test_256_image_equals_test_py_eval_output(unet256, tmp_path):
    run_entry('test.py', '--dataroot', str(unet256 / 'data'), '--name', 'u', '--checkpoints_dir', str(unet256 / 'ck'),
              '--results_dir', str(tmp_path / 'results'), '--gpu_ids', '-1', '--eval')
    predict(unet256, '--input', str(unet256 / 'data' / 'test' / '000.png'), '--aligned_input', '--output', str(tmp_path / 'out'))
    from_test = np.asarray(Image.open(tmp_path / 'results' / 'u' / 'test_latest' / 'images' / '000_fake_B.png'))
    from_predict = np.asarray(Image.open(tmp_path / 'out' / '000.png'))
    assert from_predict.shape == (256, 256, 3) and np.array_equal(from_predict, from_test)


def test_folder_of_mixed_sizes_in_batches_of_4(unet256, tmp_path):
    sizes = [(64, 48)] * 3 + [(100, 80)] * 2 + [(33, 57)]
    (tmp_path / 'in' / 'sub').mkdir(parents=True)
    for index, (width, height) in enumerate(sizes):
        folder = tmp_path / 'in' / ('sub' if index % 2 else '')
        random_image(folder / f'{index}.jpg', width, height, seed=index)
    result = predict(unet256, '--input', str(tmp_path / 'in'), '--output', str(tmp_path / 'out'), '--batch_size', '4')
    for index, size in enumerate(sizes):
        output = tmp_path / 'out' / ('sub' if index % 2 else '') / f'{index}.png'
        assert Image.open(output).size == size
    assert re.search(r'wrote 6 image\(s\) to .*; peak memory \d+\.\d\d GiB', result.stdout), result.stdout

    again = predict(unet256, '--input', str(tmp_path / 'in'), '--output', str(tmp_path / 'out'))
    assert 'skipping 6 image(s) whose output exists' in again.stdout and 'wrote 0 image(s)' in again.stdout
    replaced = predict(unet256, '--input', str(tmp_path / 'in' / '*.jpg'), '--output', str(tmp_path / 'out'), '--overwrite')
    assert 'wrote 3 image(s)' in replaced.stdout


def write_16bit_rgb(path, high_bits: np.ndarray, low_bits: int) -> str:
    cv2.imwrite(str(path), (high_bits.astype(np.uint16) * 256 + low_bits)[..., ::-1])
    return str(path)


def test_16_bit_precision_reaches_the_generator_and_the_output(unet256, tmp_path):
    high = np.random.default_rng(5).integers(0, 255, (64, 128, 3))
    coarse, fine = write_16bit_rgb(tmp_path / 'coarse.png', high, 0), write_16bit_rgb(tmp_path / 'fine.png', high, 200)
    assert not torch.equal(read_image(coarse), read_image(fine))
    assert torch.allclose(read_image(fine), read_image(coarse), atol=201 / 65535)

    for name, path in (('coarse', coarse), ('fine', fine)):
        os.makedirs(tmp_path / name / 'train')
        shutil.copy(path, tmp_path / name / 'train' / 'pair.png')
    inputs = []
    for name in ('coarse', 'fine'):
        opt = TrainOptions().parse(['--dataroot', str(tmp_path / name), '--checkpoints_dir', str(tmp_path / 'ck'), '--num_threads', '0',
                                    '--load_size', '64', '--crop_size', '64', '--no_flip', '--gpu_ids', '-1'])
        inputs.append(next(iter(create_dataset(opt)))['A'])
    assert not torch.equal(*inputs)

    predict(unet256, '--input', fine, '--output', str(tmp_path / 'out'))
    written = cv2.imread(str(tmp_path / 'out' / 'fine.png'), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16 and written.shape == (64, 128, 3)


def test_reference_checkpoint_in_the_api_and_in_predict(tmp_path):
    experiment = tmp_path / 'ck' / 'ref'
    experiment.mkdir(parents=True)
    shutil.copy(os.path.join(FIXTURES, 'reference_unet256_ngf8_net_G.pth'), experiment / 'latest_net_G.pth')
    translator = Translator.from_checkpoint(str(experiment), ngf=8)
    io = torch.load(os.path.join(FIXTURES, 'reference_unet256_ngf8_io.pth'), weights_only=True)
    torch.testing.assert_close(translator.translate(io['input']), io['output'], rtol=0, atol=1e-5)

    photo = translator(Image.open(random_image(tmp_path / 'label.png', 120, 90, seed=3)))
    assert isinstance(photo, Image.Image) and photo.size == (120, 90) and photo.mode == 'RGB'
    run_in_process('predict.py', '--name', 'ref', '--checkpoints_dir', str(tmp_path / 'ck'), '--ngf', '8', '--gpu_ids', '-1',
              '--input', str(tmp_path / 'label.png'), '--output', str(tmp_path / 'out'))
    assert Image.open(tmp_path / 'out' / 'label.png').size == (120, 90)


def test_channel_count_that_does_not_match_is_one_line_naming_the_file(unet256, tmp_path):
    source = random_image(tmp_path / 'rgba.png', 40, 30, seed=4, mode='RGBA')
    ok = predict(unet256, '--input', source, '--output', str(tmp_path / 'out'))
    assert 'wrote 1 image(s)' in ok.stdout  # RGBA to RGB drops alpha, as the reference converts
    experiment = tmp_path / 'ck' / 'four'
    experiment.mkdir(parents=True)
    atomic_save(networks.define_G(4, 4, 8, 'resnet_6blocks', 'batch', use_dropout=True).state_dict(),
                str(experiment / 'latest_net_G.pth'))
    rgb = random_image(tmp_path / 'rgb.png', 40, 30, seed=5)
    result = run_in_process('predict.py', '--name', 'four', '--checkpoints_dir', str(tmp_path / 'ck'), '--netG', 'resnet_6blocks',
                       '--ngf', '8', '--input_nc', '4', '--output_nc', '4', '--gpu_ids', '-1', '--input', rgb,
                       '--output', str(tmp_path / 'out4'), check=False)
    assert result.returncode == 2 and result.stderr.count('\n') == 1 and 'Traceback' not in result.stderr
    assert rgb in result.stderr and 'has 3 channel(s)' in result.stderr and '4' in result.stderr


@pytest.mark.parametrize('channels,mode', [(1, 'L'), (4, 'RGBA')])
def test_gray_and_four_channel_images_train_test_and_predict(tmp_path, channels, mode):
    data = make_aligned_dataset(tmp_path / 'data', {'train': 2, 'test': 1}, mode=mode)
    common = ['--dataroot', str(data), '--name', 'nc', '--checkpoints_dir', str(tmp_path / 'ck'), *TINY_NET]
    run_entry('train.py', *common, '--input_nc', str(channels), '--output_nc', str(channels), '--n_epochs', '1',
              '--n_epochs_decay', '0', '--no_html')
    run_entry('test.py', *common, '--results_dir', str(tmp_path / 'results'))
    assert Image.open(tmp_path / 'results' / 'nc' / 'test_latest' / 'images' / '000_fake_B.png').size == (32, 32)
    run_in_process('predict.py', '--name', 'nc', '--checkpoints_dir', str(tmp_path / 'ck'), '--gpu_ids', '-1', '--aligned_input',
              '--input', str(data / 'test' / '000.png'), '--output', str(tmp_path / 'out'))
    output = Image.open(tmp_path / 'out' / '000.png')
    assert output.mode == mode and output.size == (32, 32)


@pytest.mark.parametrize('netG', ['unet_256', 'unet_128', 'resnet_6blocks'])
def test_test_py_with_preprocess_none_works_at_any_size(tmp_path, netG):
    make_aligned_dataset(tmp_path / 'data', {'test': 1}, size=150, seed=7)
    Image.open(tmp_path / 'data' / 'test' / '000.png').crop((0, 0, 300, 100)).save(tmp_path / 'data' / 'test' / '000.png')
    experiment = tmp_path / 'ck' / 'any'
    experiment.mkdir(parents=True)
    atomic_save(networks.define_G(3, 3, 8, netG, 'batch', use_dropout=True).state_dict(), str(experiment / 'latest_net_G.pth'))
    run_entry('test.py', '--dataroot', str(tmp_path / 'data'), '--name', 'any', '--checkpoints_dir', str(tmp_path / 'ck'),
              '--netG', netG, '--ngf', '8', '--preprocess', 'none', '--gpu_ids', '-1', '--results_dir', str(tmp_path / 'results'))
    fake = Image.open(tmp_path / 'results' / 'any' / 'test_latest' / 'images' / '000_fake_B.png')
    assert fake.size == (150, 100)
