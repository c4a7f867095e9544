"""Signals sent to the whole process group (as Ctrl-C, timeout, systemd and Slurm send them), loader workers included:
SIGTERM/SIGINT/SIGHUP save `latest` and exit 143/130/129 with one line and no traceback, whatever the moment;
SIGUSR1 saves `latest` and training goes on."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tiny_runs import REPO, TINY_NET, make_aligned_dataset, run_entry, wait_for, with_values
from util import distributed
from util.checkpoint import load_weights
from training.interrupt import HANDLED_SIGNALS, TrainingSignals

NET = [*with_values(TINY_NET, load_size=36, num_threads=2), '--print_freq', '1']


def start(tmp_path: Path, name: str, *extra: str) -> tuple[subprocess.Popen, Path]:
    """train.py in a session of its own (so killpg reaches it and its loader workers), output in files."""
    data = tmp_path / 'data'
    if not data.exists():
        make_aligned_dataset(data, {'train': 4}, size=36, seed=10)
    args = ['--dataroot', str(data), '--name', name, '--checkpoints_dir', str(tmp_path / 'ck'), *NET, *extra]
    logs = tmp_path / f'{name}.out', tmp_path / f'{name}.err'
    process = subprocess.Popen([sys.executable, str(REPO / 'train.py'), *args], cwd=REPO, start_new_session=True,
                               stdout=open(logs[0], 'w'), stderr=open(logs[1], 'w'))
    return process, tmp_path / 'ck' / name


def training_logged(experiment: Path):
    log = experiment / 'loss_log.txt'
    return lambda: log.exists() and '(epoch' in log.read_text()


def checkpoint_being_written(experiment: Path):
    return lambda: experiment.is_dir() and any(name.endswith('.tmp') for name in os.listdir(experiment))


MOMENTS = {'during steps': (training_logged, []), 'during a checkpoint write': (checkpoint_being_written, ['--save_latest_freq', '1'])}


@pytest.mark.parametrize('signum,moment', [(signal.SIGTERM, 'during steps'), (signal.SIGTERM, 'during a checkpoint write'),
                                           (signal.SIGINT, 'during steps'), (signal.SIGINT, 'during a checkpoint write'),
                                           (signal.SIGHUP, 'during steps')],
                         ids=['TERM-steps', 'TERM-write', 'INT-steps', 'INT-write', 'HUP-steps'])
@pytest.mark.slow
def test_stop_signal_to_the_group_saves_latest_and_resumes(tmp_path, signum, moment):
    condition, extra = MOMENTS[moment]
    process, experiment = start(tmp_path, 'stopped', '--n_epochs', '1000', *extra)
    wait_for(condition(experiment), process, moment)
    os.killpg(process.pid, signum)
    assert process.wait(timeout=120) == 128 + signum
    stderr = (tmp_path / 'stopped.err').read_text()
    assert 'Traceback' not in stderr and 'killed by signal' not in stderr, stderr[-3000:]
    assert stderr.count('stopped by') == 1 and f'stopped by {signal.Signals(signum).name} at epoch' in stderr
    assert not [name for name in os.listdir(experiment) if name.endswith('.tmp')]
    state = load_weights(str(experiment / 'latest_train_state.pth'))
    assert state['progress']['total_iters'] >= 1

    next_epoch = state['progress']['epoch']
    result = run_entry('train.py', '--dataroot', str(tmp_path / 'data'), '--name', 'stopped', '--checkpoints_dir',
                       str(tmp_path / 'ck'), *NET, '--continue_train', '--n_epochs', str(next_epoch), '--n_epochs_decay', '0')
    assert 'resuming from' in result.stdout


@pytest.mark.slow
def test_sigusr1_saves_latest_and_training_goes_on(tmp_path):
    process, experiment = start(tmp_path, 'usr1', '--n_epochs', '40', '--n_epochs_decay', '0', '--no_html')
    wait_for(training_logged(experiment), process, 'training')
    os.killpg(process.pid, signal.SIGUSR1)
    assert process.wait(timeout=300) == 0, (tmp_path / 'usr1.err').read_text()[-3000:]
    stdout = (tmp_path / 'usr1.out').read_text()
    saved_at = [line for line in stdout.splitlines() if line.startswith('saved latest at epoch') and '(SIGUSR1)' in line]
    assert len(saved_at) == 1, stdout[-3000:]
    epoch_saved = int(saved_at[0].split()[4].rstrip(','))
    assert epoch_saved < 40 and 'End of epoch 40 / 40' in stdout
    assert load_weights(str(experiment / 'latest_train_state.pth'))['progress']['epoch'] == 41


def test_a_save_request_arriving_during_a_poll_is_answered_at_the_next(monkeypatch):
    """Deterministic form of a race the SIGUSR1 run above hit in 2 runs of 12: the signal landing while the ranks
    agree on what arrived."""
    previous = {signum: signal.getsignal(signum) for signum in HANDLED_SIGNALS}
    try:
        signals = TrainingSignals()
        reduce = distributed.reduce_over_ranks

        def reduce_as_usr1_arrives(values, op):
            signals.record_save(signal.SIGUSR1, None)
            return reduce(values, op)

        monkeypatch.setattr(distributed, 'reduce_over_ranks', reduce_as_usr1_arrives)
        assert signals.poll() == (None, False)
        monkeypatch.setattr(distributed, 'reduce_over_ranks', reduce)
        assert signals.poll() == (None, True)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
