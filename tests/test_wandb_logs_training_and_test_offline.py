"""--use_wandb as the reference's commands use it, run offline: the run read back from its .wandb file holds every
loss, the learning rate, images, validation, and test.py's results and metrics table; without wandb, or without a
login, it is one warning line and the run goes on."""
import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from wandb.proto.wandb_internal_pb2 import Record

from tiny_runs import IMAGE_SIDE, TINY_NET, make_aligned_dataset, run_entry

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

LOSSES = ('G_GAN', 'G_L1', 'D_real', 'D_fake')
LABELS = ('real_A', 'fake_B', 'real_B')
TEST_IMAGES = 2
WARNING = 'warning: --use_wandb'
BLOCK = 32768
HEADER = b':W&B\xe1\xbe\x00'
FULL, LAST = 1, 4


def run_records(run_dir: Path) -> list[Record]:
    """The records of a run's transaction log (run-<id>.wandb: a header, then 32 KiB blocks of chunks, each
    crc32 (4 bytes), length (2), type (1), data), decoded with wandb's own protobuf schema."""
    [log] = run_dir.glob('run-*.wandb')
    data = log.read_bytes()
    assert data[:len(HEADER)] == HEADER
    records, position, pending = [], len(HEADER), b''
    while position + 7 <= len(data):
        if BLOCK - position % BLOCK < 7:
            position += BLOCK - position % BLOCK
            continue
        length, kind = struct.unpack_from('<HB', data, position + 4)
        pending += data[position + 7:position + 7 + length]
        position += 7 + length
        if kind in (FULL, LAST):
            records.append(Record.FromString(pending))
            pending = b''
    return records


