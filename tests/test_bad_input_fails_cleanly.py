"""Every bad-input case ends through the real train.py / test.py entry points with one `error:` line on stderr
naming the file or flag, a non-zero exit code, and every checkpoint and result written before left intact.
Images in other modes (gray, RGBA, palette, 16-bit) are converted, not refused."""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import torch
import pytest
from PIL import Image

from data.base_dataset import to_tensor
from tiny_runs import REPO, TINY_NET, make_aligned_dataset, with_values
from util.image_io import read_image, with_channels

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

NET = with_values(TINY_NET, load_size=36)
ONE_EPOCH = ['--n_epochs', '1', '--n_epochs_decay', '0', '--no_html']

# (name, script, extra flags; {data}/{ck}/{file} are filled in, expected exit code, text the last stderr line holds)
CASES = [
    ('dataroot missing', 'train', ['--dataroot', '{data}/nowhere'], 2, '--dataroot {data}/nowhere is not a folder'),
    ('phase folder missing', 'train', ['--phase', 'valid'], 2, 'check --dataroot and --phase'),
    ('folder without images', 'train', ['--phase', 'empty'], 2, 'holds no images'),
    ('corrupt image', 'train', ['--phase', 'corrupt'], 2, 'cannot be read'),
    ('corrupt image skipped', 'train', ['--phase', 'corrupt', '--skip_bad_images'], 0, None),
    ('gray, RGBA, palette, 16-bit', 'train', ['--phase', 'modes'], 0, None),
    ('AB image of odd width', 'train', ['--phase', 'odd'], 2, 'odd number'),
    ('image smaller than crop_size', 'train', ['--preprocess', 'crop', '--crop_size', '64'], 2, 'smaller than --crop_size 64'),
    ('unet_256 crop not divisible by 256', 'train', ['--netG', 'unet_256', '--load_size', '128', '--crop_size', '128'], 2, 'divisible by 256'),
    ('unet_128 crop not divisible by 128', 'train', ['--netG', 'unet_128', '--load_size', '64', '--crop_size', '64'], 2, 'divisible by 128'),
    ('batch norm on a 1x1 map, batch_size 1', 'train', ['--load_size', '16', '--crop_size', '16'], 2, '--norm batch with --batch_size 1'),
    ('syncbatch without torchrun', 'train', ['--norm', 'syncbatch'], 2, 'torchrun'),
    ('--epoch without checkpoint (test)', 'test', ['--epoch', '7'], 2, '7_net_G.pth does not exist'),
    ('--epoch without checkpoint (resume)', 'train', ['--continue_train', '--epoch', '7'], 2, '7_net_G.pth does not exist'),
    ('unknown model', 'train', ['--model', 'cyclegan'], 2, "--model 'cyclegan' is unknown"),
    ('unknown dataset_mode', 'train', ['--dataset_mode', 'unaligned'], 2, "--dataset_mode 'unaligned' is unknown"),
    ('unknown netG', 'train', ['--netG', 'unet_512'], 2, "--netG 'unet_512'"),
    ('unknown netD', 'train', ['--netD', 'huge'], 2, "--netD 'huge'"),
    ('unknown gan_mode', 'train', ['--gan_mode', 'hinge'], 2, "--gan_mode 'hinge'"),
    ('unknown lr_policy', 'train', ['--lr_policy', 'exp'], 2, "--lr_policy 'exp'"),
    ('checkpoints_dir not writable', 'train', ['--checkpoints_dir', '{file}/checkpoints'], 2, '--checkpoints_dir {file}/checkpoints'),
    ('disk full while saving', 'train-disk-full', [], 2, 'cannot write checkpoint'),
]

# Imports the entry points once and runs each case in a forked child, as `python train.py ...` would.
DRIVER = r'''
import importlib.util, json, os, resource, sys
sys.path.insert(0, os.getcwd())
entries = {}
for script in ('train', 'test'):
    spec = importlib.util.spec_from_file_location(f'{script}_entry', f'{script}.py')
    entries[script] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entries[script])

def run(script, args, log):
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.dup2(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        if script == 'train-disk-full':
            resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        sys.argv = [script, *args]
        code = 1
        try:
            entries[script.split('-')[0]].main()
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

results = {}
for name, script, args, log in json.loads(sys.argv[1]):
    results[name] = run(script, args, log)
print(json.dumps(results))
'''


