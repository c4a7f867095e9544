"""pix2pixHD's scripts/*.sh run here as written, with --model pix2pixhd and small-size flags appended, in their
order (512p, then 1024p from it; encode_features.py before the feature test; precompute_feature_maps.py before the
1024p feature training), on a generated tree named as pix2pixHD's datasets/cityscapes; then predict.py --styles."""
import shlex

import numpy as np
import pytest
import torch
from PIL import Image

from tiny_runs import make_cityscapes_tree, run_entry
from models.feature_clusters import read_feature_file
from util import checkpoint

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

# The commands of NVIDIA/pix2pixHD's scripts, in the order they build on each other.
SCRIPTS = [
    ('train_512p.sh', ['python train.py --name label2city_512p']),
    ('test_512p.sh', ['python test.py --name label2city_512p']),
    ('train_512p_feat.sh', ['python train.py --name label2city_512p_feat --instance_feat']),
    ('test_512p_feat.sh', ['python encode_features.py --name label2city_512p_feat',
                           'python test.py --name label2city_512p_feat --instance_feat']),
    ('train_1024p_24G.sh', ['python train.py --name label2city_1024p --netG local --ngf 32 --num_D 3 --load_pretrain '
                            'checkpoints/label2city_512p/ --niter 50 --niter_decay 50 --niter_fix_global 10 '
                            '--resize_or_crop none']),
    ('train_1024p_feat_24G.sh', ['python precompute_feature_maps.py --name label2city_512p_feat',
                                 'python train.py --name label2city_1024p_feat --netG local --ngf 32 --num_D 3 '
                                 '--load_pretrain checkpoints/label2city_512p_feat/ --niter 50 --niter_decay 50 '
                                 '--niter_fix_global 10 --resize_or_crop none --instance_feat --load_features']),
    ('test_1024p.sh', ['python test.py --name label2city_1024p --netG local --ngf 32 --resize_or_crop none']),
]
SMALL = ['--model', 'pix2pixhd', '--loadSize', '64']
SMALL_TRAINING = [*SMALL, '--ngf', '8', '--ndf', '8', '--niter', '1', '--niter_decay', '0', '--no_vgg_loss',
                  '--n_downsample_global', '2', '--n_blocks_global', '1', '--nef', '4', '--n_downsample_E', '2',
                  '--display_id', '0', '--num_threads', '0']


def small_flags(command: list[str]) -> list[str]:
    """What each command gets appended: the small networks (the local generator half as wide) and 64 px images."""
    flags = SMALL_TRAINING if command[1] == 'train.py' else SMALL
    return flags + (['--ngf', '4'] if 'local' in command else [])


@pytest.fixture(scope='module')
def scripts_run(tmp_path_factory):
    """Each script's commands run in a folder holding datasets/cityscapes/; their outputs by script name."""
    root = tmp_path_factory.mktemp('pix2pixhd_scripts')
    make_cityscapes_tree(root, {'train': 3, 'test': 2})
    outputs = {}
    for script, lines in SCRIPTS:
        outputs[script] = ''
        for line in lines:
            command = shlex.split(line)
            result = run_entry(command[1], *command[2:], *small_flags(command), cwd=root)
            outputs[script] += result.stdout + result.stderr
    return root, outputs


def test_each_script_runs_and_leaves_what_the_next_one_reads(scripts_run):
    root, outputs = scripts_run
    checkpoints, data = root / 'checkpoints', root / 'datasets' / 'cityscapes'
    assert (checkpoints / 'label2city_512p' / 'latest_net_G.pth').is_file()
    assert not (checkpoints / 'label2city_512p' / 'latest_net_E.pth').exists()
    for name in ('label2city_512p', 'label2city_512p_feat', 'label2city_1024p'):
        assert len(list((root / 'results' / name / 'test_latest' / 'images').glob('*_fake_B.png'))) == 2
    assert (checkpoints / 'label2city_512p_feat' / 'latest_net_E.pth').is_file()
    centres = read_feature_file(str(checkpoints / 'label2city_512p_feat' / 'features_clustered_010.npy'), 3, 'feat_num')
    assert len(centres[26]) >= 2 and (checkpoints / 'label2city_512p_feat' / 'features.npy').is_file()
    assert '--load_pretrain: loaded' in outputs['train_1024p_24G.sh']
    assert 'only the local enhancer model1_* trains for the first 10 epoch(s)' in outputs['train_1024p_24G.sh']
    features = sorted((data / 'train_feat').iterdir())
    labels = sorted((data / 'train_label').iterdir())
    assert [path.name for path in features] == [path.name for path in labels]
    assert all(Image.open(f).size == Image.open(label).size and Image.open(f).mode == 'RGB'
               for f, label in zip(features, labels))
    kept = checkpoint.load_weights(str(checkpoints / 'label2city_1024p_feat' / 'latest_net_E.pth'))
    trained = checkpoint.load_weights(str(checkpoints / 'label2city_512p_feat' / 'latest_net_E.pth'))
    assert kept.keys() == trained.keys() and all(torch.equal(kept[key], trained[key]) for key in kept)


def predict_styles(root, output: str, seed: int) -> list[np.ndarray]:
    data = root / 'datasets' / 'cityscapes'
    run_entry('predict.py', '--name', 'label2city_512p_feat', '--input', str(data / 'test_label'), '--instances',
              str(data / 'test_inst'), '--output', str(root / output), '--styles', '2', '--seed', str(seed), cwd=root)
    stem = 'frankfurt_000000_000019_gtFine_labelIds'
    return [np.asarray(Image.open(root / output / f'{stem}_style{k}.png'), dtype=float) for k in range(2)]


def test_predict_styles_differ_inside_clustered_instances_and_repeat_with_the_seed(scripts_run):
    root, _ = scripts_run
    first, second = predict_styles(root, 'styles', seed=3)
    labels = np.asarray(Image.open(root / 'datasets' / 'cityscapes' / 'test_label' /
                                   'frankfurt_000000_000019_gtFine_labelIds.png'))
    cars = labels == 26
    assert np.abs(first - second)[cars].mean() > 2  # grey levels: another cluster centre for the cars
    again, _ = predict_styles(root, 'again', seed=3)
    assert np.abs(again - first).max() <= 1
