"""Helpers for tests that run train.py / test.py end to end on a tiny aligned dataset and tiny networks."""
import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
IMAGE_SIDE = 32
TINY_NET = ['--netG', 'resnet_6blocks', '--ngf', '8', '--ndf', '8', '--load_size', str(IMAGE_SIDE),
            '--crop_size', str(IMAGE_SIDE), '--gpu_ids', '-1', '--num_threads', '0']
CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync',
                  '--disable-dev-shm-usage']


def make_aligned_dataset(root: Path, splits: dict[str, int]) -> Path:
    """<root>/<split>/<i>.png, each a {A|B} pair: a noisy colour gradient and a blurred, tinted copy."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, IMAGE_SIDE)
    for split, count in splits.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            base = np.stack([ramp[None, :].repeat(IMAGE_SIDE, 0), ramp[:, None].repeat(IMAGE_SIDE, 1),
                             np.full((IMAGE_SIDE, IMAGE_SIDE), 40.0 * index)], axis=2)
            photo = np.clip(base + rng.normal(0, 30, base.shape), 0, 255)
            target = np.clip(0.6 * photo + 0.4 * photo.mean(axis=(0, 1)) + [30, 0, -30], 0, 255)
            pair = np.concatenate([photo, target], axis=1).astype(np.uint8)
            Image.fromarray(pair).save(root / split / f'{index}.png')
    return root


def demo_dataset_script():
    """datasets/make_demo_dataset.py as a module (datasets/ is not a package)."""
    spec = importlib.util.spec_from_file_location('make_demo_dataset', REPO / 'datasets' / 'make_demo_dataset.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_labeled_dataset(root: Path, splits: dict[str, int], size: int = IMAGE_SIDE, seed: int = 0) -> Path:
    """<root>/<split>_{label,inst,img}/<i>.png: the demo's facades as pix2pixHD label data; train on it with
    --dataset_mode labeled --label_nc 12 (datasets/make_demo_dataset.py --layout labeled)."""
    demo = demo_dataset_script()
    args = demo.parse_args(['--layout', 'labeled', '--out', str(root), '--size', str(size), '--seed', str(seed)])
    for split, count in splits.items():
        demo.write_labeled_split(args, split, count)
    return root


def write_labeled_sample(root: Path, phase: str, name: str, label: np.ndarray, inst: np.ndarray | None = None,
                         image: np.ndarray | None = None, image_ext: str = '.png') -> None:
    """One sample of the labeled layout: <phase>_label/<name>.png, <phase>_inst/<name>.png (8- or 16-bit IDs as
    the arrays' dtypes say) and <phase>_img/<name><image_ext>; a None part is not written."""
    for kind, pixels, ext in (('label', label, '.png'), ('inst', inst, '.png'), ('img', image, image_ext)):
        if pixels is not None:
            (root / f'{phase}_{kind}').mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / f'{phase}_{kind}' / f'{name}{ext}')


def run_script(script: str, args: list[str], cwd: Path, timeout: float = 120,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run train.py or test.py as a user would, with output captured (so not a terminal); `env` adds variables."""
    command = [sys.executable, str(REPO / script), *args]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})})
    assert result.returncode == 0, f'{script} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}'
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def start_server(command: list[str], port: int, name: str, timeout: float = 60) -> subprocess.Popen:
    """Start a server process on 127.0.0.1:port and wait until it accepts connections (output to a temporary file,
    shown when it fails to start)."""
    log = tempfile.TemporaryFile(mode='w+')
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return server
        except OSError:
            if server.poll() is not None:
                log.seek(0)
                raise AssertionError(f'{name} exited at start-up:\n{log.read()[-3000:]}')
            time.sleep(0.2)
    stop(server)
    raise AssertionError(f'{name} did not answer on port {port} within {timeout:.0f} s')


def start_visdom_server(port: int, env_path: Path) -> subprocess.Popen:
    """A real visdom server on localhost:port, started as the README says (`python -m visdom.server`); with no
    internet it starts only if set-up (scripts/visdom_assets.sh) has given it its web files."""
    env_path.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, '-m', 'visdom.server', '-port', str(port), '-env_path', str(env_path), '-bind_local',
               '-logging_level', 'WARNING']
    return start_server(command, port, 'visdom server (its web files missing? run scripts/visdom_assets.sh VENV)')


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def headless_chromium(window: str = '1200,1000'):
    """Debian's Chromium, headless, driven by selenium, with a throw-away profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = '/usr/bin/chromium'
    profile = tempfile.mkdtemp(prefix='chromium-profile-')
    for flag in [*CHROMIUM_FLAGS, f'--window-size={window}', f'--user-data-dir={profile}']:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def artifacts_dir() -> Path:
    """Where tests leave files for people to look at: $PIX2PIX_ARTIFACTS_DIR, else <repo>/artifacts."""
    folder = Path(os.environ.get('PIX2PIX_ARTIFACTS_DIR', REPO / 'artifacts'))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
