"""The training page and the test page, as a person sees them in Chromium, and the numbers in metrics.json."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from skimage.metrics import structural_similarity

from tiny_runs import IMAGE_SIDE, TINY_NET, artifacts_dir, make_aligned_dataset, run_entry

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

TEST_IMAGES = 3
WINSIZE = 96


@pytest.fixture(scope='module')
def runs(tmp_path_factory) -> dict[str, Path]:
    """Train two short epochs with the training page on, then test; return both page folders."""
    root = tmp_path_factory.mktemp('pages')
    dataroot = make_aligned_dataset(root / 'data', {'train': 4, 'val': 2, 'test': TEST_IMAGES})
    common = ['--dataroot', str(dataroot), '--name', 'pages', '--checkpoints_dir', str(root / 'checkpoints'),
              *TINY_NET, '--display_winsize', str(WINSIZE)]
    run_entry('train.py', *common, '--n_epochs', '1', '--n_epochs_decay', '1', '--print_freq', '1', '--display_freq', '2',
              '--update_html_freq', '2', cwd=root)
    run_entry('test.py', *common, '--results_dir', str(root / 'results'), cwd=root)
    run_entry('test.py', *common, '--results_dir', str(root / 'wide'), '--aspect_ratio', '2', '--num_test', '1', cwd=root)
    return {'train': root / 'checkpoints' / 'pages' / 'web', 'test': root / 'results' / 'pages' / 'test_latest',
            'wide': root / 'wide' / 'pages' / 'test_latest'}


def open_page(browser, folder: Path, screenshot: str) -> list[dict]:
    """Load index.html, save a screenshot as an artifact, and return every image's state."""
    browser.get((folder / 'index.html').as_uri())
    browser.save_screenshot(str(artifacts_dir() / screenshot))
    return browser.execute_script(
        'return Array.from(document.images).map(i => ({src: i.src, complete: i.complete, '
        'naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight, width: i.width}));')


def test_training_page_shows_loss_and_validation_curves_validation_images_and_epochs_newest_first(runs, browser):
    images = open_page(browser, runs['train'], 'training_page.png')
    sources = [Path(image['src']).name for image in images]
    labels = ('real_A', 'fake_B', 'real_B')
    assert sources[:2] == ['loss_curve.png', 'val_curve.png']
    assert sources[2:8] == [f'val_{stem}_{label}.png' for stem in ('000', '001') for label in labels]
    assert sources[8:] == [f'epoch{epoch:03d}_{label}.png' for epoch in (2, 1) for label in labels]
    assert all(image['complete'] and image['naturalWidth'] > 0 for image in images), images
    headers = [element.text for element in browser.find_elements(By.TAG_NAME, 'h3')]
    assert headers == ['validation [epoch 2] 000', 'validation [epoch 2] 001', 'epoch [2]', 'epoch [1]']


def test_test_page_shows_every_result_and_the_metrics_table(runs, browser):
    images = open_page(browser, runs['test'], 'test_page.png')
    assert len(images) == 3 * TEST_IMAGES
    assert all(image['complete'] and image['naturalWidth'] > 0 for image in images), images
    assert all(image['width'] == WINSIZE for image in images)
    rows = browser.find_elements(By.CSS_SELECTOR, 'table#metrics tr')
    assert [cell.text for cell in rows[0].find_elements(By.TAG_NAME, 'th')] == ['image', 'L1', 'PSNR (dB)', 'SSIM']
    assert [row.find_element(By.TAG_NAME, 'td').text for row in rows[1:]] == ['000', '001', '002', 'mean']
    assert 'FID and KID are computed with --eval' in browser.find_element(By.ID, 'summary').text


def test_aspect_ratio_stretches_saved_results(runs, browser):
    images = open_page(browser, runs['wide'], 'test_page_aspect_ratio_2.png')
    assert all(image['naturalWidth'] == 2 * IMAGE_SIDE and image['naturalHeight'] == IMAGE_SIDE for image in images)


def psnr(fake: np.ndarray, real: np.ndarray) -> float:
    mse = np.mean((fake.astype(np.float64) - real.astype(np.float64)) ** 2)
    return 10 * math.log10(255.0 ** 2 / mse)


def test_metrics_json_matches_psnr_and_ssim_recomputed_from_the_saved_images(runs):
    metrics = json.loads((runs['test'] / 'metrics.json').read_text())
    assert metrics['count'] == TEST_IMAGES and metrics['fid'] is None
    for entry in metrics['images']:
        fake = np.asarray(Image.open(runs['test'] / 'images' / f'{entry["name"]}_fake_B.png').convert('RGB'))
        real = np.asarray(Image.open(runs['test'] / 'images' / f'{entry["name"]}_real_B.png').convert('RGB'))
        assert entry['psnr'] == pytest.approx(psnr(fake, real), abs=1e-4)
        ssim = structural_similarity(real, fake, data_range=255, channel_axis=2, win_size=7)
        assert entry['ssim'] == pytest.approx(ssim, abs=1e-4)
    assert metrics['psnr_mean'] == pytest.approx(np.mean([entry['psnr'] for entry in metrics['images']]), abs=1e-4)
    assert metrics['ssim_mean'] == pytest.approx(np.mean([entry['ssim'] for entry in metrics['images']]), abs=1e-4)
