"""Speed of pix2pix at the default config (unet_256 + basic PatchGAN, 256x256) for each speed setting and --fast.

Every configuration is timed against the reference's training step (bench/reference_step.py: plain float32,
eager, contiguous, non-fused Adam) and the model's plain path, on the same inputs in the same process,
configurations interleaved round by round, medians reported, so each figure is a ratio that the machine's noise
affects alike. Each configuration first runs one step in a child process under a time limit: one that is
catastrophically slow here (bf16 on a CPU without native bf16 takes half a minute a step) is reported as such
and left out of the rounds instead of holding the run for an hour.

    python bench/benchmark.py                                   # CPU (and GPU when present), batch 1 and 4
    python bench/benchmark.py --devices cpu --batch_sizes 1 --rounds 5 --limit_s 90
Writes bench/results/<device>-<kind>.json (kind: amx, avx512_bf16, avx512, avx2, ... or the GPU) and prints a table.
"""
import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.reference_step import ReferenceStep  # noqa: E402
from models import create_model  # noqa: E402
from models.base_model import BaseModel  # noqa: E402
from options.base_options import parse_gpu_ids  # noqa: E402
from options.train_options import TrainOptions  # noqa: E402
from util.errors import ArgumentParser  # noqa: E402
from util.hardware import cpu_capabilities, describe_device  # noqa: E402

CONFIGS = {
    'reference': None,
    'plain': [],
    'fast': ['--fast'],
    'amp': ['--amp'],
    'channels_last': ['--channels_last'],
    'fused_adam': ['--fused_adam'],
    'amp+channels_last+fused_adam': ['--amp', '--channels_last', '--fused_adam'],
    'compile': ['--compile'],
}
DEFAULT_CONFIGS = [name for name in CONFIGS if name != 'compile']
SIDE = 256
TUNING_ALLOWANCE_S = 120
TEST_IMAGES_PER_ROUND = 4


