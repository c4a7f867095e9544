"""The live visdom display: a real server, started as the README says, gets the image grid and every logged loss
point, and its page draws them in Chromium; a missing server costs one warning and almost no time, and the display
resumes when it comes back."""
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import visdom

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tiny_runs import (IMAGE_SIDE, TINY_NET, artifacts_dir, free_port, headless_chromium, make_aligned_dataset, run_entry,
                       start_visdom_server, stop)
from util.visdom_display import VisdomDisplay

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

TRAIN_IMAGES = 4
WARNING = 'warning: no visdom server answers'


@pytest.fixture(scope='module')
def dataroot(tmp_path_factory) -> Path:
    return make_aligned_dataset(tmp_path_factory.mktemp('data'), {'train': TRAIN_IMAGES})


def train(tmp_path: Path, dataroot: Path, display: list[str], epochs: int = 2) -> tuple[float, str]:
    args = ['--dataroot', str(dataroot), '--name', 'run', '--checkpoints_dir', str(tmp_path / 'checkpoints'),
            *TINY_NET, '--n_epochs', '1', '--n_epochs_decay', str(epochs - 1), '--print_freq', '1',
            '--display_freq', '1', '--no_html', *display]
    tmp_path.mkdir(exist_ok=True)
    start = time.monotonic()
    result = run_entry('train.py', *args, cwd=tmp_path)
    return time.monotonic() - start, result.stderr


def logged_losses(log_file: Path) -> tuple[list[float], dict[str, list[float]]]:
    """Fractional epochs and loss values from the lines of loss_log.txt."""
    xs, losses = [], {}
    for line in log_file.read_text().splitlines():
        match = re.match(r'\(epoch: (\d+), iters: (\d+),.*?\) (.*)', line)
        if match:
            xs.append(int(match[1]) - 1 + int(match[2]) / TRAIN_IMAGES)
            for name, value in re.findall(r'(\S+): (\S+)', match[3]):
                losses.setdefault(name, []).append(float(value))
    return xs, losses


def window_data(port: int, env: str) -> dict:
    client = visdom.Visdom(port=port, env=env, use_incoming_socket=False, raise_exceptions=True)
    return json.loads(client.get_window_data(env=env))


def drawn_windows(port: int, env: str) -> dict:
    """Open the env's page in Chromium, wait until plotly has drawn a plot, save a screenshot, and return each
    window's title with what it shows: the plot's legend entries and lines, the image's source and loaded size."""
    with headless_chromium() as browser:
        browser.get(f'http://127.0.0.1:{port}/env/{env}')
        WebDriverWait(browser, 30).until(lambda page: page.find_elements(By.CSS_SELECTOR, '.react-grid-item svg.main-svg'))
        WebDriverWait(browser, 10).until(lambda page: page.execute_script(
            'return Array.from(document.querySelectorAll(".react-grid-item img")).every(i => i.complete);'))
        browser.save_screenshot(str(artifacts_dir() / 'visdom_training_display.png'))
        return browser.execute_script('''
            const windows = {};
            for (const item of document.querySelectorAll('.react-grid-item')) {
              const image = item.querySelector('img');
              const texts = Array.from(item.querySelectorAll('.bar .pull-right')).map(part => part.textContent.trim());
              windows[texts.reduce((a, b) => (b.length > a.length ? b : a))] = {  // the title, not the icons
                legend: Array.from(item.querySelectorAll('svg.main-svg .legendtext')).map(text => text.textContent),
                lines: item.querySelectorAll('svg.main-svg .scatterlayer .trace').length,
                image: image && {src: image.src, size: [image.naturalWidth, image.naturalHeight]}};
            }
            return windows;''')


