"""--model colorization: G maps the lightness L to the colour ab; it trains, tests and predicts, its photos keep the
input's L, the test page scores the sRGB photos, grey inputs are colorized, and the reference's checkpoints load."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import color

from tiny_runs import TINY_NET, make_aligned_dataset, run_entry, run_in_process
from models import networks
from models.translator import Translator
from util.checkpoint import load_weights

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

FIXTURES = Path(__file__).parent / 'fixtures'
NET = [*TINY_NET, '--display_id', '0', '--norm', 'instance']  # eval mode (predict.py) acts as training's
TEST_PHOTOS = 2
LIGHTNESS_TOLERANCE = 0.3  # L units (0-100): what rounding the sRGB channels to 8 bits may change


@pytest.fixture(scope='module')
def run(tmp_path_factory) -> Path:
    """One epoch of colorization on generated colour photos (validated on val/), then test.py on the test split,
    to which a grey copy of a test photo is added."""
    root = tmp_path_factory.mktemp('colorization')
    data = make_aligned_dataset(root / 'data', {'train': 4, 'val': 2, 'test': TEST_PHOTOS})
    Image.open(data / 'test' / '000.png').convert('L').save(data / 'test' / 'grey.png')
    common = ['--dataroot', str(data), '--name', 'color', '--checkpoints_dir', str(root / 'ck'), '--model', 'colorization', *NET]
    run_entry('train.py', *common, '--n_epochs', '1', '--n_epochs_decay', '0', '--no_html', cwd=root)
    run_entry('test.py', *common, '--results_dir', str(root / 'results'), '--preprocess', 'none', cwd=root)
    return root


def page_image(run: Path, stem: str, label: str) -> np.ndarray:
    return np.asarray(Image.open(run / 'results' / 'color' / 'test_latest' / 'images' / f'{stem}_{label}.png'))


def source_photo(run: Path, stem: str) -> np.ndarray:
    return np.asarray(Image.open(run / 'data' / 'test' / f'{stem}.png').convert('RGB'))


def assert_keeps_lightness(output: np.ndarray, source: np.ndarray) -> None:
    """Where no channel of the output is clipped to 0 or 255 (out of gamut), its L is the source's up to 8-bit rounding;
    most pixels must be such, and the output must have colour."""
    assert output.shape == source.shape and output.dtype == np.uint8
    unclipped = ((output > 0) & (output < 255)).all(axis=2)
    assert unclipped.mean() > 0.5
    difference = np.abs(color.rgb2lab(output)[..., 0] - color.rgb2lab(source)[..., 0])
    assert difference[unclipped].max() < LIGHTNESS_TOLERANCE
    assert (output.max(axis=2) != output.min(axis=2)).mean() > 0.5


def test_generator_takes_one_channel_and_gives_two(run):
    weights = [value for key, value in load_weights(str(run / 'ck' / 'color' / 'latest_net_G.pth')).items()
               if key.endswith('weight') and value.ndim == 4]
    assert weights[0].shape[1] == 1 and weights[-1].shape[0] == 2
    discriminator = [value for value in load_weights(str(run / 'ck' / 'color' / 'latest_net_D.pth')).values() if value.ndim == 4]
    assert discriminator[0].shape[1] == 3  # D judges (L, ab)


def test_validation_ran_on_the_colour_photos(run):
    log = (run / 'ck' / 'color' / 'loss_log.txt').read_text()
    assert '(val epoch: 1, images: 2' in log
    assert (run / 'ck' / 'color' / 'best_net_G.pth').is_file()


def test_real_B_rgb_is_the_photo_itself(run):
    for stem in (f'{index:03d}' for index in range(TEST_PHOTOS)):
        assert np.abs(page_image(run, stem, 'real_B_rgb').astype(int) - source_photo(run, stem)).max() <= 1


def test_fake_B_rgb_keeps_the_input_lightness(run):
    for stem in (f'{index:03d}' for index in range(TEST_PHOTOS)):
        assert_keeps_lightness(page_image(run, stem, 'fake_B_rgb'), source_photo(run, stem))


def test_metrics_compare_the_srgb_photos(run):
    """metrics.json scores fake_B_rgb against real_B_rgb for the colour photos; the grey input has no ground truth."""
    metrics = json.loads((run / 'results' / 'color' / 'test_latest' / 'metrics.json').read_text())
    assert [image['name'] for image in metrics['images']] == [f'{index:03d}' for index in range(TEST_PHOTOS)]
    for image in metrics['images']:
        fake, real = (page_image(run, image['name'], label).astype(float) / 127.5 for label in ('fake_B_rgb', 'real_B_rgb'))
        assert image['l1'] == pytest.approx(np.abs(fake - real).mean(), abs=2 / 255)
    page = (run / 'results' / 'color' / 'test_latest' / 'index.html').read_text()
    assert 'fake_B_rgb against real_B_rgb' in page


def test_grey_input_is_colorized_and_not_scored(run):
    images = sorted(os.listdir(run / 'results' / 'color' / 'test_latest' / 'images'))
    assert [name for name in images if name.startswith('grey')] == ['grey_fake_B_rgb.png', 'grey_real_A.png']
    assert_keeps_lightness(page_image(run, 'grey', 'fake_B_rgb'), source_photo(run, 'grey'))


def test_predict_colorizes_a_grey_image(run, tmp_path):
    grey = run / 'data' / 'test' / 'grey.png'
    run_in_process('predict.py', '--name', 'color', '--checkpoints_dir', str(run / 'ck'), '--gpu_ids', '-1',
                   '--input', str(grey), '--output', str(tmp_path))
    output = Image.open(tmp_path / 'grey.png')
    assert output.mode == 'RGB'
    assert_keeps_lightness(np.asarray(output), np.asarray(Image.open(grey).convert('RGB')))
    from_python = Translator.from_checkpoint(str(run / 'ck' / 'color'))(Image.open(grey))
    assert np.array_equal(np.asarray(from_python), np.asarray(output))


def test_test_py_on_a_colorization_checkpoint_needs_its_model(run):
    result = run_in_process('test.py', '--dataroot', str(run / 'data'), '--name', 'color', '--checkpoints_dir',
                            str(run / 'ck'), '--results_dir', str(run / 'wrong'), '--gpu_ids', '-1', check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f'error: {run / "ck" / "color" / "latest_train_state.pth"} was trained with --model colorization; '
        'run test.py with --model colorization']


def reference_colorization_state() -> dict[str, torch.Tensor]:
    """The reference's unet_256 (ngf 8) generator file, cut to 1 input and 2 output channels: the structure the
    reference saves for colorization (same keys; only the outermost layers' channel counts differ)."""
    reference = torch.load(FIXTURES / 'reference_unet256_ngf8_net_G.pth', weights_only=True)
    target = networks.define_G(1, 2, 8, 'unet_256', 'batch', use_dropout=True).state_dict()
    assert list(reference) == list(target)
    changed = [key for key in target if target[key].shape != reference[key].shape]
    assert changed == ['model.model.0.weight', 'model.model.3.weight', 'model.model.3.bias']
    return {key: value[tuple(slice(0, side) for side in target[key].shape)].clone() for key, value in reference.items()}


def test_reference_colorization_checkpoint_loads_as_it_is(tmp_path):
    experiment = tmp_path / 'ck' / 'reference_color'
    experiment.mkdir(parents=True)
    torch.save(reference_colorization_state(), experiment / 'latest_net_G.pth')
    grey = tmp_path / 'grey.png'
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (256, 256), dtype=np.uint8)).save(grey)
    run_in_process('predict.py', '--name', 'reference_color', '--checkpoints_dir', str(tmp_path / 'ck'), '--gpu_ids', '-1',
                   '--model', 'colorization', '--ngf', '8', '--input', str(grey), '--output', str(tmp_path / 'out'))
    output = Image.open(tmp_path / 'out' / 'grey.png')
    assert output.mode == 'RGB' and output.size == (256, 256)
