"""The one helper module of the tests: the repository root, the tiny-network flags, the aligned-dataset writer,
the runners for the entry points (a subprocess as a user runs them, or main() in this process), in-process model
builders, and the local servers some tests start."""
import contextlib
import importlib
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
IMAGE_SIDE = 32


def with_values(flags: list[str], **values: str | int) -> list[str]:
    """`flags` with the value after each `--name` replaced by values[name]."""
    replaced = list(flags)
    for name, value in values.items():
        replaced[replaced.index(f'--{name}') + 1] = str(value)
    return replaced


# Small, quiet, CPU: a 6-block ResNet generator on 32x32 crops, no display server, data loaded in the main process.
TINY_NET = ['--netG', 'resnet_6blocks', '--ngf', '8', '--ndf', '8', '--load_size', str(IMAGE_SIDE),
            '--crop_size', str(IMAGE_SIDE), '--gpu_ids', '-1', '--display_id', '0', '--num_threads', '0']
# The same with the U-Net the pix2pix paper uses at its smallest size (7 down-samplings need 128 pixels).
TINY_UNET = with_values(TINY_NET, netG='unet_128', load_size=140, crop_size=128)

CHANNELS = {'L': 1, 'RGB': 3, 'RGBA': 4}


def make_aligned_dataset(root: str | Path, splits: dict[str, int], size: int = IMAGE_SIDE, seed: int = 0,
                         mode: str = 'RGB') -> Path:
    """<root>/<split>/000.png, 001.png, ...: `count` AB pairs per split, A (left, size x size) random noise and
    B (right) its negative mirrored left to right, so B is a fixed function of A; PNGs in PIL `mode` (L, RGB or
    RGBA). Returns root."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for split, count in splits.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            a = rng.integers(0, 256, (size, size, CHANNELS[mode]), dtype=np.uint8)
            pair = np.concatenate([a, 255 - a[:, ::-1]], axis=1)
            Image.fromarray(pair.squeeze(2) if mode == 'L' else pair).save(root / split / f'{index:03d}.png')
    return root


def random_image(path: str | Path, width: int, height: int, seed: int, mode: str = 'RGB') -> str:
    """One width x height picture of random noise in PIL `mode` (L, RGB or RGBA), such as predict.py reads."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, CHANNELS[mode]), dtype=np.uint8)
    Image.fromarray(pixels.squeeze(2) if mode == 'L' else pixels).save(path)
    return str(path)


def run_entry(script: str, *args: str, check: bool = True, timeout: float = 300, cwd: str | Path = REPO,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run an entry point of the repository (train.py, test.py, export.py, ...) as a user would, output captured;
    `env` is added to this process's environment. With `check`, a non-zero exit fails the test with the output."""
    result = subprocess.run([sys.executable, str(REPO / script), *args], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout, env=None if env is None else {**os.environ, **env})
    if check and result.returncode != 0:
        raise AssertionError(f'{script} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}')
    return result


def run_in_process(script: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run an entry point's main() in this process, as `python <script> args` would (for scripts that leave no
    global state behind, such as predict.py); saves the interpreter start-up of run_entry."""
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


def build_model(checkpoints_dir, *args: str, setup: bool = True):
    """The pix2pix model train.py would build from TINY_UNET and these flags, set up; initialized from torch
    seed 0, so two builds start from the same weights."""
    from models import create_model
    from options.train_options import TrainOptions

    opt = TrainOptions().parse(['--dataroot', 'unused', '--checkpoints_dir', str(checkpoints_dir), *TINY_UNET, *args])
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def start_visdom_server(port: int, env_path: Path) -> subprocess.Popen:
    """A real visdom server on localhost:port; started through its run_server.main, which skips
    the download of its web page scripts that `python -m visdom.server` tries first (no internet here)."""
    env_path.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, '-c', 'from visdom.server.run_server import main; main()',
               '-port', str(port), '-env_path', str(env_path), '-bind_local', '-logging_level', 'WARNING']
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return server
        except OSError:
            assert server.poll() is None, 'visdom server exited at start-up'
            time.sleep(0.2)
    stop(server)
    raise AssertionError(f'visdom server did not answer on port {port} within 30 s')


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def artifacts_dir() -> Path:
    """Where tests leave files for people to look at: $PIX2PIX_ARTIFACTS_DIR, else <repo>/artifacts."""
    folder = Path(os.environ.get('PIX2PIX_ARTIFACTS_DIR', REPO / 'artifacts'))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
