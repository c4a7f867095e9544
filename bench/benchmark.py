"""Speed of pix2pix at the default config (unet_256 + basic PatchGAN, 256x256) for each speed flag.

Every flag, and combinations of them, is timed against the plain path (fp32, contiguous, eager, plain Adam,
default threads) on the same inputs in the same run, configurations interleaved round by round, medians
reported, so each improvement is a ratio that the machine's noise affects alike.

    python bench/benchmark.py                              # CPU (and GPU when present), batch 1 and 4
    python bench/benchmark.py --devices cpu --batch_sizes 1 4 16 --rounds 5
Writes bench/results/<device>.json and prints a markdown table.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from models import create_model  # noqa: E402
from models.base_model import BaseModel  # noqa: E402
from options.train_options import TrainOptions  # noqa: E402

CONFIGS = {
    'plain': [],
    'amp': ['--amp'],
    'channels_last': ['--channels_last'],
    'compile': ['--compile'],
    'fused_adam': ['--fused_adam'],
    'amp+channels_last+fused_adam': ['--amp', '--channels_last', '--fused_adam'],
    'all': ['--amp', '--channels_last', '--compile', '--fused_adam'],
}
SIDE = 256
WARMUP_ITERS = 2
TEST_IMAGES_PER_ROUND = 4


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--devices', nargs='+', default=None, help='cpu and/or cuda; default: cpu, plus cuda when present')
    parser.add_argument('--batch_sizes', nargs='+', type=int, default=[1, 4], help='16 is slow on CPU, so optional')
    parser.add_argument('--rounds', type=int, default=4, help='interleaved timing rounds; medians are reported')
    parser.add_argument('--configs', nargs='+', default=list(CONFIGS), choices=list(CONFIGS), help='configurations to time')
    parser.add_argument('--out_dir', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results'))
    return parser.parse_args()


def build_model(flags: list[str], device: str, batch_size: int, checkpoints_dir: str) -> BaseModel:
    """The product's Pix2PixModel at the default config, built from the same flags a user would type."""
    args = ['--dataroot', 'unused', '--checkpoints_dir', checkpoints_dir, '--batch_size', str(batch_size),
            '--gpu_ids', '0' if device == 'cuda' else '-1', '--display_id', '0', *flags]
    opt, _ = TrainOptions().gather_options(args)
    opt.isTrain = True
    opt.gpu_ids = [0] if device == 'cuda' else []
    model = create_model(opt)
    model.setup(opt)
    return model


def synchronize(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


@contextmanager
def peak_memory(device: str, record: list[float]):
    """Append the peak memory in MiB: CUDA allocated bytes, or on CPU the resident-set high-water above the start."""
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        yield
        record.append(torch.cuda.max_memory_allocated() / 2**20)
        return
    start = resident_kib('VmRSS')
    reset_cpu_high_water()
    yield
    high = resident_kib('VmHWM')
    if start is not None and high is not None:
        record.append((high - start) / 1024)


def resident_kib(field: str) -> int | None:
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_cpu_high_water() -> None:
    try:
        with open('/proc/self/clear_refs', 'w') as clear_refs:
            clear_refs.write('5')
    except OSError:
        pass


def timed(step: Callable[[], None], times: int, device: str) -> float:
    """Seconds for `times` calls of `step`, with the device synchronized before and after."""
    synchronize(device)
    start = time.perf_counter()
    for _ in range(times):
        step()
    synchronize(device)
    return time.perf_counter() - start


def time_train(model: BaseModel, batch: dict, iters: int, device: str) -> float:
    def step() -> None:
        model.set_input(batch)
        model.optimize_parameters()
    return timed(step, iters, device)


def time_test(model: BaseModel, batch: dict, images: int, device: str) -> float:
    single = {key: value[:1] for key, value in batch.items()}

    def step() -> None:
        model.set_input(single)
        model.test()
    return timed(step, images, device)


def make_batch(batch_size: int, device: str) -> dict:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, batch_size, 3, SIDE, SIDE, generator=generator) * 2 - 1
    paths = [f'bench_{i}.png' for i in range(batch_size)]
    return {'A': images[0].to(device), 'B': images[1].to(device), 'A_paths': paths, 'B_paths': paths}