def test_training_fills_the_visdom_env_with_image_grid_and_every_logged_loss(tmp_path, dataroot):
    port = free_port()
    server = start_visdom_server(port, tmp_path / 'visdom_env')
    try:
        _, stderr = train(tmp_path, dataroot, ['--display_id', '1', '--display_port', str(port),
                                              '--display_env', 'pix2pix_test', '--display_ncols', '3'])
        windows = window_data(port, 'pix2pix_test')
        drawn = drawn_windows(port, 'pix2pix_test')
    finally:
        stop(server)
    assert set(drawn) == {'run images', 'run loss over time'}, drawn
    assert WARNING not in stderr
    assert windows['2']['type'] == 'image'
    assert windows['2']['content']['src'].startswith('data:image/png;base64,')
    plot = windows['1']
    assert plot['type'] == 'plot'
    xs, losses = logged_losses(tmp_path / 'checkpoints' / 'run' / 'loss_log.txt')
    assert len(xs) == 2 * TRAIN_IMAGES
    traces = {trace['name']: trace for trace in plot['content']['data']}
    assert set(traces) == set(losses) == {'G_GAN', 'G_L1', 'D_real', 'D_fake'}
    for name, values in losses.items():
        np.testing.assert_allclose(traces[name]['x'], xs)
        np.testing.assert_allclose(traces[name]['y'], values, atol=5e-4)
    grid = drawn['run images']['image']
    assert grid['src'] == windows['2']['content']['src']
    assert grid['size'][0] >= 3 * IMAGE_SIDE and grid['size'][1] >= IMAGE_SIDE, grid['size']
    plot = drawn['run loss over time']
    assert plot['legend'] == list(losses) and plot['lines'] == len(losses), plot


def test_missing_server_warns_once_and_training_takes_about_as_long(tmp_path, dataroot):
    """Off and on run side by side, so both see the same load from other processes on this machine."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        off = pool.submit(train, tmp_path / 'off', dataroot, ['--display_id', '0'], 1)
        on = pool.submit(train, tmp_path / 'on', dataroot, ['--display_id', '1', '--display_port', str(free_port())], 1)
        (seconds_off, stderr_off), (seconds_on, stderr_on) = off.result(), on.result()
    assert WARNING not in stderr_off
    assert '%|' not in stderr_off, 'progress bars must stay quiet when stderr is not a terminal'
    assert stderr_on.count(WARNING) == 1
    assert 'python -m visdom.server -port' in stderr_on
    assert 'Traceback' not in stderr_on
    cost = seconds_on - seconds_off
    assert cost < 3.0, f'display on an empty port cost {cost:.1f} s ({seconds_on:.1f} s against {seconds_off:.1f} s)'


def test_display_resumes_when_the_server_comes_back(tmp_path, capsys):
    port = free_port()
    display = VisdomDisplay('http://localhost', port, 'resume', display_id=1, ncols=2, title='run', retry_interval=0.0)
    x, y, names = np.array([0.5]), np.array([[1.0, 2.0]]), ['a', 'b']
    start = time.monotonic()
    for _ in range(20):
        display.plot_losses(x, y, names)
        display.show_images({'real_A': np.zeros((8, 8, 3), np.uint8)})
    assert time.monotonic() - start < 5.0
    assert capsys.readouterr().err.count(WARNING) == 1
    server = start_visdom_server(port, tmp_path / 'visdom_env')
    try:
        display.plot_losses(np.array([0.5, 1.0]), np.array([[1.0, 2.0], [3.0, 4.0]]), names)
        one_window_each = VisdomDisplay('http://localhost', port, 'separate', display_id=5, ncols=0, title='run')
        one_window_each.show_images({'real_A': np.zeros((8, 8, 3), np.uint8), 'fake_B': np.ones((8, 8, 3), np.uint8)})
        windows, separate = window_data(port, 'resume'), window_data(port, 'separate')
    finally:
        stop(server)
    assert 'display resumed' in capsys.readouterr().err
    assert [trace['y'] for trace in windows['1']['content']['data']] == [[1.0, 3.0], [2.0, 4.0]]
    assert {win: window['title'] for win, window in separate.items()} == {'6': 'real_A', '7': 'fake_B'}
