"""Peak memory and time of translating one 2048x1024 label map with pix2pixHD's local generator, through predict.py
and through serve.py, each run as a user runs it (its own process, its own printed peak).

The generator is --netG local --ngf 32 with --label_nc 35 and instance edges (the paper's 2048x1024 setting), random
weights (same speed and memory as trained ones), saved as a training run would save it; the label map and instance
map are random 32x32 blocks. predict.py and serve.py print their peak memory (resident set on the CPU, memory
torch allocated on a GPU); this script collects those lines and the time each took.

    python bench/pix2pixhd_inference_memory.py [--size 2048x1024] [--gpu_ids -1]
Writes bench/results/pix2pixhd-inference-<device>-<kind>.json and prints a table.
"""
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict

import httpx
import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.benchmark import device_kind, write_report  # noqa: E402
from models import create_model  # noqa: E402
from options.base_options import format_options, parse_gpu_ids  # noqa: E402
from options.train_options import TrainOptions  # noqa: E402
from util import checkpoint  # noqa: E402
from util.errors import ArgumentParser  # noqa: E402
from util.hardware import cpu_capabilities, describe_device  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATOR = ['--model', 'pix2pixhd', '--netG', 'local', '--ngf', '32', '--label_nc', '35', '--no_vgg_loss']
PEAK = re.compile(r'peak (?:GPU )?memory (\d+\.\d+) GiB')


def save_generator(checkpoints_dir: str, gpu_ids: str) -> None:
    """A random-weight local generator saved as experiment 'local' (net files and train_opt.txt)."""
    parser = TrainOptions().make_parser()
    opt = TrainOptions().parse(['--dataroot', 'unused', '--name', 'local', '--checkpoints_dir', checkpoints_dir,
                                '--gpu_ids', gpu_ids, '--display_id', '0', *GENERATOR])
    model = create_model(opt)
    checkpoint.write_options_file(model.save_dir, 'train', format_options(opt, parser, asdict(model.speed)))
    checkpoint.save_checkpoint(model.save_dir, 'latest', checkpoint.network_states({'G': model.netG}))


def write_maps(folder: str, width: int, height: int) -> tuple[str, str]:
    """A label map of 35 IDs and an instance map, in 32x32 blocks; returns their folders."""
    rng = np.random.default_rng(0)
    for name, high in (('labels', 35), ('instances', 200)):
        os.makedirs(os.path.join(folder, name))
        blocks = rng.integers(0, high, (height // 32, width // 32), dtype=np.uint8)
        Image.fromarray(blocks.repeat(32, 0).repeat(32, 1)).save(os.path.join(folder, name, 'frame.png'))
    return os.path.join(folder, 'labels'), os.path.join(folder, 'instances')


def run_predict(checkpoints_dir: str, labels: str, instances: str, output: str, gpu_ids: str) -> dict:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, os.path.join(REPO, 'predict.py'), '--name', 'local', '--checkpoints_dir',
                             checkpoints_dir, '--input', labels, '--instances', instances, '--output', output,
                             '--gpu_ids', gpu_ids], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak = PEAK.search(result.stdout)
    if result.returncode or not peak:
        return {'failed': (result.stderr.strip().splitlines() or result.stdout.strip().splitlines() or ['?'])[-1]}
    return {'peak_gib': float(peak.group(1)), 'process_s': round(seconds, 1)}


def run_serve(checkpoints_dir: str, label_file: str, gpu_ids: str) -> dict:
    """serve.py on a free port; one POST /translate of the label map; its printed line."""
    import socket
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryFile(mode='w+') as log:
        server = subprocess.Popen([sys.executable, os.path.join(REPO, 'serve.py'), '--name', 'local', '--checkpoints_dir',
                                   checkpoints_dir, '--gpu_ids', gpu_ids, '--host', '127.0.0.1', '--port', str(port),
                                   '--max_pixels', str(2048 * 1024)], stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.5)
            with open(label_file, 'rb') as handle:
                response = httpx.post(f'http://127.0.0.1:{port}/translate', content=handle.read(), timeout=600)
        finally:
            server.terminate()
            server.wait()
        log.seek(0)
        printed = log.read()
    line = re.search(r'translated .*', printed)
    peak = PEAK.search(printed)
    if response.status_code != 200 or not peak:
        return {'failed': f'HTTP {response.status_code}: {response.text.strip()[:200]}'}
    return {'peak_gib': float(peak.group(1)), 'line': line.group(0)}


def main() -> None:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', default='2048x1024', help='WIDTHxHEIGHT of the label map')
    parser.add_argument('--gpu_ids', default='-1', help='-1: the CPU; 0: the first GPU')
    parser.add_argument('--out_dir', default=os.path.join(REPO, 'bench', 'results'))
    args = parser.parse_args()
    width, height = (int(side) for side in args.size.lower().split('x'))
    device = 'cuda' if parse_gpu_ids(args.gpu_ids) and torch.cuda.is_available() else 'cpu'
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        save_generator(os.path.join(folder, 'checkpoints'), args.gpu_ids)
        labels, instances = write_maps(folder, width, height)
        results = {'predict.py': run_predict(os.path.join(folder, 'checkpoints'), labels, instances,
                                             os.path.join(folder, 'out'), args.gpu_ids),
                   'serve.py': run_serve(os.path.join(folder, 'checkpoints'), os.path.join(labels, 'frame.png'),
                                         args.gpu_ids)}
    torch_device = torch.device('cuda', 0) if device == 'cuda' else torch.device('cpu')
    report = {'device': describe_device(torch_device), 'kind': device_kind(device, cpu_capabilities()),
              'torch': torch.__version__, 'size': args.size, 'generator': ' '.join(GENERATOR), 'results': results,
              'benchmark_s': round(time.perf_counter() - start)}
    lines = [f'### one {args.size} label map, {" ".join(GENERATOR)}, on {report["device"]}', '',
             '| entry point | peak memory (GiB) | note |', '|---|---|---|']
    for name, row in results.items():
        note = row.get('failed') or row.get('line') or f"the whole process took {row['process_s']} s"
        lines.append(f'| {name} | {row.get("peak_gib", "failed")} | {note} |')
    write_report(report, os.path.join(args.out_dir, f'pix2pixhd-inference-{device}-{report["kind"]}.json'),
                 '\n'.join(lines))


if __name__ == '__main__':
    main()
