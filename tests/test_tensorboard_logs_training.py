"""--tf_log writes TensorBoard event files to <checkpoints_dir>/<name>/logs: read back with tensorboard's own
reader, they hold every loss, the learning rate, the validation curves and images; TensorBoard's page, served by
`tensorboard --logdir <checkpoints_dir>`, lists the scalar tags in Chromium."""
import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tiny_runs import (IMAGE_SIDE, TINY_NET, artifacts_dir, free_port, headless_chromium, make_aligned_dataset,
                       run_entry, start_server, stop)

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

LOSSES = ('G_GAN', 'G_L1', 'D_real', 'D_fake')
TRAIN_IMAGES = 4


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('tensorboard')
    dataroot = make_aligned_dataset(root / 'data', {'train': TRAIN_IMAGES, 'val': 2})
    run_entry('train.py', '--dataroot', str(dataroot), '--name', 'run', '--checkpoints_dir', str(root / 'checkpoints'),
                            *TINY_NET, '--n_epochs', '1', '--n_epochs_decay', '1', '--display_id', '0', '--tf_log',
                            '--print_freq', '1', '--display_freq', '2', '--no_html', cwd=root)
    return root / 'checkpoints'


def logged_losses(log_file: Path) -> dict[str, list[float]]:
    losses = {}
    for line in log_file.read_text().splitlines():
        if line.startswith('(epoch'):
            for name, value in re.findall(r'(G_GAN|G_L1|D_real|D_fake): (\S+)', line):
                losses.setdefault(name, []).append(float(value))
    return losses


def test_event_file_holds_every_loss_learning_rate_validation_and_images(checkpoints):
    events = EventAccumulator(str(checkpoints / 'run' / 'logs'), size_guidance={'images': 0, 'scalars': 0}).Reload()
    steps = list(range(1, 2 * TRAIN_IMAGES + 1))
    for name, values in logged_losses(checkpoints / 'run' / 'loss_log.txt').items():
        scalars = events.Scalars(f'loss/{name}')
        assert [scalar.step for scalar in scalars] == steps
        np.testing.assert_allclose([scalar.value for scalar in scalars], values, atol=5e-4)
    rates = [scalar.value for scalar in events.Scalars('learning_rate')]
    np.testing.assert_allclose(rates, [2e-4] * TRAIN_IMAGES + [1e-4] * TRAIN_IMAGES)
    for metric in ('L1', 'PSNR', 'SSIM'):
        assert [scalar.step for scalar in events.Scalars(f'val/{metric}')] == [TRAIN_IMAGES, 2 * TRAIN_IMAGES]
    for tag in ('train/real_A', 'train/fake_B', 'train/real_B', 'val/000/fake_B', 'val/001/real_B'):
        last = events.Images(tag)[-1]
        assert Image.open(io.BytesIO(last.encoded_image_string)).size == (IMAGE_SIDE, IMAGE_SIDE)
    assert [image.step for image in events.Images('train/fake_B')] == [2, 4, 6, 8]


def test_tensorboard_page_lists_the_scalar_tags(checkpoints):
    port = free_port()
    command = [str(Path(sys.executable).parent / 'tensorboard'), '--logdir', str(checkpoints),
               '--host', '127.0.0.1', '--port', str(port)]
    server = start_server(command, port, 'tensorboard')
    try:
        with headless_chromium() as browser:
            browser.get(f'http://127.0.0.1:{port}/#scalars')
            wanted = [f'tag: loss/{name}' for name in LOSSES] + ['tag: learning_rate']
            WebDriverWait(browser, 60).until(
                lambda page: all(tag in page.find_element(By.TAG_NAME, 'body').text for tag in wanted))
            browser.save_screenshot(str(artifacts_dir() / 'tensorboard_page.png'))
            text = browser.find_element(By.TAG_NAME, 'body').text
    finally:
        stop(server)
    assert 'run/logs' in text
    assert re.search(r'\nval\n3(\n|$)', text), 'the val group (L1, PSNR, SSIM) is missing'


def test_a_resumed_run_continues_the_same_timeline(tmp_path):
    """--continue_train writes to the same log folder, its steps going on from where the first run stopped."""
    dataroot = make_aligned_dataset(tmp_path / 'data', {'train': 2}, seed=4)
    common = ['--dataroot', str(dataroot), '--name', 'run', '--checkpoints_dir', str(tmp_path / 'ck'), *TINY_NET,
              '--tf_log', '--print_freq', '1', '--no_html', '--n_epochs_decay', '0']
    run_entry('train.py', *common, '--n_epochs', '1')
    run_entry('train.py', *common, '--n_epochs', '2', '--continue_train')
    logs = tmp_path / 'ck' / 'run' / 'logs'
    assert len(list(logs.glob('events.out.tfevents.*'))) == 2
    steps = [event.step for event in EventAccumulator(str(logs), size_guidance={'scalars': 0}).Reload().Scalars('loss/G_L1')]
    assert steps == [1, 2, 3, 4]
