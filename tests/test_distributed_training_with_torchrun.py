"""torchrun on CPU (gloo): training finishes, only rank 0 writes, every rank ends with rank 0's saved weights."""
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tiny_runs import (HD_TINY_NET, REPO, TINY_NET, TINY_UNET, free_port, make_aligned_dataset, make_labeled_dataset,
                       with_values)

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

TORCHRUN = os.path.join(os.path.dirname(sys.executable), 'torchrun')
NUM_IMAGES = 4
EPOCHS = 2


def run_torchrun(tmp_path, nproc: int, net: list[str] = TINY_UNET) -> str:
    """train.py under torchrun on the dataset in tmp_path/data (aligned images unless the test wrote one)."""
    if not (tmp_path / 'data').exists():
        make_aligned_dataset(tmp_path / 'data', {'train': NUM_IMAGES})
    command = [TORCHRUN, '--standalone', '--nproc_per_node', str(nproc), 'train.py',
               '--dataroot', str(tmp_path / 'data'), '--checkpoints_dir', str(tmp_path / 'ckpt'), '--name', 'ddp',
               *net, '--print_freq', '1',
               '--n_epochs', '1', '--n_epochs_decay', str(EPOCHS - 1)]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    with subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # torchrun's workers too, not only torchrun
            raise
    assert process.returncode == 0, stdout[-2000:] + stderr[-3000:]
    return stdout


