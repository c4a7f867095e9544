"""Speed and peak memory of one --model pix2pixhd training step at high resolution, against pix2pixHD's own step.

At each size (default 512x256 and 1024x512, batch 1, label_nc 35 with instance edges, every other flag at
pix2pixHD's default, plus --extra_flags) each configuration runs in a child process of its own: it builds the model
(tuning it under --fast), runs one step to warm up, then --steps timed steps, and reports their seconds and its peak
memory (peak RSS on the CPU, torch.cuda.max_memory_allocated on a GPU). The children take turns, configuration by
configuration, for --rounds rounds, so that drifts of the machine hit all alike; medians are reported.
- structure: bench/pix2pixhd_step.py, pix2pixHD's iteration written out (LSGAN + feature matching, no VGG), plain
  float32, on the model's own networks;
- plain_no_vgg / fast_no_vgg / checkpointed_no_vgg: our model with --no_vgg_loss; plain, with --fast, and with
  --checkpoint_activations (the memory-saving mode);
- plain / fast: the full default objective, VGG19 perceptual loss included.
--fast tunes on a square crop of the image's height. Without torchvision's cached VGG19 weights, random ones are
written to a temporary TORCH_HOME: same speed.

    python bench/pix2pixhd_benchmark.py                       # CPU (and GPU when present)
    python bench/pix2pixhd_benchmark.py --sizes 2048x1024 --configs plain_no_vgg checkpointed_no_vgg \\
        --extra_flags="--netG local --ngf 32 --num_D 3" --tag local
Writes bench/results/pix2pixhd-<device>-<kind>[-<tag>].json and prints a table.
"""
import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.benchmark import device_kind, synchronize, table_lines, write_report  # noqa: E402
from bench.pix2pixhd_step import Pix2PixHDStep  # noqa: E402
from models import create_model  # noqa: E402
from models.base_model import BaseModel  # noqa: E402
from options.base_options import parse_gpu_ids  # noqa: E402
from options.train_options import TrainOptions  # noqa: E402
from util.errors import ArgumentParser  # noqa: E402
from util.hardware import cpu_capabilities, describe_device  # noqa: E402

CONFIGS = {
    'structure': ['--no_vgg_loss'],
    'plain_no_vgg': ['--no_vgg_loss'],
    'fast_no_vgg': ['--no_vgg_loss', '--fast'],
    'checkpointed_no_vgg': ['--no_vgg_loss', '--checkpoint_activations'],
    'plain': [],
    'fast': ['--fast'],
}


