"""Speed: the settings of the flags --amp, --channels_last, --fused_adam and --compile (options.base_options declares
them), and --fast, which measures them and keeps the fastest; for train.py, test.py, predict.py, serve.py and the
benchmark.

No setting is assumed to help: a flag that doubles the speed on one CPU can make it 30 times slower on another.
--fast times each candidate on a synthetic batch of the configured shape, interleaved round by round with the
plain float32 path, on this very machine, and keeps the fastest combination. The candidates take turns on the one
model, which the caller puts back exactly afterwards (`hold`): no copy, so tuning needs little more memory than a step.
"""
import contextlib
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Callable

import torch

from util import distributed
from util.hardware import describe_device, native_autocast_dtype
from util.rng import rng_untouched

MIN_GAIN = 1.05  # a flag is kept only if it makes the step this much faster: smaller gains are within the noise
CPU_BUDGET_S = 28.0
CUDA_BUDGET_S = 90.0
MIN_ROUNDS, MAX_ROUNDS = 2, 6


@dataclass(frozen=True)
class SpeedSettings:
    amp: bool = False
    channels_last: bool = False
    fused_adam: bool = False
    compile: bool = False

    @classmethod
    def from_opt(cls, opt) -> 'SpeedSettings':
        """The settings the flags ask for; a flag an entry point does not have (predict.py's --fused_adam) is off."""
        return cls(**{field.name: bool(getattr(opt, field.name, False)) for field in fields(cls)})

    def plus(self, *features: str) -> 'SpeedSettings':
        return replace(self, **{feature: True for feature in features})

    def describe(self) -> str:
        flags = [f'--{name}' for name, on in asdict(self).items() if on]
        return ' '.join(flags) if flags else 'plain float32 (no speed flag)'


def choose(requested: SpeedSettings, fast: bool, device: torch.device, make_step: Callable[[SpeedSettings], Callable[[], None]],
           training: bool, saved: dict | None = None,
           hold: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext) -> SpeedSettings:
    """The settings to run with: the requested flags (--amp only where native), or under --fast the choice the
    resumed run recorded in `saved`, else the fastest measured here (by rank 0, for every rank). `make_step` puts the
    model under given settings and returns one step of it; `hold` restores the model afterwards."""
    settings = replace(requested, amp=amp_if_native(requested.amp, device))
    if not fast:
        return settings
    if saved and saved.get('fast'):
        settings = SpeedSettings(**{name: bool(saved.get(name, False)) for name in asdict(SpeedSettings())})
        print(f'--fast: reusing the settings chosen when this run started: {settings.describe()}')
        return settings
    report = None
    if distributed.is_main_process():
        with rng_untouched(), hold():
            settings, _, report = tune(make_step, device, training)
    settings = SpeedSettings(**distributed.broadcast_from_main(asdict(settings)))
    if report:
        print(report)
    return settings


def amp_if_native(requested: bool, device: torch.device) -> bool:
    """--amp where the device computes low precision natively; elsewhere one warning line, and float32."""
    if requested and native_autocast_dtype(device) is None:
        print(f'warning: --amp ignored: {describe_device(device)} has no native bfloat16 or float16 math '
              '(needs AVX512-BF16 or AMX on x86 CPUs, a tensor-core GPU), so autocast would be emulated '
              '(measured 12-48x slower per training step on an AVX2 CPU); running in float32', file=sys.stderr)
        return False
    return requested


def prepare_network(net: torch.nn.Module, settings: SpeedSettings) -> torch.nn.Module:
    """`net` in channels-last (or back in contiguous) memory format and compiled (or not), as `settings` say:
    converted in place, compiled as a wrapper."""
    net = getattr(net, '_orig_mod', net)
    net.to(memory_format=torch.channels_last if settings.channels_last else torch.contiguous_format)
    return torch.compile(net) if settings.compile else net


def candidate_features(device: torch.device, training: bool) -> list[str]:
    """What is worth timing here: low precision only where the device computes it natively, compile only on CUDA
    (on CPU it was measured slower, 0.92-0.97x, after up to 30 s of compiling)."""
    features = ['channels_last']
    if training:
        features.append('fused_adam')
    if native_autocast_dtype(device) is not None:
        features.append('amp')
    if device.type == 'cuda':
        features.append('compile')
    return features


