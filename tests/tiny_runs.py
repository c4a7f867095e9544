"""Helpers for tests that run train.py / test.py end to end on a tiny aligned dataset and tiny networks."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
IMAGE_SIDE = 32
TINY_NET = ['--netG', 'resnet_6blocks', '--ngf', '8', '--ndf', '8', '--load_size', str(IMAGE_SIDE),
            '--crop_size', str(IMAGE_SIDE), '--gpu_ids', '-1', '--num_threads', '0']


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


def run_script(script: str, args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run train.py or test.py as a user would, with output captured (so not a terminal)."""
    command = [sys.executable, str(REPO / script), *args]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f'{script} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}'
    return result


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
    wait_for_port(server, port, 'visdom server', 30)
    return server


def start_serve(args: list[str], log_path: Path, lifetime_s: int = 600) -> tuple[subprocess.Popen, str]:
    """serve.py with `args` on 127.0.0.1 at a free port, its output in `log_path`; returns it and its URL.
    It ends by itself after `lifetime_s` (coreutils' timeout, which also passes stop()'s SIGTERM on to it)."""
    port = free_port()
    command = ['timeout', '--kill-after=10', str(lifetime_s), sys.executable, str(REPO / 'serve.py'), *args,
               '--host', '127.0.0.1', '--port', str(port)]
    with open(log_path, 'w') as log:
        server = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(server, port, 'serve.py', 60)
    except AssertionError as err:
        raise AssertionError(f'{err}:\n{log_path.read_text()[-3000:]}') from err
    return server, f'http://127.0.0.1:{port}'


def wait_for_port(server: subprocess.Popen, port: int, what: str, timeout: float) -> None:
    """Return once `server` accepts connections on localhost:port; stop it and fail if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return
        except OSError:
            if server.poll() is not None:
                raise AssertionError(f'{what} exited at start-up')
            time.sleep(0.2)
    stop(server)
    raise AssertionError(f'{what} did not answer on port {port} within {timeout:.0f} s')


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


def train_tiny_experiment(root: Path, name: str = 'tiny') -> Path:
    """Train TINY_NET one epoch on two pairs of make_aligned_dataset under `root`; returns the checkpoints_dir
    (the experiment is <checkpoints_dir>/<name>, with its train_opt.txt naming the dataset). Kaiming-initialised,
    so that its output depends strongly on its input (after two steps from the default normal(0, 0.02)
    initialization the output is a near-constant grey)."""
    dataroot = make_aligned_dataset(root / 'data', {'train': 2})
    checkpoints = root / 'checkpoints'
    run_script('train.py', ['--dataroot', str(dataroot), '--name', name, '--checkpoints_dir', str(checkpoints), *TINY_NET,
                            '--n_epochs', '1', '--n_epochs_decay', '0', '--display_id', '0', '--no_html',
                            '--init_type', 'kaiming'], root)
    return checkpoints
