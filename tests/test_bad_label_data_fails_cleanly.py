"""Bad data in pix2pixHD's labeled layout ends train.py with one `error:` line naming the file and exit code 2:
an ID not below --label_nc, a file without its partner, sizes that differ, a missing or empty label folder."""
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from test_bad_input_fails_cleanly import NET, ONE_EPOCH, drive
from tiny_runs import make_labeled_dataset

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

# (name, flags, how to spoil a copy of a good 2-sample dataset (0.png, 1.png; IDs below 12), text of the error
# line, {root} being that copy). Errors found when loading come from 0.png, the first sample under --serial_batches.
CASES = [
    ('label ID not below --label_nc', [], 'raise train_label/0.png',
     'label map {root}/train_label/0.png holds ID 12, not below --label_nc 12'),
    ('label ID out of range in a loader worker', ['--num_threads', '1'], 'raise train_label/0.png',
     'label map {root}/train_label/0.png holds ID 12, not below --label_nc 12'),
    ('label without instance map', [], 'remove train_inst/1.png',
     'label map {root}/train_label/1.png has no instance map'),
    ('label without image', [], 'remove train_img/1.png', 'label map {root}/train_label/1.png has no image'),
    ('image without label', [], 'add train_img/2.png', 'image {root}/train_img/2.png has no label map'),
    ('instance map without label', [], 'add train_inst/2.png',
     'instance map {root}/train_inst/2.png has no label map'),
    ('two images of one name', [], 'add train_img/1.jpg', '{root}/train_img/1.jpg and {root}/train_img/1.png pair by the same name'),
    ('instance map of another size', [], 'shrink train_inst/1.png',
     '{root}/train_inst/1.png is 24x24 but its label map {root}/train_label/1.png is 32x32'),
    ('image of another size', [], 'shrink train_img/0.png',
     '{root}/train_img/0.png is 24x24 but its label map {root}/train_label/0.png is 32x32'),
    ('empty label folder', [], 'empty train_label', '{root}/train_label holds no images'),
    ('no label folder', [], 'remove train_label', '{root}/train_label is not a folder'),
    ('no instance folder without --no_instance', [], 'remove train_inst',
     '{root}/train_inst is not a folder; add the instance maps there, or pass --no_instance'),
    ('no image folder in training', [], 'remove train_img', '{root}/train_img is not a folder'),
    ('colour label map with --label_nc above 0', [], 'colour train_label/0.png',
     '{root}/train_label/0.png is not a single-channel ID map'),
]


def spoil(root, how: str) -> None:
    action, _, target = how.partition(' ')
    path = root / target
    if action == 'remove':
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    elif action == 'add':
        shutil.copy(root / target.split('/')[0] / '0.png', path)
    elif action == 'shrink':
        with Image.open(path) as image:
            image.resize((24, 24), Image.Resampling.NEAREST).save(path)
    elif action == 'empty':
        shutil.rmtree(path)
        path.mkdir()
    elif action == 'raise':
        ids = np.array(Image.open(path))
        ids[5, 7] = 12
        Image.fromarray(ids).save(path)
    elif action == 'colour':
        with Image.open(path) as image:
            image.convert('RGB').save(path)


@pytest.fixture(scope='module')
def outcomes(tmp_path_factory) -> dict[str, tuple[int, str, str]]:
    work = tmp_path_factory.mktemp('bad_labels')
    good = make_labeled_dataset(work / 'good', {'train': 2})
    runs, roots = [], {}
    for index, (name, flags, how, _) in enumerate(CASES):
        root = work / f'case{index}'
        shutil.copytree(good, root)
        spoil(root, how)
        roots[name] = str(root)
        args = ['--dataroot', str(root), '--dataset_mode', 'labeled', '--label_nc', '12', '--name', f'case{index}',
                '--checkpoints_dir', str(work / 'checkpoints'), '--serial_batches', *NET, *ONE_EPOCH, *flags]
        runs.append((name, 'train', args, str(work / f'{index}.log')))
    codes = json.loads(drive(runs))
    return {name: (codes[name], open(log).read(), roots[name]) for name, _, _, log in runs}


@pytest.mark.parametrize('name, expected_text', [(case[0], case[3]) for case in CASES], ids=[case[0] for case in CASES])
def test_bad_label_data_is_one_line_naming_the_file(outcomes, name, expected_text):
    code, stderr, root = outcomes[name]
    assert code == 2, stderr[-2000:]
    assert 'Traceback' not in stderr, stderr[-2000:]
    errors = [line for line in stderr.splitlines() if line.startswith('error: ')]
    assert len(errors) == 1 and stderr.strip().splitlines()[-1] == errors[0], stderr[-2000:]
    assert expected_text.format(root=root) in errors[0], stderr[-2000:]