class Trial:
    """One candidate: its settings, the function that puts the model under them and returns one step, the times."""

    def __init__(self, settings: SpeedSettings, make_step: Callable[[SpeedSettings], Callable[[], None]],
                 device: torch.device):
        self.settings = settings
        self.make_step = make_step
        self.device = device
        self.times: list[float] = []
        self.last = 0.0

    def run(self) -> float:
        step = self.make_step(self.settings)
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
        start = time.perf_counter()
        step()
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
        self.last = time.perf_counter() - start
        return self.last

    def warm_up(self) -> None:
        """The first call builds kernels, caches and (under compile, the first three) graphs; it is not counted.
        Later calls that are still slow lose to the fastest round anyway (`seconds` is a minimum)."""
        for _ in range(3 if self.settings.compile else 1):
            self.run()

    @property
    def seconds(self) -> float:
        """The fastest of the rounds: other work on the machine only ever adds time."""
        return min(self.times)


def interleave(trials: list[Trial], budget_s: float) -> None:
    """Time every trial once per round, rotating the order so that drifts of the machine hit all alike;
    as many rounds as fit in `budget_s`, within [MIN_ROUNDS, MAX_ROUNDS]."""
    per_round = sum(trial.last for trial in trials)
    rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, int(budget_s / max(per_round, 1e-6))))
    for round_index in range(rounds):
        shift = round_index % len(trials)
        for trial in trials[shift:] + trials[:shift]:
            trial.times.append(trial.run())


def fastest(trials: list[Trial]) -> Trial:
    """The trial with the fewest flags among those within MIN_GAIN of the fastest: a flag must earn its place."""
    quickest = min(trial.seconds for trial in trials)
    close = [trial for trial in trials if trial.seconds <= quickest * MIN_GAIN]
    return min(close, key=lambda trial: (sum(asdict(trial.settings).values()), trial.seconds))


def measure_against(base: Trial, settings: SpeedSettings, make_step: Callable[[SpeedSettings], Callable[[], None]],
                    device: torch.device, budget_s: float) -> Trial:
    """Time one more candidate in rounds interleaved with the plain float32 trial."""
    trial = Trial(settings, make_step, device)
    trial.warm_up()
    interleave([base, trial], budget_s)
    return trial


def tune(make_step: Callable[[SpeedSettings], Callable[[], None]], device: torch.device,
         training: bool) -> tuple[SpeedSettings, float, str]:
    """Pick the fastest settings; returns them, their speed relative to plain float32 and a one-line report.

    First each flag alone, and --amp with --channels_last: low-precision kernels (oneDNN's bf16 on CPUs, tensor cores
    on GPUs) run fastest on channels-last memory, so the pair can win where channels_last alone loses (on an AMX Xeon,
    amp+channels_last+fused_adam measured 1.89x plain while --fast's earlier single-flag search kept fused_adam
    alone). Then the best of those plus every flag that did not measurably slow the step alone (flags interact: on the
    Zen 4 at batch 4, channels_last and fused Adam gained 0-2% alone in float32, 10% together on top of bf16); then
    torch.compile on top of the best (CUDA only).
    """
    start = time.perf_counter()
    budget = CUDA_BUDGET_S if device.type == 'cuda' else CPU_BUDGET_S
    features = candidate_features(device, training)
    base = Trial(SpeedSettings(), make_step, device)
    singles = {feature: Trial(SpeedSettings().plus(feature), make_step, device)
               for feature in features if feature != 'compile'}
    pair = [Trial(SpeedSettings(amp=True, channels_last=True), make_step, device)] if 'amp' in features else []
    firsts = [*singles.values(), *pair]
    for trial in [base] + firsts:
        trial.warm_up()
    interleave([base] + firsts, 0.65 * budget - (time.perf_counter() - start))
    measured = [base] + firsts
    harmless = [feature for feature, trial in singles.items() if base.seconds / trial.seconds >= 1 / MIN_GAIN]
    combined = fastest(measured).settings.plus(*harmless)
    if combined not in [trial.settings for trial in measured]:
        measured.append(measure_against(base, combined, make_step, device, (budget - (time.perf_counter() - start)) / 2))
    if 'compile' in features:
        compiled = replace(fastest(measured).settings, compile=True)
        measured.append(measure_against(base, compiled, make_step, device, (budget - (time.perf_counter() - start)) / 2))
    best = fastest(measured)
    ratio = base.seconds / best.seconds
    report = (f'--fast: {"training" if training else "inference"} with {best.settings.describe()}, '
              f'{ratio:.2f}x the plain float32 {"step" if training else "forward"} '
              f'({1 / best.seconds:.2f} against {1 / base.seconds:.2f} it/s; {len(measured)} settings timed '
              f'in {time.perf_counter() - start:.0f} s on {describe_device(device)})')
    return best.settings, ratio, report
