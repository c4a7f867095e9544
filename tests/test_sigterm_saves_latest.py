"""SIGTERM (or Ctrl-C) during training saves `latest` with its training state and exits cleanly; resuming works."""
import os
import signal
import subprocess
import sys
import time

from conftest import ROOT, run_entry, write_aligned_images
from util.checkpoint import load_weights


def test_sigterm_saves_latest_and_exits_cleanly(tmp_path):
    data = str(tmp_path / 'data')
    write_aligned_images(os.path.join(data, 'train'), 2, size=32, seed=10)
    args = ['--dataroot', data, '--name', 'stopped', '--checkpoints_dir', str(tmp_path / 'ck'), '--netG',
            'resnet_6blocks', '--ngf', '8', '--ndf', '8', '--load_size', '36', '--crop_size', '32', '--gpu_ids', '-1',
            '--display_id', '0', '--num_threads', '0', '--no_html', '--print_freq', '1', '--n_epochs', '1000']
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'train.py'), *args], cwd=ROOT, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = tmp_path / 'ck' / 'stopped' / 'loss_log.txt'
    deadline = time.monotonic() + 120
    while (not log.exists() or '(epoch' not in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert 'Traceback' not in stderr and 'stopped by SIGTERM: saved latest' in stderr
    state = load_weights(str(tmp_path / 'ck' / 'stopped' / 'latest_train_state.pth'))
    assert state['progress']['total_iters'] >= 1

    result = run_entry('train.py', *args[:-1], '1', '--n_epochs_decay', '0', '--continue_train')
    assert 'resuming from' in result.stdout