def write_special_images(root: str) -> None:
    make_aligned_dataset(root, {'train': 2, 'test': 1, 'corrupt': 2}, seed=4)
    os.makedirs(os.path.join(root, 'empty'))
    with open(os.path.join(root, 'corrupt', '000.png'), 'r+b') as image:
        image.truncate(200)
    modes = os.path.join(root, 'modes')
    os.makedirs(modes)
    gray = np.tile(np.arange(64, dtype=np.uint8) * 4, (32, 1))
    Image.fromarray(gray, 'L').save(os.path.join(modes, 'gray.png'))
    Image.fromarray(gray, 'L').convert('RGBA').save(os.path.join(modes, 'rgba.png'))
    Image.fromarray(gray, 'L').convert('P').save(os.path.join(modes, 'palette.png'))
    Image.fromarray(gray.astype(np.uint16) * 257).save(os.path.join(modes, 'sixteen.png'))
    os.makedirs(os.path.join(root, 'odd'))
    Image.new('RGB', (65, 32)).save(os.path.join(root, 'odd', 'odd.png'))


def snapshot(*folders: str) -> dict[str, str]:
    """Content hashes of every checkpoint and result file (logs and option files are rewritten on purpose)."""
    hashes = {}
    for folder in folders:
        for base, _, names in os.walk(folder):
            for name in names:
                if name.endswith(('.pth', '.png', '.html', '.json')) and not name.startswith('.'):
                    path = os.path.join(base, name)
                    with open(path, 'rb') as handle:
                        hashes[path] = hashlib.sha256(handle.read()).hexdigest()
    return hashes


@pytest.fixture(scope='module')
def outcomes(tmp_path_factory) -> dict[str, tuple[int, str]]:
    work = tmp_path_factory.mktemp('bad_input')
    data, ck, results = str(work / 'data'), str(work / 'checkpoints'), str(work / 'results')
    write_special_images(data)
    (work / 'file').write_text('a file, not a folder')
    common = ['--name', 'exp', '--checkpoints_dir', ck, *NET]
    prior = [('prior training', 'train', ['--dataroot', data, *common, *ONE_EPOCH], str(work / 'prior_train.log')),
             ('prior test', 'test', ['--dataroot', data, *common, '--results_dir', results], str(work / 'prior_test.log'))]
    assert json.loads(drive(prior)) == {'prior training': 0, 'prior test': 0}, open(work / 'prior_train.log').read()
    before = snapshot(ck, results)
    assert any(path.endswith('latest_train_state.pth') for path in before) and any('results' in p for p in before)

    fill = {'data': data, 'ck': ck, 'file': str(work / 'file')}
    runs = []
    for name, script, extra, code, _ in CASES:
        own = ['--results_dir', results] if script == 'test' else [*ONE_EPOCH, '--overwrite']  # over the prior state
        args = ['--dataroot', data, *common, *own, *[arg.format(**fill) for arg in extra]]
        if code == 0:  # a run that succeeds writes its own, new checkpoints
            args += ['--name', f'converted_{len(runs)}']
        runs.append((name, script, args, str(work / f'{len(runs)}.log')))
    codes = json.loads(drive(runs))
    after = snapshot(ck, results)
    lost = [path for path, digest in before.items() if after.get(path) != digest]
    assert not lost, f'bad input removed or changed earlier outputs: {lost}'
    return {name: (codes[name], open(log).read()) for name, _, _, log in runs} | {'fill': fill}


def drive(runs: list) -> str:
    result = subprocess.run([sys.executable, '-c', DRIVER, json.dumps(runs)], cwd=REPO, capture_output=True,
                            text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize('name, script, extra, expected_code, expected_text', CASES, ids=[case[0] for case in CASES])
def test_bad_input_case(outcomes, name, script, extra, expected_code, expected_text):
    code, stderr = outcomes[name]
    assert code == expected_code, stderr[-2000:]
    assert 'Traceback' not in stderr, stderr[-2000:]
    if expected_text is None:
        return
    last_line = stderr.strip().splitlines()[-1]
    assert last_line.startswith('error: ') and expected_text.format(**outcomes['fill']) in last_line, stderr[-2000:]
    assert sum(line.startswith('error: ') for line in stderr.splitlines()) == 1


def as_rgb_tensor(path) -> torch.Tensor:
    return to_tensor(with_channels(read_image(str(path)), 3, str(path)))


def test_image_modes_convert_to_the_same_rgb(tmp_path):
    """Gray, RGBA, palette and 16-bit (values x 257) files of one picture give the same RGB input in [0, 1]."""
    write_special_images(str(tmp_path))
    expected = as_rgb_tensor(tmp_path / 'modes' / 'gray.png')
    assert expected.shape == (3, 32, 64) and round(float(expected[0, 0, 10]) * 255) == 40
    for name in ('rgba', 'palette', 'sixteen'):
        assert torch.allclose(as_rgb_tensor(tmp_path / 'modes' / f'{name}.png'), expected, atol=1e-6), name
