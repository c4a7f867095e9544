"""Shared test helpers: a tiny aligned dataset, a runner for the real entry points and a headless browser."""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import torch
from PIL import Image

CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync',
                  '--disable-dev-shm-usage', '--window-size=1200,1000']
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_NET_FLAGS = ['--netG', 'unet_128', '--ngf', '8', '--ndf', '8', '--load_size', '140', '--crop_size', '128',
                  '--gpu_ids', '-1', '--display_id', '0', '--num_threads', '0']


def write_aligned_images(folder: str, count: int, size: int = 128, seed: int = 0) -> list[str]:
    """Write `count` AB images (A left, B right) of side `size`; B is a smooth function of A."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        a = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        b = 255 - a[:, ::-1]
        path = os.path.join(folder, f'{i:03d}.png')
        Image.fromarray(np.concatenate([a, b], axis=1)).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def tiny_dataset(tmp_path) -> str:
    root = tmp_path / 'data'
    write_aligned_images(str(root / 'train'), 4, seed=1)
    write_aligned_images(str(root / 'test'), 3, seed=2)
    return str(root)


def run_entry(script: str, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run train.py or test.py as a user would, from the repository root."""
    result = subprocess.run([sys.executable, os.path.join(ROOT, script), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f'{script} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}')
    return result


def build_model(checkpoints_dir, *args: str, setup: bool = True):
    """The pix2pix model train.py would build from these flags (tiny networks unless overridden), set up;
    initialized from torch seed 0, so two builds start from the same weights."""
    from models import create_model
    from options.train_options import TrainOptions

    opt = TrainOptions().parse(['--dataroot', 'unused', '--checkpoints_dir', str(checkpoints_dir), *TINY_NET_FLAGS, *args])
    torch.manual_seed(0)
    model = create_model(opt)
    if setup:
        model.setup(opt)
    return model


def random_batch(model, seed: int = 0) -> dict:
    """A batch shaped as the model's flags say, with values in [-1, 1]."""
    opt = model.opt
    generator = torch.Generator().manual_seed(seed)
    images = {key: torch.rand(opt.batch_size, nc, opt.crop_size, opt.crop_size, generator=generator) * 2 - 1
              for key, nc in (('A', opt.input_nc), ('B', opt.output_nc))}
    return {**images, 'A_paths': ['x.png'] * opt.batch_size, 'B_paths': ['x.png'] * opt.batch_size}


def run_in_process(script: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run an entry point's main() in this process, as `python <script> args` would (for scripts that leave no
    global state behind, such as predict.py); saves the interpreter start-up of run_entry."""
    import contextlib
    import importlib
    import io

    module = importlib.import_module(script.removesuffix('.py'))
    out, err = io.StringIO(), io.StringIO()
    saved_argv, sys.argv = sys.argv, [script, *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            module.main()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    finally:
        sys.argv = saved_argv
    result = subprocess.CompletedProcess([script, *args], code, out.getvalue(), err.getvalue())
    if check and code != 0:
        raise AssertionError(f'{script} failed ({code}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}')
    return result


@pytest.fixture(scope='session')
def tiny_experiment(tmp_path_factory):
    """The checkpoints_dir of one TINY_NET experiment `tiny`, trained once for the tests that only read it."""
    from tiny_runs import train_tiny_experiment

    return train_tiny_experiment(tmp_path_factory.mktemp('tiny_experiment'))


@pytest.fixture(scope='module')
def browser():
    """Headless Debian Chromium driven by selenium, with a profile of its own."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = '/usr/bin/chromium'
    profile = tempfile.mkdtemp(prefix='chromium-profile-')
    for flag in [*CHROMIUM_FLAGS, f'--user-data-dir={profile}']:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