def count_gflop(model: BaseModel, batch: dict) -> tuple[float, float]:
    """FLOPs of one training iteration and of one test forward, counted by torch's FLOP counter."""
    with FlopCounterMode(display=False) as counter:
        model.set_input(batch)
        model.optimize_parameters()
    train = counter.get_total_flops() / 1e9
    with FlopCounterMode(display=False) as counter:
        model.set_input({key: value[:1] for key, value in batch.items()})
        model.test()
    return train, counter.get_total_flops() / 1e9


def matmul_peak_gflops(device: str, dtype: torch.dtype, size: int = 2048, reps: int = 8) -> float:
    """Best of three timings of square matmuls: the device's practical peak for `dtype`."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    torch.matmul(a, b)
    best = float('inf')
    for _ in range(3):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(reps):
            torch.matmul(a, b)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 * reps / best / 1e9


def device_name(device: str) -> str:
    if device == 'cuda':
        return torch.cuda.get_device_name()
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            for line in cpuinfo:
                if line.startswith('model name'):
                    return f'{line.split(":", 1)[1].strip()} ({torch.get_num_threads()} threads)'
    except OSError:
        pass
    return platform.processor() or 'cpu'


def bench_batch_size(device: str, batch_size: int, configs: list[str], rounds: int, gflop_train: float,
                     gflop_test: float, peaks: dict[str, float], checkpoints_dir: str) -> dict[str, dict]:
    """Build every configuration, warm each up (compile time noted), then time them interleaved."""
    batch = make_batch(batch_size, device)
    models, compile_s = {}, {}
    for name in configs:
        models[name] = build_model(CONFIGS[name], device, batch_size, checkpoints_dir)
        warm = time_train(models[name], batch, WARMUP_ITERS, device) + time_test(models[name], batch, 2, device)
        steady = time_train(models[name], batch, 1, device) + time_test(models[name], batch, 1, device)
        compile_s[name] = max(0.0, warm - 2 * steady) if '--compile' in CONFIGS[name] else None
    train_iters = max(1, 4 // batch_size)
    train_rates: dict[str, list[float]] = {name: [] for name in configs}
    test_rates: dict[str, list[float]] = {name: [] for name in configs}
    memory: dict[str, list[float]] = {name: [] for name in configs}
    for round_index in range(rounds):
        order = configs[round_index % len(configs):] + configs[:round_index % len(configs)]
        for name in order:
            with peak_memory(device, memory[name]):
                train_rates[name].append(train_iters / time_train(models[name], batch, train_iters, device))
            test_rates[name].append(TEST_IMAGES_PER_ROUND / time_test(models[name], batch, TEST_IMAGES_PER_ROUND, device))
        print(f'  batch {batch_size} round {round_index + 1}/{rounds} done', file=sys.stderr)
    plain_train = statistics.median(train_rates['plain'])
    plain_test = statistics.median(test_rates['plain'])
    results = {}
    for name in configs:
        train = statistics.median(train_rates[name])
        test = statistics.median(test_rates[name])
        peak = peaks['bf16' if '--amp' in CONFIGS[name] else 'fp32']
        achieved = gflop_train * batch_size * train
        results[name] = {
            'flags': ' '.join(CONFIGS[name]) or '(none)',
            'train_it_s': round(train, 3), 'train_ratio': round(train / plain_train, 3),
            'train_img_s': round(train * batch_size, 3),
            'test_img_s': round(test, 3), 'test_ratio': round(test / plain_test, 3),
            'train_gflop_s': round(achieved, 1), 'train_pct_of_peak': round(100 * achieved / peak, 1),
            'test_gflop_s': round(gflop_test * test, 1),
            'peak_mem_mib': round(max(memory[name]), 1) if memory[name] else None,
            'compile_s': None if compile_s[name] is None else round(compile_s[name], 1),
            'train_it_s_rounds': [round(rate, 3) for rate in train_rates[name]],
        }
    return results


def bench_device(device: str, args: argparse.Namespace, checkpoints_dir: str) -> dict:
    configs = ['plain'] + [name for name in args.configs if name != 'plain']
    peaks = {'fp32': matmul_peak_gflops(device, torch.float32), 'bf16': matmul_peak_gflops(device, torch.bfloat16)}
    gflop_train, gflop_test = count_gflop(build_model([], device, 1, checkpoints_dir), make_batch(1, device))
    report = {
        'device': device_name(device), 'torch': torch.__version__, 'threads': torch.get_num_threads(),
        'model': 'pix2pix, netG unet_256, netD basic, 256x256, norm batch, default flags otherwise',
        'batch_sizes_run': args.batch_sizes, 'batch_sizes_optional': [b for b in (1, 4, 16) if b not in args.batch_sizes],
        'rounds': args.rounds,
        'method': ('per round each configuration trains max(1, 4 // batch) iterations and tests '
                   f'{TEST_IMAGES_PER_ROUND} single images (train-mode norm, as test.py without --eval); '
                   'medians over rounds; configurations interleaved, order rotated each round; '
                   f'{WARMUP_ITERS} warm-up iterations excluded; peak GFLOP/s from square matmuls; '
                   'peak_mem_mib on CPU is the resident-set high-water above the resident size before the step, '
                   'on CUDA torch.cuda.max_memory_allocated'),
        'gflop_per_train_iter_per_image': round(gflop_train, 2), 'gflop_per_test_image': round(gflop_test, 2),
        'peak_gflop_s': {key: round(value, 1) for key, value in peaks.items()},
        'results': {}, 'best': {},
    }
    for batch_size in args.batch_sizes:
        print(f'{device}: batch {batch_size}', file=sys.stderr)
        results = bench_batch_size(device, batch_size, configs, args.rounds, gflop_train, gflop_test, peaks,
                                   checkpoints_dir)
        report['results'][str(batch_size)] = results
        report['best'][str(batch_size)] = max(results, key=lambda name: results[name]['train_ratio'])
    return report


def markdown(report: dict) -> str:
    lines = [f'### {report["device"]}, torch {report["torch"]}',
             f'one training iteration: {report["gflop_per_train_iter_per_image"]} GFLOP per image; '
             f'matmul peak fp32 {report["peak_gflop_s"]["fp32"]} GFLOP/s, bf16 {report["peak_gflop_s"]["bf16"]} GFLOP/s', '',
             '| batch | config | train it/s | x plain | test img/s | x plain | train GFLOP/s | % peak | peak mem MiB | compile s |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for batch_size, results in report['results'].items():
        for name, row in results.items():
            lines.append(f'| {batch_size} | {name} | {row["train_it_s"]} | {row["train_ratio"]} | {row["test_img_s"]} | '
                         f'{row["test_ratio"]} | {row["train_gflop_s"]} | {row["train_pct_of_peak"]} | '
                         f'{row["peak_mem_mib"]} | {row["compile_s"] if row["compile_s"] is not None else "-"} |')
    return '\n'.join(lines)


def main() -> None:
    args = parse_args()
    devices = args.devices or ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    os.makedirs(args.out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as checkpoints_dir:
        for device in devices:
            report = bench_device(device, args, checkpoints_dir)
            path = os.path.join(args.out_dir, f'{device}.json')
            with open(path, 'w') as handle:
                json.dump(report, handle, indent=2)
            print(markdown(report))
            print(f'\nwrote {path}')


if __name__ == '__main__':
    main()
