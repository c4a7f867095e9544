"""SIGKILL while a checkpoint is being written never leaves a torn file: the last checkpoint always loads
(weights_only) and --continue_train resumes from it."""
import json
import os
import subprocess
import sys

import pytest

from tiny_runs import REPO, TINY_NET, make_aligned_dataset, run_entry, with_values

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

KILLS = 8

# Imports torch once, then forks one training child per trial and SIGKILLs it the moment the 4th to 9th
# checkpoint temporary file of the trial appears (3 files per checkpoint), i.e. while torch.save writes it;
# after each kill every `latest` file must load.
DRIVER = r'''
import json, os, random, signal, sys
sys.path.insert(0, os.getcwd())
import train
from util.checkpoint import load_weights

folder, kills, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
state = os.path.join(folder, 'latest_train_state.pth')
latest = [os.path.join(folder, f'latest_{kind}.pth') for kind in ('net_G', 'net_D', 'train_state')]


def temporaries():
    return {name for name in os.listdir(folder) if name.endswith('.tmp')} if os.path.isdir(folder) else set()


def start(extra):
    pid = os.fork()
    if pid:
        return pid
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.argv = ['train.py', *args, *extra]
    code = 1
    try:
        train.main()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    finally:
        os._exit(code)


report = {'checked': 0, 'torn_writes': 0}
for trial in range(kills):
    before, seen, target = temporaries(), set(), random.randint(4, 9)
    pid = start(['--continue_train', '--n_epochs', '1000'] if os.path.exists(state) else ['--n_epochs', '1000'])
    while len(seen) < target:
        seen |= temporaries() - before
        if os.waitpid(pid, os.WNOHANG)[0]:
            sys.exit(f'trial {trial}: training ended before a checkpoint write could be interrupted')
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    report['torn_writes'] += bool(temporaries() - before)
    if all(os.path.exists(path) for path in latest):
        for path in latest:
            load_weights(path)
        report['checked'] += 1
_, status = os.waitpid(start(['--continue_train', '--n_epochs', '1']), 0)
report['resume_exit_code'] = os.waitstatus_to_exitcode(status)
print(json.dumps(report))
'''


def test_last_checkpoint_loads_after_kills_during_writes(tmp_path):
    dataroot = str(tmp_path / 'data')
    make_aligned_dataset(dataroot, {'train': 2}, seed=5)
    checkpoints = str(tmp_path / 'checkpoints')
    args = ['--dataroot', dataroot, '--name', 'killed', '--checkpoints_dir', checkpoints, *with_values(TINY_NET, load_size=36),
            '--no_html', '--save_latest_freq', '1', '--n_epochs_decay', '0']
    result = subprocess.run([sys.executable, '-c', DRIVER, os.path.join(checkpoints, 'killed'), str(KILLS), *args],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report['checked'] == KILLS, report
    assert report['torn_writes'] >= 1, f'no kill landed inside a write, so nothing was tested: {report}'
    assert report['resume_exit_code'] == 0, report


def test_unfinished_writes_are_removed_at_the_next_start(tmp_path):
    """The temporary files a killed write leaves are deleted when training starts again, with one line saying so."""
    dataroot = str(tmp_path / 'data')
    make_aligned_dataset(dataroot, {'train': 2}, seed=5)
    experiment = tmp_path / 'checkpoints' / 'stale'
    experiment.mkdir(parents=True)
    left_over = [experiment / '.latest_net_G.pth.k2j4_x9a.tmp', experiment / '.latest_train_state.pth.abcd1234.tmp']
    for path in left_over:
        path.write_bytes(b'half a checkpoint')
    unrelated = experiment / 'notes.tmp'
    unrelated.write_text('not ours')
    result = run_entry('train.py', '--dataroot', dataroot, '--name', 'stale', '--checkpoints_dir', str(tmp_path / 'checkpoints'),
                       *TINY_NET, '--no_html', '--n_epochs', '1', '--n_epochs_decay', '0')
    assert not any(path.exists() for path in left_over) and unrelated.exists()
    assert sum('removed 2 unfinished checkpoint write(s)' in line for line in result.stdout.splitlines()) == 1