def read_run(run_dir: Path) -> tuple[Record, list[dict]]:
    """The run record and each history row as {key: value}, nested keys joined with '/'."""
    records = run_records(run_dir)
    [run] = [record.run for record in records if record.HasField('run')]
    history = [{item.key or '/'.join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
               for record in records if record.HasField('history')]
    return run, history


def logged_image(run_dir: Path, row: dict, key: str) -> Image.Image:
    assert row[f'{key}/_type'] == 'image-file', row
    return Image.open(run_dir / 'files' / row[f'{key}/path'])


@pytest.fixture(scope='module')
def runs(tmp_path_factory) -> dict:
    """Train one epoch and test, both with the reference's wandb flags, offline; the runs' folders and logs."""
    root = tmp_path_factory.mktemp('wandb')
    dataroot = make_aligned_dataset(root / 'data', {'train': 4, 'val': 2, 'test': TEST_IMAGES})
    common = ['--dataroot', str(dataroot), '--name', 'facades_run', '--checkpoints_dir', str(root / 'checkpoints'),
              *TINY_NET, '--use_wandb', '--wandb_project_name', 'pix2pix_tests']
    env = {'WANDB_MODE': 'offline', 'WANDB_DIR': str(root), 'WANDB_SILENT': 'true'}
    train = run_entry('train.py', *common, '--n_epochs', '1', '--n_epochs_decay', '0', '--display_id', '0',
                      '--print_freq', '1', '--display_freq', '2', '--no_html', cwd=root, env=env)
    test = run_entry('test.py', *common, '--results_dir', str(root / 'results'), cwd=root, env=env)
    train_dir, test_dir = sorted((root / 'wandb').glob('offline-run-*'))
    return {'root': root, 'train': train_dir, 'test': test_dir, 'stderr': train.stderr + test.stderr,
            'loss_log': root / 'checkpoints' / 'facades_run' / 'loss_log.txt',
            'metrics': root / 'results' / 'facades_run' / 'test_latest' / 'metrics.json'}


def test_training_run_holds_every_loss_the_learning_rate_images_and_validation(runs):
    run, history = read_run(runs['train'])
    assert (run.display_name, run.project, run.job_type) == ('facades_run', 'pix2pix_tests', 'train')
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert config['name'] == 'facades_run' and config['netG'] == 'resnet_6blocks' and config['use_wandb'] is True
    logged = [[float(value) for value in re.findall(r'(?:G_GAN|G_L1|D_real|D_fake): (\S+)', line)]
              for line in runs['loss_log'].read_text().splitlines() if line.startswith('(epoch')]
    loss_rows = [row for row in history if 'G_GAN' in row]
    np.testing.assert_allclose([[row[name] for name in LOSSES] for row in loss_rows], logged, atol=5e-4)
    assert len(loss_rows) == 4 and all(row['learning_rate'] == pytest.approx(2e-4) for row in loss_rows)
    image_rows = [row for row in history if 'fake_B/_type' in row]
    assert len(image_rows) == 2
    for label in LABELS:
        assert logged_image(runs['train'], image_rows[-1], label).size == (IMAGE_SIDE, IMAGE_SIDE)
    [validation] = [row for row in history if 'val/L1' in row]
    assert {'val/PSNR', 'val/SSIM'} <= set(validation) and validation['val/fake_B/_type'] == 'images/separated'
    assert WARNING not in runs['stderr']


def test_test_run_holds_every_result_image_and_the_metrics_table(runs):
    run, history = read_run(runs['test'])
    assert (run.display_name, run.project, run.job_type) == ('facades_run', 'pix2pix_tests', 'test')
    image_rows = [row for row in history if 'fake_B/_type' in row]
    assert len(image_rows) == TEST_IMAGES
    for row in image_rows:
        for label in LABELS:
            assert logged_image(runs['test'], row, label).size == (IMAGE_SIDE, IMAGE_SIDE)
    [table_row] = [row for row in history if 'metrics/_type' in row]
    table = json.loads((runs['test'] / 'files' / table_row['metrics/path']).read_text())
    assert table['columns'] == ['image', 'L1', 'PSNR (dB)', 'SSIM']
    expected = json.loads(runs['metrics'].read_text())['images']
    assert [row[0] for row in table['data']] == [entry['name'] for entry in expected]
    np.testing.assert_allclose([row[1:] for row in table['data']],
                               [[entry['l1'], entry['psnr'], entry['ssim']] for entry in expected], rtol=1e-6)


def test_without_wandb_or_a_login_one_warning_line_and_the_run_goes_on(runs, tmp_path):
    """A `wandb` that cannot be imported (shadowed on PYTHONPATH), then online mode with no API key."""
    shadow = tmp_path / 'shadow' / 'wandb'
    shadow.mkdir(parents=True)
    (shadow / '__init__.py').write_text("raise ImportError('No module named wandb')\n")
    common = ['--dataroot', str(runs['root'] / 'data'), '--name', 'facades_run', '--use_wandb', *TINY_NET,
              '--checkpoints_dir', str(runs['root'] / 'checkpoints')]
    missing = run_entry('test.py', *common, '--results_dir', str(tmp_path / 'a'), cwd=tmp_path,
                        env={'PYTHONPATH': str(shadow.parent)})
    no_login = run_entry('test.py', *common, '--results_dir', str(tmp_path / 'b'), cwd=tmp_path,
                         env={'WANDB_MODE': 'online', 'WANDB_API_KEY': '', 'HOME': str(tmp_path),
                              'WANDB_DIR': str(tmp_path), 'NETRC': str(tmp_path / 'netrc')})
    for result, reason in ((missing, 'wandb package is not installed'), (no_login, 'wandb could not start a run')):
        warnings = [line for line in result.stderr.splitlines() if WARNING in line]
        assert len(warnings) == 1 and reason in warnings[0], result.stderr[-2000:]
        assert 'Traceback' not in result.stderr
    assert (tmp_path / 'a' / 'facades_run' / 'test_latest' / 'index.html').exists()
    assert (tmp_path / 'b' / 'facades_run' / 'test_latest' / 'index.html').exists()


def test_a_resumed_training_run_logs_to_the_same_wandb_run(tmp_path):
    """The run's id is kept in the experiment folder: --continue_train goes on logging to that run, --overwrite
    starts a new one."""
    dataroot = make_aligned_dataset(tmp_path / 'data', {'train': 2}, seed=6)
    common = ['--dataroot', str(dataroot), '--name', 'resumed', '--checkpoints_dir', str(tmp_path / 'checkpoints'),
              *TINY_NET, '--use_wandb', '--no_html', '--print_freq', '1', '--n_epochs_decay', '0']
    env = {'WANDB_MODE': 'offline', 'WANDB_DIR': str(tmp_path), 'WANDB_SILENT': 'true'}
    for extra in (['--n_epochs', '1'], ['--n_epochs', '2', '--continue_train'], ['--n_epochs', '1', '--overwrite']):
        run_entry('train.py', *common, *extra, cwd=tmp_path, env=env)
    first, resumed, again = (read_run(folder)[0].run_id for folder in sorted((tmp_path / 'wandb').glob('offline-run-*')))
    assert first == resumed != again
    assert (tmp_path / 'checkpoints' / 'resumed' / 'wandb_run_id.txt').read_text().strip() == again