def parse_args() -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--devices', nargs='+', default=None, help='cpu and/or cuda; default: cpu, plus cuda when present')
    parser.add_argument('--batch_sizes', nargs='+', type=int, default=[1, 4], help='16 is slow on CPU, so optional')
    parser.add_argument('--rounds', type=int, default=4, help='interleaved timing rounds; medians are reported')
    parser.add_argument('--configs', nargs='+', default=DEFAULT_CONFIGS, choices=list(CONFIGS),
                        help='configurations to time (compile is opt-in: on CPU it was measured slower)')
    parser.add_argument('--limit_s', type=float, default=60.0,
                        help='a configuration whose build and first two steps take longer (plus 120 s of tuning for '
                             'fast) is reported as too slow')
    parser.add_argument('--out_dir', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results'))
    parser.add_argument('--probe', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--probe_device', default='cpu', help=argparse.SUPPRESS)
    parser.add_argument('--probe_batch', type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args()


def synchronize(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


class Runner:
    """One configuration, ready to time: a training step and a test forward on a fixed batch."""

    def __init__(self, name: str, device: str, batch: dict, checkpoints_dir: str):
        self.name, self.device, self.batch = name, device, batch
        start = time.perf_counter()
        self.model = build_model(CONFIGS[name] or [], device, batch['A'].shape[0], checkpoints_dir)
        self.setup_s = time.perf_counter() - start
        self.choice = self.model.speed.describe() if name == 'fast' else None
        self.reference = None
        if CONFIGS[name] is None:
            self.reference = ReferenceStep(copy.deepcopy(self.model.netG), copy.deepcopy(self.model.netD))

    def train_step(self) -> None:
        if self.reference is not None:
            self.reference(self.batch['A'], self.batch['B'])
            return
        self.model.set_input(self.batch)
        self.model.optimize_parameters()

    def test_step(self) -> None:
        self.model.set_input({key: value[:1] for key, value in self.batch.items()})
        self.model.test()

    def timed(self, step: Callable[[], None], times: int) -> float:
        synchronize(self.device)
        start = time.perf_counter()
        for _ in range(times):
            step()
        synchronize(self.device)
        return time.perf_counter() - start


def build_model(flags: list[str], device: str, batch_size: int, checkpoints_dir: str) -> BaseModel:
    """The product's Pix2PixModel at the default config, built and set up from the flags a user would type."""
    args = ['--dataroot', 'unused', '--checkpoints_dir', checkpoints_dir, '--batch_size', str(batch_size),
            '--gpu_ids', '0' if device == 'cuda' else '-1', '--display_id', '0', *flags]
    opt, _ = TrainOptions().gather_options(args)
    opt.isTrain, opt.gpu_ids = True, parse_gpu_ids(opt.gpu_ids)
    model = create_model(opt)
    model.setup(opt)
    return model


def make_batch(batch_size: int, device: str) -> dict:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, batch_size, 3, SIDE, SIDE, generator=generator) * 2 - 1
    paths = [f'bench_{i}.png' for i in range(batch_size)]
    return {'A': images[0].to(device), 'B': images[1].to(device), 'A_paths': paths, 'B_paths': paths}


def probe(args: argparse.Namespace) -> None:
    """Child process: build one configuration, run two training steps, print the seconds of the second."""
    with tempfile.TemporaryDirectory() as checkpoints_dir:
        runner = Runner(args.probe, args.probe_device, make_batch(args.probe_batch, args.probe_device), checkpoints_dir)
        runner.train_step()
        print(json.dumps({'step_s': runner.timed(runner.train_step, 1)}))


def survives_time_limit(name: str, device: str, batch_size: int, limit_s: float) -> tuple[bool, str]:
    """Run the configuration's first steps in a child process; (False, why) when it is past the limit
    (--fast gets TUNING_ALLOWANCE_S more, for its tuning)."""
    limit_s += TUNING_ALLOWANCE_S if name == 'fast' else 0
    command = [sys.executable, os.path.abspath(__file__), '--probe', name, '--probe_device', device,
               '--probe_batch', str(batch_size)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=limit_s)
    except subprocess.TimeoutExpired:
        return False, f'too slow: building it and running 2 training steps took more than {limit_s:.0f} s'
    if result.returncode != 0:
        return False, f'failed: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else result.returncode}'
    return True, ''


def count_gflop(runner: Runner) -> tuple[float, float]:
    """FLOPs of one training iteration and of one test forward per image, counted by torch's FLOP counter."""
    with FlopCounterMode(display=False) as counter:
        runner.train_step()
    train = counter.get_total_flops() / 1e9 / runner.batch['A'].shape[0]
    with FlopCounterMode(display=False) as counter:
        runner.test_step()
    return train, counter.get_total_flops() / 1e9


def matmul_peak_gflops(device: str, dtype: torch.dtype, reps: int = 16, limit_s: float = 10.0) -> float:
    """Square matmuls after one warm-up: the device's practical peak for `dtype` (near 0 where it is emulated);
    8192-wide on a GPU, where 1024-wide products measure the launch overhead rather than the math."""
    size = 8192 if device == 'cuda' else 1024
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    torch.matmul(a, b)
    synchronize(device)
    start = time.perf_counter()
    done = 0
    while done < reps and time.perf_counter() - start < limit_s:
        torch.matmul(a, b)
        done += 1
    synchronize(device)
    return 2 * size**3 * done / (time.perf_counter() - start) / 1e9


def bench_batch_size(device: str, batch_size: int, args: argparse.Namespace, checkpoints_dir: str) -> dict[str, dict]:
    """Probe every configuration under the time limit, then time the survivors interleaved."""
    results, runners = {}, {}
    for name in args.configs:
        ok, why = survives_time_limit(name, device, batch_size, args.limit_s)
        if not ok:
            results[name] = {'flags': ' '.join(CONFIGS[name] or []) or '(reference step)', 'excluded': why}
            print(f'  {name}: {why}', file=sys.stderr)
            continue
        runners[name] = Runner(name, device, make_batch(batch_size, device), checkpoints_dir)
        runners[name].timed(runners[name].train_step, 2)
        runners[name].timed(runners[name].test_step, 2)
    iters = max(1, 4 // batch_size)
    train_s: dict[str, list[float]] = {name: [] for name in runners}
    test_s: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for round_index in range(args.rounds):
        for name in names[round_index % len(names):] + names[:round_index % len(names)]:
            train_s[name].append(runners[name].timed(runners[name].train_step, iters) / iters)
            test_s[name].append(runners[name].timed(runners[name].test_step, TEST_IMAGES_PER_ROUND) / TEST_IMAGES_PER_ROUND)
        print(f'  batch {batch_size} round {round_index + 1}/{args.rounds} done', file=sys.stderr)
    rate = {name: 1 / statistics.median(times) for name, times in train_s.items()}
    test_rate = {name: 1 / statistics.median(times) for name, times in test_s.items()}
    for name, runner in runners.items():
        results[name] = {
            'flags': ' '.join(CONFIGS[name] or []) or '(reference step)',
            'train_it_s': round(rate[name], 3), 'train_img_s': round(rate[name] * batch_size, 3),
            'x_reference': round(rate[name] / rate['reference'], 3) if 'reference' in rate else None,
            'x_plain': round(rate[name] / rate['plain'], 3) if 'plain' in rate else None,
            'test_img_s': round(test_rate[name], 3),
            'test_x_plain': round(test_rate[name] / test_rate['plain'], 3) if 'plain' in test_rate else None,
            'setup_s': round(runner.setup_s, 1),
            'fast_choice': runner.choice,
            'train_it_s_rounds': [round(1 / s, 3) for s in train_s[name]],
        }
    return results


def device_kind(device: str, caps: dict) -> str:
    """What decides which speed settings pay off: the CPU's best native path, or the GPU's name."""
    if device == 'cuda':
        return torch.cuda.get_device_name().replace(' ', '_')
    effective = caps['torch_capability'].lower()
    if caps.get('amx') and caps['native_bf16']:
        return 'amx'
    if caps['native_bf16']:
        return 'avx512_bf16' if caps.get('avx512_bf16') else 'bf16'
    return effective


def bench_device(device: str, args: argparse.Namespace, checkpoints_dir: str) -> dict:
    caps = cpu_capabilities()
    torch_device = torch.device('cuda', 0) if device == 'cuda' else torch.device('cpu')
    peaks = {'fp32': matmul_peak_gflops(device, torch.float32), 'bf16': matmul_peak_gflops(device, torch.bfloat16)}
    gflop_train, gflop_test = count_gflop(Runner('plain', device, make_batch(1, device), checkpoints_dir))
    report = {
        'device': describe_device(torch_device), 'kind': device_kind(device, caps), 'cpu_capabilities': caps,
        'torch': torch.__version__, 'threads': torch.get_num_threads(),
        'model': 'pix2pix, netG unet_256, netD basic, 256x256, norm batch, default flags otherwise',
        'batch_sizes_run': args.batch_sizes, 'rounds': args.rounds, 'limit_s': args.limit_s,
        'method': ('each configuration first runs 2 training steps in a child process under limit_s (else excluded); '
                   'then per round each trains max(1, 4 // batch) iterations and tests '
                   f'{TEST_IMAGES_PER_ROUND} single images (train-mode norm, as test.py without --eval); medians over '
                   'rounds; configurations interleaved, order rotated each round; 2 warm-up iterations excluded; '
                   'x_reference is relative to bench/reference_step.py (the reference\'s computation), x_plain to the '
                   'model with no speed flag; setup_s includes --fast\'s tuning; peak GFLOP/s from square matmuls'),
        'gflop_per_train_iter_per_image': round(gflop_train, 2), 'gflop_per_test_image': round(gflop_test, 2),
        'peak_gflop_s': {key: round(value, 1) for key, value in peaks.items()},
        'results': {},
    }
    for batch_size in args.batch_sizes:
        print(f'{device}: batch {batch_size}', file=sys.stderr)
        report['results'][str(batch_size)] = bench_batch_size(device, batch_size, args, checkpoints_dir)
    return report


def markdown(report: dict) -> str:
    lines = [f'### {report["device"]}, torch {report["torch"]} (kind: {report["kind"]})',
             f'one training iteration: {report["gflop_per_train_iter_per_image"]} GFLOP per image; matmul peak fp32 '
             f'{report["peak_gflop_s"]["fp32"]} GFLOP/s, bf16 {report["peak_gflop_s"]["bf16"]} GFLOP/s', '']
    header = ['batch', 'config', 'train it/s', 'x reference', 'x plain', 'test img/s', 'x plain', 'set-up s', '--fast chose']
    return '\n'.join(lines + table_lines(header, report['results'], 'excluded', lambda row: [
        row['train_it_s'], row['x_reference'], row['x_plain'], row['test_img_s'], row['test_x_plain'], row['setup_s'],
        row['fast_choice'] or '']))


def table_lines(header: list[str], groups: dict[str, dict[str, dict]], note_key: str,
                cells: Callable[[dict], list]) -> list[str]:
    """A markdown table, one row per group (batch size, image size) and configuration; a row holding `note_key`
    (excluded, failed) shows that note instead of its numbers."""
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for group, results in groups.items():
        for name, row in results.items():
            values = [f'{note_key}: {row[note_key]}'] + [''] * (len(header) - 3) if note_key in row else cells(row)
            lines.append('| ' + ' | '.join(str(value) for value in [group, name, *values]) + ' |')
    return lines


def write_report(report: dict, path: str, table: str) -> None:
    """The report as JSON at `path`; the table printed."""
    with open(path, 'w') as handle:
        json.dump(report, handle, indent=2)
    print(table)
    print(f'\nwrote {path} ({report["benchmark_s"]} s so far)')


def main() -> None:
    args = parse_args()
    if args.probe:
        probe(args)
        return
    devices = args.devices or ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    os.makedirs(args.out_dir, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as checkpoints_dir:
        for device in devices:
            report = bench_device(device, args, checkpoints_dir)
            report['benchmark_s'] = round(time.perf_counter() - start)
            write_report(report, os.path.join(args.out_dir, f'{device}-{report["kind"]}.json'), markdown(report))


if __name__ == '__main__':
    main()
