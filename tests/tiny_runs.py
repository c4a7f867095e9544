"""The one helper module of the tests: the repository root, the tiny-network flags, the aligned-dataset writer,
the runners for the entry points (a subprocess as a user runs them, or main() in this process), in-process model
builders, and the local servers some tests start."""
import base64
import contextlib
import importlib
import importlib.util
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
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

HD_TINY_NET = ['--model', 'pix2pixhd', *with_values(TINY_NET, netG='global'), '--n_downsample_global', '2',
               '--n_blocks_global', '1', '--n_blocks_local', '1']
CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync',
                  '--disable-dev-shm-usage']


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


CITY = {'road': 7, 'building': 11, 'sky': 23, 'car': 26}  # Cityscapes label IDs


def make_cityscapes_tree(root: Path, splits: dict[str, int], width: int = 64, height: int = 32, seed: int = 0) -> Path:
    """<root>/datasets/cityscapes/<split>_{label,inst,img}/ as pix2pixHD ships it: Cityscapes file names, label IDs
    (sky, building, road) with 2 or 3 cars (class 26, instance IDs 26000 + n, each over 1/64 of the image and a
    colour of its own), 16-bit instance maps, photos."""
    rng = np.random.default_rng(seed)
    folder = root / 'datasets' / 'cityscapes'
    for split, count in splits.items():
        for index in range(count):
            label = np.full((height, width), CITY['sky'], np.uint8)
            label[height // 3:] = CITY['building']
            label[2 * height // 3:] = CITY['road']
            inst = label.astype(np.uint16)
            photo = np.zeros((height, width, 3), np.uint8)
            for cars in range(2 + index % 2):
                top, left = int(rng.integers(height // 2, height - 8)), int(rng.integers(0, width - 12)) // 12 * 12
                label[top:top + 7, left:left + 11] = CITY['car']
                inst[top:top + 7, left:left + 11] = CITY['car'] * 1000 + cars
                photo[top:top + 7, left:left + 11] = rng.integers(0, 256, 3)
            for name, value in CITY.items():
                if name != 'car':
                    photo[label == value] = rng.integers(0, 256, 3)
            stem = f'{"aachen" if split == "train" else "frankfurt"}_{index:06d}_000019'
            for kind, pixels, suffix in (('label', label, '_gtFine_labelIds'), ('inst', inst, '_gtFine_instanceIds'),
                                         ('img', photo, '_leftImg8bit')):
                (folder / f'{split}_{kind}').mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(folder / f'{split}_{kind}' / f'{stem}{suffix}.png')
    return folder


def random_image(path: str | Path, width: int, height: int, seed: int, mode: str = 'RGB') -> str:
    """One width x height picture of random noise in PIL `mode` (L, RGB or RGBA), such as predict.py reads."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, CHANNELS[mode]), dtype=np.uint8)
    Image.fromarray(pixels.squeeze(2) if mode == 'L' else pixels).save(path)
    return str(path)


def run_entry(script: str, *args: str, check: bool = True, timeout: float = 300, cwd: str | Path = REPO,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run an entry point of the repository (train.py, test.py, export.py, a tool under datasets/, ...) as a user
    would, in a process of its own, output captured; `env` is added to this process's environment. With `check`, a
    non-zero exit fails the test with the output. Without `env` the process is forked from a warm interpreter
    (WARM_IMPORTS done); with it (variables such as PYTHONPATH or ATEN_CPU_CAPABILITY act when an interpreter or
    torch starts), it starts cold."""
    command = [str(REPO / script), *args]
    result = warm_interpreter.run(command, str(cwd), timeout) if env is None else None
    if result is None:  # the warm interpreter is busy in another thread, or gone: a cold start
        result = subprocess.run([sys.executable, *command], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise AssertionError(f'{script} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}')
    return result


# The modules every entry point imports first; importing them takes about 2.5 s of each start on a 2-core CPU.
WARM_IMPORTS = ('numpy', 'PIL.Image', 'torch', 'torchvision', 'tqdm')
FORK_SERVER = r'''
import atexit, json, os, runpy, signal, sys, threading, time, traceback
for name in sys.argv[1:]:
    __import__(name)
sys.stdout.flush()
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:  # the child: `python script args` in cwd, stdout and stderr to files, no stdin
        for fd, path in ((0, os.devnull), (1, request['stdout']), (2, request['stderr'])):
            os.dup2(os.open(path, os.O_RDONLY if fd == 0 else os.O_WRONLY), fd)
        os.chdir(request['cwd'])
        os.environ.clear()
        os.environ.update(request['env'])
        script = request['command'][0]
        sys.argv, sys.path[0] = list(request['command']), os.path.dirname(script)
        try:
            runpy.run_path(script, run_name='__main__')
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) or stop.code is None else (print(stop.code, file=sys.stderr) or 1)
        except BaseException:
            traceback.print_exc()
            code = 1
        # As the interpreter ends a run (threads joined, atexit handlers, streams flushed), less the teardown of
        # every module, which takes a second once torch is loaded and does nothing a test can see.
        threading._shutdown()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)
    deadline = time.monotonic() + request['timeout']
    while not (done := os.waitpid(pid, os.WNOHANG))[0] and time.monotonic() < deadline:
        time.sleep(0.01)
    if not done[0]:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    print(json.dumps({'returncode': os.waitstatus_to_exitcode(done[1]) if done[0] else None}), flush=True)
'''


class WarmInterpreter:
    """A python process that has imported WARM_IMPORTS once and forks a child for each entry-point run: the child
    runs the script as `python script args` does (its own process, argv, cwd, environment, exit code), without
    paying for those imports again. The child gets this process's environment; the server starts again when that
    changed (but for pytest's PYTEST_CURRENT_TEST), since some variables act when an interpreter or torch starts.
    One run at a time: `run` answers None when busy, so the caller starts cold."""

    def __init__(self):
        self.server: subprocess.Popen | None = None
        self.environment: dict[str, str] | None = None
        self.lock = threading.Lock()

    def start(self) -> subprocess.Popen:
        """The server, (re)started in this process's environment where it is not already running in it."""
        if self.server is not None and self.environment != startup_environment():
            self.server.kill()
            self.server.wait()
        if self.server is None or self.server.poll() is not None:
            self.environment = startup_environment()
            self.server = subprocess.Popen([sys.executable, '-c', FORK_SERVER, *WARM_IMPORTS], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, text=True, cwd=REPO, env=self.environment)
        return self.server

    def run(self, command: list[str], cwd: str, timeout: float) -> subprocess.CompletedProcess | None:
        if not self.lock.acquire(blocking=False):
            return None
        try:
            with tempfile.TemporaryDirectory(prefix='warm-run-') as folder:
                out, err = os.path.join(folder, 'stdout'), os.path.join(folder, 'stderr')
                Path(out).touch()
                Path(err).touch()
                server = self.start()
                request = {'command': command, 'cwd': cwd, 'env': dict(os.environ), 'timeout': timeout, 'stdout': out,
                           'stderr': err}
                server.stdin.write(json.dumps(request) + '\n')
                server.stdin.flush()
                answer = server.stdout.readline()
                if not answer:
                    return None
                code = json.loads(answer)['returncode']
                stdout, stderr = Path(out).read_text(errors='replace'), Path(err).read_text(errors='replace')
            if code is None:
                raise subprocess.TimeoutExpired([sys.executable, *command], timeout, stdout, stderr)
            return subprocess.CompletedProcess([sys.executable, *command], code, stdout, stderr)
        finally:
            self.lock.release()


def startup_environment() -> dict[str, str]:
    """This process's environment less what pytest changes for every test."""
    return {name: value for name, value in os.environ.items() if name != 'PYTEST_CURRENT_TEST'}


warm_interpreter = WarmInterpreter()


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


def build_model(checkpoints_dir, *args: str, setup: bool = True, net: list[str] = TINY_UNET):
    """The model train.py would build from `net` (the pix2pix TINY_UNET by default) and these flags, set up;
    initialized from torch seed 0, so two builds start from the same weights."""
    from models import create_model
    from options.train_options import TrainOptions

    opt = TrainOptions().parse(['--dataroot', 'unused', '--checkpoints_dir', str(checkpoints_dir), *net, *args])
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


def build_labeled_model(checkpoints_dir, *args: str, setup: bool = True, vgg: bool = False):
    """The --model pix2pixhd model train.py builds for label-map data (--dataset_mode labeled), with tiny networks
    unless overridden and without the VGG loss unless `vgg`."""
    no_vgg = [] if vgg else ['--no_vgg_loss']
    return build_model(checkpoints_dir, *no_vgg, '--dataset_mode', 'labeled', *args, setup=setup, net=HD_TINY_NET)


def label_batch(model, seed: int = 0) -> dict:
    """A labeled batch as data/labeled_dataset.py gives it: label IDs in 8x8 blocks, instance IDs, target photos."""
    opt = model.opt
    generator = torch.Generator().manual_seed(seed)
    side = opt.crop_size

    def blocks(high: int) -> torch.Tensor:
        coarse = torch.randint(0, high, (opt.batch_size, 1, side // 8, side // 8), generator=generator)
        return coarse.repeat_interleave(8, 2).repeat_interleave(8, 3).float()

    batch = {'label': blocks(opt.label_nc), 'inst': blocks(1000),
             'image': torch.rand(opt.batch_size, opt.output_nc, side, side, generator=generator) * 2 - 1,
             'path': [f'label_{i}.png' for i in range(opt.batch_size)]}
    return batch


def save_as_trained(model, label: str = 'latest') -> None:
    """The net files and train_opt.txt (the record) a training run leaves, for tests that load them back."""
    from dataclasses import asdict

    from options.base_options import format_options
    from options.train_options import TrainOptions
    from util import checkpoint

    record = format_options(model.opt, TrainOptions().make_parser(), asdict(model.speed))
    checkpoint.write_options_file(model.save_dir, model.opt.phase, record)
    checkpoint.save_checkpoint(model.save_dir, label, checkpoint.network_states(model.networks()))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def start_serve(args: list[str], lifetime_s: int = 600) -> tuple[subprocess.Popen, str]:
    """serve.py with `args` on 127.0.0.1 at a free port; returns it and its URL.
    It ends by itself after `lifetime_s` (coreutils' timeout, which also passes stop()'s SIGTERM on to it)."""
    port = free_port()
    command = ['timeout', '--kill-after=10', str(lifetime_s), sys.executable, str(REPO / 'serve.py'), *args,
               '--host', '127.0.0.1', '--port', str(port)]
    return start_server(command, port, 'serve.py'), f'http://127.0.0.1:{port}'


def start_server(command: list[str], port: int, name: str, timeout: float = 60) -> subprocess.Popen:
    """Start a server process on 127.0.0.1:port and wait until it accepts connections (output to a temporary file,
    shown when it fails to start, and readable as server.log)."""
    log = tempfile.TemporaryFile(mode='w+')
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server.log = log
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


def wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 120) -> None:
    """Poll `condition` every millisecond until it holds; fail if `process` ends first or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f'the process ended before {what}'
        assert time.monotonic() < deadline, f'no {what} within {timeout} s'
        time.sleep(0.001)


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


# What the drawing page of serve.py shows, read in the browser; the seconds a page gets to show a translation.
WAIT_S = 10


def canvas_pixel(browser, fraction: tuple[float, float]) -> tuple[int, ...]:
    return tuple(browser.execute_script(
        'const c = document.getElementById("drawing");'
        'return Array.from(c.getContext("2d").getImageData(Math.floor(arguments[0] * c.width),'
        ' Math.floor(arguments[1] * c.height), 1, 1).data.slice(0, 3));', *fraction))


def drawing_png(browser) -> bytes:
    url = browser.execute_script('return document.getElementById("drawing").toDataURL("image/png");')
    return base64.b64decode(url.split(',', 1)[1])


def shown_result(browser) -> np.ndarray:
    """The pixels of the translation the page shows now."""
    url = browser.execute_async_script(
        'const done = arguments[0];'
        'fetch(document.getElementById("result").src).then(r => r.blob()).then(blob => {'
        ' const reader = new FileReader(); reader.onload = () => done(reader.result); reader.readAsDataURL(blob); });')
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(',', 1)[1])))).astype(int)


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
    run_entry('train.py', '--dataroot', str(dataroot), '--name', name, '--checkpoints_dir', str(checkpoints), *TINY_NET,
              '--n_epochs', '1', '--n_epochs_decay', '0', '--no_html', '--init_type', 'kaiming', cwd=root)
    return checkpoints