def checkpoint_parameters_digest(path: str) -> str:
    """The same digest rank 0 logs, computed here from the file: parameters only, BatchNorm statistics left out."""
    state = torch.load(path, weights_only=True)
    digest = hashlib.sha256()
    for name in sorted(key for key in state if not key.endswith(('running_mean', 'running_var', 'num_batches_tracked'))):
        digest.update(name.encode())
        digest.update(state[name].contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def logged_digests(stdout: str, net: str) -> list[str]:
    match = re.search(rf'\[net {net}\] parameter digests by rank: (.*)', stdout)
    assert match, stdout[-2000:]
    return match.group(1).split()


def test_torchrun_trains_pix2pixhd_with_its_multiscale_discriminator(tmp_path):
    """The multiscale D returns every stage's features through DDP, with its scales and G's blocks recomputed in
    the backward (--checkpoint_activations), and the feature encoder trains with G; all ranks end with rank 0's
    saved weights."""
    make_labeled_dataset(tmp_path / 'data', {'train': NUM_IMAGES})
    stdout = run_torchrun(tmp_path, 2, [*HD_TINY_NET, '--label_nc', '12', '--no_vgg_loss', '--preprocess', 'none',
                                        '--checkpoint_activations', '--instance_feat', '--nef', '4', '--n_downsample_E', '2'])
    assert 'G_GAN_Feat' in stdout
    for net in ('G', 'D', 'E'):
        saved = checkpoint_parameters_digest(str(tmp_path / 'ckpt' / 'ddp' / f'latest_net_{net}.pth'))
        assert logged_digests(stdout, net) == [saved, saved]


@pytest.mark.parametrize('nproc', [2, 1])
def test_torchrun_ranks_end_identical_and_only_rank0_writes(tmp_path, nproc):
    stdout = run_torchrun(tmp_path, nproc)
    experiment = tmp_path / 'ckpt' / 'ddp'
    assert {'latest_net_D.pth', 'latest_net_G.pth', 'loss_log.txt', 'train_opt.txt'} <= set(os.listdir(experiment))
    log = (experiment / 'loss_log.txt').read_text().splitlines()
    images_per_rank = NUM_IMAGES // nproc
    assert sum('Training Loss' in line for line in log) == 1
    assert sum(line.startswith('(epoch:') for line in log) == EPOCHS * images_per_rank
    assert f'The number of training images = {images_per_rank}' in stdout
    for net in ('G', 'D'):
        digests = logged_digests(stdout, net)
        assert len(digests) == nproc
        assert set(digests) == {checkpoint_parameters_digest(str(experiment / f'latest_net_{net}.pth'))}
    assert 'all ranks hold identical parameters' in stdout
    state = torch.load(experiment / 'latest_net_G.pth', weights_only=True)
    assert not any(key.startswith(('module.', '_orig_mod.')) for key in state)


RESUME_FLAGS = [*with_values(TINY_NET, load_size=36), '--no_html', '--seed', '5',
                '--n_epochs', '2', '--n_epochs_decay', '1', '--save_latest_freq', '6', '--save_epoch_freq', '100']


def torchrun_training(tmp_path, name: str, *extra: str) -> subprocess.Popen:
    command = [TORCHRUN, '--standalone', '--nproc_per_node', '2', 'train.py', '--dataroot', str(tmp_path / 'data'),
               '--checkpoints_dir', str(tmp_path / 'ckpt'), '--name', name, *RESUME_FLAGS, *extra]
    return subprocess.Popen(command, cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS='1'), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / f'{name}.err', 'a'))


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, read from /proc (torchrun starts each rank in a session of its own)."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{entry}/stat') as stat:
                parent = int(stat.read().rsplit(')', 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, frontier = [], [pid]
    while frontier:
        below = children.get(frontier.pop(), [])
        found += below
        frontier += below
    return found


def kill_everything(process: subprocess.Popen) -> int:
    """SIGKILL torchrun and every rank at once, as a node failure or Slurm's final kill does."""
    for pid in [process.pid, *descendants(process.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return process.wait()


def test_torchrun_killed_mid_epoch_resumes_bit_identical(tmp_path):
    """8 images on 2 ranks: 4 iterations per rank and epoch; the checkpoint at iteration 6 lands mid-epoch 2.
    Every rank's random state, image pool and position are restored, so the final weights equal a straight run's."""
    make_aligned_dataset(tmp_path / 'data', {'train': 8}, size=36, seed=3)
    straight = torchrun_training(tmp_path, 'straight')
    assert straight.wait(timeout=180) == 0, (tmp_path / 'straight.err').read_text()[-3000:]

    state_file = tmp_path / 'ckpt' / 'resumed' / 'latest_train_state.pth'
    killed = torchrun_training(tmp_path, 'resumed')
    deadline = time.monotonic() + 180
    while not state_file.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert kill_everything(killed) == -signal.SIGKILL, 'the run ended before it could be killed'
    assert torch.load(state_file, weights_only=True)['progress']['epoch_iter'] == 2 * 1  # 6 = 4 + 2 iterations per rank

    resumed = torchrun_training(tmp_path, 'resumed', '--continue_train')
    assert resumed.wait(timeout=180) == 0, (tmp_path / 'resumed.err').read_text()[-3000:]
    for net in 'GD':
        expected = torch.load(tmp_path / 'ckpt' / 'straight' / f'latest_net_{net}.pth', weights_only=True)
        actual = torch.load(tmp_path / 'ckpt' / 'resumed' / f'latest_net_{net}.pth', weights_only=True)
        differing = [key for key in expected if not torch.equal(expected[key], actual[key])]
        assert not differing, f'net {net} differs from the straight run in {differing[:5]}'


def test_torchrun_restarts_a_killed_rank_and_the_run_resumes_instead_of_starting_again(tmp_path):
    """torchrun --max-restarts 1 with c10d rendezvous; rank 1 SIGKILLed as soon as the first checkpoint is on disk:
    torchrun restarts both ranks, which connect (keys of their own in the rendezvous store), resume from the newest
    checkpoint on their own, write no epoch before it again, and end with the straight run's weights."""
    make_aligned_dataset(tmp_path / 'data', {'train': 8}, size=36, seed=3)
    straight = torchrun_training(tmp_path, 'straight')
    assert straight.wait(timeout=180) == 0, (tmp_path / 'straight.err').read_text()[-3000:]

    command = [TORCHRUN, '--nproc_per_node', '2', '--max-restarts', '1', '--rdzv-backend', 'c10d', '--rdzv-endpoint',
               f'127.0.0.1:{free_port()}', 'train.py', '--dataroot', str(tmp_path / 'data'), '--checkpoints_dir',
               str(tmp_path / 'ckpt'), '--name', 'restarted', *RESUME_FLAGS, '--save_epoch_freq', '1']
    with open(tmp_path / 'restarted.out', 'w') as out, open(tmp_path / 'restarted.err', 'w') as err:
        process = subprocess.Popen(command, cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS='1'), start_new_session=True,
                                   stdout=out, stderr=err)
    experiment = tmp_path / 'ckpt' / 'restarted'
    deadline = time.monotonic() + 180
    while not (experiment / 'latest_train_state.pth').exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    ranks = [pid for pid in descendants(process.pid) if b'train.py' in Path(f'/proc/{pid}/cmdline').read_bytes()]
    assert process.poll() is None and len(ranks) == 2, 'the run ended before a rank could be killed'
    os.kill(max(ranks), signal.SIGKILL)
    killed_at = time.time()
    try:
        assert process.wait(timeout=180) == 0, (tmp_path / 'restarted.err').read_text()[-3000:]
    finally:
        kill_everything(process)
    stdout = (tmp_path / 'restarted.out').read_text()
    resumed = re.search(r'resuming from epoch (\d+), iteration (\d+) after restart 1', stdout)
    assert resumed and int(resumed.group(2)) > 0, stdout[-2000:]
    restart_began = (experiment / 'train_opt.txt').stat().st_mtime  # written again when the restarted ranks start
    assert restart_began > killed_at
    written_after = [int(path.name.split('_')[0]) for path in experiment.glob('[0-9]*_net_G.pth')
                     if path.stat().st_mtime > restart_began]
    assert written_after and min(written_after) >= int(resumed.group(1)), written_after  # no earlier epoch again
    for net in 'GD':
        expected = torch.load(tmp_path / 'ckpt' / 'straight' / f'latest_net_{net}.pth', weights_only=True)
        actual = torch.load(experiment / f'latest_net_{net}.pth', weights_only=True)
        assert all(torch.equal(expected[key], actual[key]) for key in expected), net


def test_sigterm_ends_a_rank_blocked_in_a_collective_whose_peer_is_stopped(tmp_path):
    """Rank 1 SIGSTOPped mid-training, so rank 0 waits in a collective that cannot finish; SIGTERM to rank 0 must end
    it within 10 s with one line and the signal's exit status, the saved checkpoint untouched."""
    make_aligned_dataset(tmp_path / 'data', {'train': 8}, size=36, seed=3)
    process = torchrun_training(tmp_path, 'stalled', '--n_epochs', '200')
    experiment = tmp_path / 'ckpt' / 'stalled'
    try:
        deadline = time.monotonic() + 180
        while not (experiment / 'latest_train_state.pth').exists() and process.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        ranks = sorted(pid for pid in descendants(process.pid)
                       if b'train.py' in Path(f'/proc/{pid}/cmdline').read_bytes())
        assert process.poll() is None and len(ranks) == 2, (tmp_path / 'stalled.err').read_text()[-3000:]
        rank0, rank1 = ranks
        os.kill(rank1, signal.SIGSTOP)
        time.sleep(2)  # rank 0 reaches the next gradient all-reduce and waits there for rank 1
        assert Path(f'/proc/{rank0}').exists()
        saved = {path.name: path.read_bytes() for path in experiment.glob('latest_*')}
        os.kill(rank0, signal.SIGTERM)
        sent_at = time.monotonic()
        while Path(f'/proc/{rank0}').exists() and open(f'/proc/{rank0}/stat').read().split(') ')[1][0] != 'Z' \
                and time.monotonic() - sent_at < 20:
            time.sleep(0.05)
        took = time.monotonic() - sent_at
    finally:
        kill_everything(process)
    stderr = (tmp_path / 'stalled.err').read_text()
    assert took < 10, f'rank 0 still running {took:.0f} s after SIGTERM'
    assert re.search(r'stopped by SIGTERM: rank 1 stopped responding', stderr), stderr[-3000:]
    assert {path.name: path.read_bytes() for path in experiment.glob('latest_*')} == saved


def test_sigterm_to_torchrun_with_every_rank_alive_saves_latest_and_stops(tmp_path):
    """The other side of the test above: with no peer stalled the signal is answered at the next step as without
    torchrun (latest saved by rank 0, every rank stopped by SIGTERM), not cut short."""
    make_aligned_dataset(tmp_path / 'data', {'train': 8}, size=36, seed=3)
    process = torchrun_training(tmp_path, 'stopped', '--n_epochs', '200')
    state_file = tmp_path / 'ckpt' / 'stopped' / 'latest_train_state.pth'
    try:
        deadline = time.monotonic() + 180
        while not state_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(1)
        assert process.poll() is None, (tmp_path / 'stopped.err').read_text()[-3000:]
        process.send_signal(signal.SIGTERM)  # torchrun passes it on to both ranks
        sent_at = time.time()
        process.wait(timeout=60)
    finally:
        kill_everything(process)
    stderr = (tmp_path / 'stopped.err').read_text()
    assert re.search(r'stopped by SIGTERM at epoch \d+, \d+ images into it: saved latest', stderr), stderr[-3000:]
    assert 'stopped responding' not in stderr
    assert state_file.stat().st_mtime > sent_at
    assert torch.load(state_file, weights_only=True)['progress']['total_iters'] > 6  # past the first save


LIVENESS_PROBE = '''
import os, signal, time, torch
from util import distributed
distributed.init_distributed([])
rank = distributed.get_rank()
pids = [None, None]
torch.distributed.all_gather_object(pids, os.getpid())
if rank == 1:
    started = time.monotonic()
    while time.monotonic() - started < 6:  # busy in torch's C code for longer than the window, not stalled
        torch.randn(300, 300) @ torch.randn(300, 300)
    torch.distributed.barrier()
    os.kill(os.getpid(), signal.SIGSTOP)
    distributed.shutdown()
else:
    print('busy:', distributed.stalled_peers(), flush=True)
    torch.distributed.barrier()
    time.sleep(0.5)
    print('stopped:', distributed.stalled_peers(), flush=True)
    os.kill(pids[1], signal.SIGCONT)
    while os.path.exists(f'/proc/{pids[1]}') and open(f'/proc/{pids[1]}/stat').read().split(') ')[1][0] != 'Z':
        time.sleep(0.05)
    print('left:', distributed.stalled_peers(), flush=True)
    distributed.shutdown()
'''


def test_a_peer_counts_as_stalled_while_stopped_and_not_while_busy_or_after_leaving():
    """The liveness a stop signal relies on, in a real 2-rank group: a rank computing for longer than the window
    lives, a SIGSTOPped one is stalled, one that shut down on purpose is not."""
    result = subprocess.run([TORCHRUN, '--standalone', '--nproc_per_node', '2', '--no-python', sys.executable, '-c',
                             LIVENESS_PROBE], cwd=REPO, capture_output=True,
                            text=True, timeout=120, env=dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.findall(r'(\w+): (\[.*\])', result.stdout) == [('busy', '[]'), ('stopped', '[1]'), ('left', '[]')], \
        result.stdout + result.stderr[-3000:]