def parse_args() -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--devices', nargs='+', default=None, help='cpu and/or cuda; default: cpu, plus cuda when present')
    parser.add_argument('--sizes', nargs='+', default=['512x256', '1024x512'], help='WIDTHxHEIGHT of the images')
    parser.add_argument('--configs', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument('--extra_flags', type=shlex.split, default=[], help='train.py flags added to every '
                        'configuration, in one quoted argument: --extra_flags="--netG local --ngf 32 --num_D 3"')
    parser.add_argument('--rounds', type=int, default=2, help='rounds of children, one per configuration each; medians are reported')
    parser.add_argument('--steps', type=int, default=1, help='timed steps per child, after one to warm up')
    parser.add_argument('--tag', default='', help='added to the result file name, e.g. local')
    parser.add_argument('--out_dir', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results'))
    parser.add_argument('--probe', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--probe_device', default='cpu', help=argparse.SUPPRESS)
    parser.add_argument('--probe_size', default='512x256', help=argparse.SUPPRESS)
    return parser.parse_args()


def parse_size(text: str) -> tuple[int, int]:
    width, height = (int(part) for part in text.lower().split('x'))
    return width, height


def ensure_vgg_weights() -> str:
    """'cached' when torchvision's VGG19 file is there; else random weights in a temporary TORCH_HOME ('random')."""
    from torchvision.models import VGG19_Weights, vgg19
    name = os.path.basename(VGG19_Weights.IMAGENET1K_V1.url)
    if os.path.isfile(os.path.join(torch.hub.get_dir(), 'checkpoints', name)):
        return 'cached'
    home = tempfile.mkdtemp(prefix='pix2pixhd-bench-torch-')
    os.makedirs(os.path.join(home, 'hub', 'checkpoints'))
    torch.save(vgg19().state_dict(), os.path.join(home, 'hub', 'checkpoints', name))
    os.environ['TORCH_HOME'] = home
    torch.hub.set_dir(os.path.join(home, 'hub'))
    return 'random (timing only)'


def build_model(flags: list[str], device: str, size: tuple[int, int], checkpoints_dir: str) -> BaseModel:
    width, height = size
    args = ['--dataroot', 'unused', '--model', 'pix2pixhd', '--checkpoints_dir', checkpoints_dir,
            '--gpu_ids', '0' if device == 'cuda' else '-1', '--display_id', '0',
            '--load_size', str(width), '--crop_size', str(height), *flags]
    opt, _ = TrainOptions().gather_options(args)
    opt.isTrain, opt.gpu_ids = True, parse_gpu_ids(opt.gpu_ids)
    model = create_model(opt)
    model.setup(opt)
    return model


def make_batch(model: BaseModel, size: tuple[int, int], device: str) -> dict:
    """A label map of random IDs, an instance map and a target photo, as data/labeled_dataset.py gives them."""
    width, height = size
    generator = torch.Generator().manual_seed(0)
    return {'label': torch.randint(0, model.opt.label_nc, (1, 1, height, width), generator=generator).float(),
            'inst': torch.randint(0, 8, (1, 1, height, width), generator=generator).float(),
            'image': torch.rand(1, 3, height, width, generator=generator) * 2 - 1, 'path': ['bench.png']}


class Runner:
    def __init__(self, name: str, device: str, size: tuple[int, int], checkpoints_dir: str):
        self.name, self.device = name, device
        start = time.perf_counter()
        self.model = build_model(CONFIGS[name], device, size, checkpoints_dir)
        self.setup_s = time.perf_counter() - start
        self.batch = make_batch(self.model, size, device)
        self.choice = self.model.speed.describe() if '--fast' in CONFIGS[name] else None
        self.structure = None
        if name == 'structure':
            opt = self.model.opt
            self.structure = Pix2PixHDStep(self.model.netG, self.model.netD, opt.n_layers_D, opt.num_D,
                                           opt.lambda_feat, opt.lr, opt.beta1)

    def step(self) -> float:
        synchronize(self.device)
        start = time.perf_counter()
        self.model.set_input(self.batch)
        if self.structure is not None:
            self.structure(self.model.input_label, self.model.real_B)
        else:
            self.model.optimize_parameters()
        synchronize(self.device)
        return time.perf_counter() - start


def peak_memory_mb(device: str) -> float:
    if device == 'cuda':
        return torch.cuda.max_memory_allocated() / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def probe(args: argparse.Namespace) -> None:
    """Child process: build one configuration, warm up with a step, time --steps more, print them and the peak."""
    ensure_vgg_weights()
    with tempfile.TemporaryDirectory() as checkpoints_dir:
        runner = Runner(args.probe, args.probe_device, parse_size(args.probe_size), checkpoints_dir)
        runner.step()
        times = [runner.step() for _ in range(args.steps)]
        print(json.dumps({'step_s': times, 'peak_mb': peak_memory_mb(args.probe_device), 'setup_s': runner.setup_s,
                          'fast_choice': runner.choice}))


def run_child(name: str, device: str, size: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, os.path.abspath(__file__), '--probe', name, '--probe_device', device, '--probe_size', size,
               f'--extra_flags={shlex.join(args.extra_flags)}', '--steps', str(args.steps)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        return {'failed': (result.stderr.strip().splitlines() or ['exit status %d' % result.returncode])[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench_size(device: str, size_text: str, args: argparse.Namespace) -> dict[str, dict]:
    runs: dict[str, list[dict]] = {name: [] for name in args.configs}
    for round_index in range(args.rounds):
        names = args.configs[round_index % len(args.configs):] + args.configs[:round_index % len(args.configs)]
        for name in names:
            runs[name].append(run_child(name, device, size_text, args))
            print(f'  {size_text} round {round_index + 1}/{args.rounds}: {name} {runs[name][-1]}', file=sys.stderr)
    results = {}
    for name, children in runs.items():
        done = [child for child in children if 'failed' not in child]
        if not done:
            results[name] = {'failed': children[0]['failed']}
            continue
        times = [seconds for child in done for seconds in child['step_s']]
        results[name] = {
            'flags': ' '.join(['--model pix2pixhd', *CONFIGS[name]]) + (' (written-out step)' if name == 'structure' else ''),
            'step_s': round(statistics.median(times), 3), 'step_s_all': [round(value, 3) for value in times],
            'peak_memory_mb': round(max(child['peak_mb'] for child in done)),
            'setup_s': round(statistics.median(child['setup_s'] for child in done), 1),
            'fast_choice': done[0]['fast_choice'],
        }
    for row in results.values():
        if 'step_s' in row and 'step_s' in results.get('plain_no_vgg', {}):
            row['x_plain_no_vgg'] = round(results['plain_no_vgg']['step_s'] / row['step_s'], 3)
            row['memory_x_plain_no_vgg'] = round(row['peak_memory_mb'] / results['plain_no_vgg']['peak_memory_mb'], 3)
    return results


def markdown(report: dict) -> str:
    memory = 'peak RSS' if report['device_type'] == 'cpu' else 'max allocated'
    title = (f'### --model pix2pixhd {" ".join(report["extra_flags"])} on {report["device"]}, torch {report["torch"]} '
             f'(kind: {report["kind"]})')
    header = ['size', 'config', 's / step', 'speed x plain_no_vgg', f'{memory} (MiB)', 'memory x plain_no_vgg',
              'set-up s', '--fast chose']
    return '\n'.join([title, ''] + table_lines(header, report['results'], 'failed', lambda row: [
        row['step_s'], row.get('x_plain_no_vgg', ''), row['peak_memory_mb'], row.get('memory_x_plain_no_vgg', ''),
        row['setup_s'], row['fast_choice'] or '']))


def main() -> None:
    args = parse_args()
    CONFIGS.update({name: [*flags, *args.extra_flags] for name, flags in CONFIGS.items()})
    if args.probe:
        probe(args)
        return
    vgg = ensure_vgg_weights()
    devices = args.devices or ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    os.makedirs(args.out_dir, exist_ok=True)
    start = time.perf_counter()
    for device in devices:
        torch_device = torch.device('cuda', 0) if device == 'cuda' else torch.device('cpu')
        report = {'device': describe_device(torch_device), 'device_type': device,
                  'kind': device_kind(device, cpu_capabilities()), 'cpu_capabilities': cpu_capabilities(),
                  'torch': torch.__version__, 'threads': torch.get_num_threads(), 'vgg19_weights': vgg,
                  'extra_flags': args.extra_flags, 'rounds': args.rounds, 'steps': args.steps,
                  'method': __doc__.split('\n\n')[1],
                  'results': {size: bench_size(device, size, args) for size in args.sizes}}
        report['benchmark_s'] = round(time.perf_counter() - start)
        tag = f'-{args.tag}' if args.tag else ''
        write_report(report, os.path.join(args.out_dir, f'pix2pixhd-{device}-{report["kind"]}{tag}.json'), markdown(report))


if __name__ == '__main__':
    main()
