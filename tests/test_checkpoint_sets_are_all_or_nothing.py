"""A checkpoint's files (<label>_net_G.pth, <label>_net_D.pth, <label>_train_state.pth) land all or nothing: when the
disk fills while one of them is written, the run stops with one line and every set left on disk is whole, its
training state holding the very networks of its net files, so --epoch best or --continue_train never loads a mix.

The disk is a 12 MiB tmpfs mounted in a mount namespace of the run's own (`unshare`, no real root needed); a tiny
network's set takes 2.9 MB, so the fifth set that is on disk at once (a rewritten `best` or `latest` needs room for
its new files before the old ones go) no longer fits."""
import shlex
import subprocess
import sys

import pytest
import torch

from tiny_runs import REPO, TINY_NET, make_aligned_dataset, run_entry
from util.checkpoint import load_weights

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

KINDS = ('net_G', 'net_D', 'train_state')


def train_on_a_small_disk(tmp_path) -> subprocess.CompletedProcess:
    """train.py with its checkpoints on a 12 MiB tmpfs; the experiment folder is copied out before the mount goes."""
    disk, kept = tmp_path / 'disk', tmp_path / 'kept'
    disk.mkdir()
    kept.mkdir()
    train = [sys.executable, str(REPO / 'train.py'), '--dataroot', str(tmp_path / 'data'), '--name', 'full',
             '--checkpoints_dir', str(disk), *TINY_NET, '--no_html', '--seed', '0', '--n_epochs', '8',
             '--n_epochs_decay', '0', '--save_epoch_freq', '1']
    script = (f'mount -t tmpfs -o size=12m tmpfs {shlex.quote(str(disk))} && {{ {shlex.join(train)}; code=$?; '
              f'cp -r {shlex.quote(str(disk / "full"))} {shlex.quote(str(kept))}; exit $code; }}')
    return subprocess.run(['unshare', '--user', '--map-root-user', '--mount', 'sh', '-c', script], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_a_full_disk_leaves_every_checkpoint_set_whole(tmp_path):
    make_aligned_dataset(tmp_path / 'data', {'train': 4, 'val': 2}, seed=3)
    result = train_on_a_small_disk(tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and 'cannot write checkpoint' in errors[0] and 'earlier checkpoints are intact' in errors[0]
    assert 'Traceback' not in result.stderr

    experiment = tmp_path / 'kept' / 'full'
    names = {path.name for path in experiment.iterdir()}
    assert not [name for name in names if name.endswith('.tmp')], names
    labels = {name.rsplit('_net_', 1)[0] if '_net_' in name else name.removesuffix('_train_state.pth')
              for name in names if name.endswith('.pth')}
    assert {'latest', 'best', '1'} <= labels
    for label in labels:
        assert all(f'{label}_{kind}.pth' in names for kind in KINDS), f'set {label} is not whole: {sorted(names)}'
        state = load_weights(str(experiment / f'{label}_train_state.pth'))
        for net in 'GD':
            on_disk = load_weights(str(experiment / f'{label}_net_{net}.pth'))
            assert all(torch.equal(on_disk[key], state['networks'][net][key]) for key in on_disk), \
                f'{label}_net_{net}.pth does not hold the networks of {label}_train_state.pth'

    tested = run_entry('test.py', '--dataroot', str(tmp_path / 'data'), '--name', 'full', '--checkpoints_dir',
                       str(tmp_path / 'kept'), *TINY_NET, '--epoch', 'best', '--phase', 'val',
                       '--results_dir', str(tmp_path / 'results'))
    assert 'best_net_G.pth' in tested.stdout
