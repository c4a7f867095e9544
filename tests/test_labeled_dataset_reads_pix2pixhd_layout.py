"""--dataset_mode labeled reads pix2pixHD's <phase>_label/_inst/_img folders: IDs come through resizing, cropping
and flipping exactly (nearest neighbour, 16-bit included), with one geometry for the three maps; files pair by name;
--label_nc 0 reads RGB labels; sizes follow the aligned dataset's."""
import argparse
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from data import create_dataset
from data.aligned_dataset import AlignedDataset
from data.base_dataset import get_params
from data.labeled_dataset import add_label_options
from options.test_options import TestOptions
from options.train_options import TrainOptions
from tiny_runs import make_labeled_dataset, write_labeled_sample
from data.base_dataset import sample_rng

PALETTE = np.random.default_rng(0).integers(0, 256, (35, 3), dtype=np.uint8)


def labeled_dataset(root, tmp_path, *flags: str, options=TrainOptions):
    opt = options().parse(['--dataroot', str(root), '--dataset_mode', 'labeled', '--checkpoints_dir',
                           str(tmp_path / 'checkpoints'), '--gpu_ids', '-1', '--num_threads', '0', *flags])
    return create_dataset(opt).dataset


def nearest_rows(new: int, old: int) -> np.ndarray:
    """Source index of each of `new` pixels resized from `old` by nearest neighbour (pixel centres)."""
    return np.minimum(np.floor((np.arange(new) + 0.5) * old / new).astype(int), old - 1)


def expected_map(ids: np.ndarray, opt, params: dict, resized: tuple[int, int]) -> np.ndarray:
    """`ids` resized to `resized` (h, w) by nearest neighbour, cropped and flipped as `params` say, written out."""
    rows = nearest_rows(resized[0], ids.shape[0])
    cols = nearest_rows(resized[1], ids.shape[1])
    out = ids[rows][:, cols]
    if 'crop' in opt.preprocess:
        x, y = params['crop_pos']
        out = out[y:y + opt.crop_size, x:x + opt.crop_size]
    return out[:, ::-1] if params['flip'] and not opt.no_flip else out


@pytest.fixture
def id_maps(tmp_path):
    """Two 40x40 samples: per-pixel random label IDs, and 8-pixel blocks of IDs with an image coloured by ID;
    16-bit instance IDs up to 34,999."""
    rng = np.random.default_rng(1)
    root = tmp_path / 'data'
    noise = rng.integers(0, 35, (40, 40), dtype=np.uint8)
    blocks = np.kron(rng.integers(0, 35, (5, 5), dtype=np.uint8), np.ones((8, 8), dtype=np.uint8))
    maps = {}
    for name, label in (('noise', noise), ('blocks', blocks)):
        inst = (label.astype(np.uint16) * 1000 + rng.integers(0, 1000, label.shape)).astype(np.uint16)
        write_labeled_sample(root, 'train', name, label, inst, PALETTE[label])
        maps[name] = label, inst
    return root, maps


@pytest.mark.parametrize('preprocess, size_flags, resized', [
    ('resize_and_crop', ['--load_size', '45', '--crop_size', '32'], (45, 45)),
    ('scale_width', ['--load_size', '28', '--crop_size', '28'], (28, 28)),
])
def test_ids_come_through_resize_crop_and_flip_exactly_with_one_geometry(id_maps, tmp_path, preprocess, size_flags,
                                                                        resized):
    root, maps = id_maps
    dataset = labeled_dataset(root, tmp_path, '--preprocess', preprocess, *size_flags)
    flips = set()
    for epoch in range(6):
        for index, sample in enumerate(dataset.samples):
            item = dataset[(epoch, index)]
            label, inst = maps['noise' if sample.label.endswith('noise.png') else 'blocks']
            params = get_params(dataset.opt, (40, 40), sample_rng(dataset.seed, epoch, index))
            flips.add(params['flip'])
            assert item['label'].dtype == torch.float32 and item['label'].shape[0] == 1
            assert np.array_equal(item['label'][0].numpy(), expected_map(label, dataset.opt, params, resized))
            assert np.array_equal(item['inst'][0].numpy(), expected_map(inst, dataset.opt, params, resized))
            assert item['image'].shape[1:] == item['label'].shape[1:]
    assert flips == {True, False}


def test_the_image_gets_the_label_maps_crop_and_flip(id_maps, tmp_path):
    """Inside each block of one ID, the image's colour is that ID's colour: image and label are resized, cropped
    and flipped alike."""
    root, _ = id_maps
    dataset = labeled_dataset(root, tmp_path, '--load_size', '45', '--crop_size', '32')
    index = next(i for i, sample in enumerate(dataset.samples) if sample.label.endswith('blocks.png'))
    palette = torch.from_numpy(PALETTE).float() / 127.5 - 1
    for epoch in range(4):
        item = dataset[(epoch, index)]
        label = item['label'][0].long()
        inside = torch.ones_like(label, dtype=torch.bool)  # pixels whose 5x5 neighbourhood has one ID
        padded = torch.nn.functional.pad(label[None, None].float(), (2, 2, 2, 2), mode='replicate')[0, 0]
        for dy in range(5):
            for dx in range(5):
                inside &= padded[dy:dy + 32, dx:dx + 32].long() == label
        assert inside.sum() > 200
        error = (item['image'].permute(1, 2, 0)[inside] - palette[label[inside]]).abs()
        assert error.max() < 0.1 and error.mean() < 0.01  # bicubic ringing, at most 13 grey levels


def test_sixteen_bit_instance_and_label_ids_are_not_rescaled(tmp_path):
    ids = np.array([[0, 1, 255, 256], [26001, 33999, 65534, 65535]], dtype=np.uint16).repeat(4, 0).repeat(4, 1)
    labels = (np.arange(ids.size, dtype=np.uint16).reshape(ids.shape) * 9)  # 16-bit label IDs up to 1143
    write_labeled_sample(tmp_path / 'data', 'train', 'deep', labels, ids, np.zeros((8, 16, 3), np.uint8))
    item = labeled_dataset(tmp_path / 'data', tmp_path, '--preprocess', 'none', '--no_flip',
                           '--label_nc', '1144')[0]
    assert np.array_equal(item['inst'][0].numpy(), ids) and np.array_equal(item['label'][0].numpy(), labels)


def test_files_pair_by_name_not_by_order_cityscapes_suffixes_included(tmp_path):
    """x.png sorts before x1.png but x_leftImg8bit.png after x1_leftImg8bit.png: pairing by order would swap them."""
    root = tmp_path / 'data'
    for folder in ('train_label', 'train_inst', 'train_img'):
        (root / folder).mkdir(parents=True)
    for name, label_name, label_id in (('x', 'x', 3), ('x1', 'x1', 7), ('y', 'y_gtFine_labelIds', 9)):
        Image.fromarray(np.full((32, 32), label_id, np.uint8)).save(root / 'train_label' / f'{label_name}.png')
        Image.fromarray(np.full((32, 32), label_id, np.uint8)).save(
            root / 'train_inst' / f'{name}_gtFine_instanceIds.png')
        Image.fromarray(np.full((32, 32, 3), PALETTE[label_id], np.uint8)).save(
            root / 'train_img' / f'{name}_leftImg8bit.jpg', quality=100)
    dataset = labeled_dataset(root, tmp_path, '--load_size', '32', '--crop_size', '32')
    seen = {}
    for index in range(len(dataset)):
        item = dataset[index]
        label_id = int(item['label'].unique().item())
        seen[item['path'].rsplit('/', 1)[1]] = label_id
        assert int(item['inst'].unique().item()) == label_id
        expected = torch.from_numpy(PALETTE[label_id]).float() / 127.5 - 1
        assert (item['image'].mean((1, 2)) - expected).abs().max() < 0.03
    assert seen == {'x.png': 3, 'x1.png': 7, 'y_gtFine_labelIds.png': 9}


@pytest.mark.parametrize('folders', [('label', 'img'), ('A', 'B')])
def test_label_nc_0_reads_rgb_labels_in_minus_one_to_one(tmp_path, folders):
    """Also from pix2pixHD's <phase>_A/<phase>_B folders, which it uses for --label_nc 0."""
    root = tmp_path / 'data'
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]], np.uint8)
    label = colours[np.arange(32)[:, None] // 8 % 4].repeat(32, 1)
    for kind, pixels in zip(folders, (label, 255 - label)):
        (root / f'train_{kind}').mkdir(parents=True)
        Image.fromarray(pixels).save(root / f'train_{kind}' / 'a.png')
    item = labeled_dataset(root, tmp_path, '--label_nc', '0', '--no_instance', '--preprocess', 'none',
                           '--no_flip')[0]
    assert set(item) == {'label', 'image', 'path'}
    assert item['label'].shape == (3, 32, 32)
    assert torch.equal(item['label'], torch.from_numpy(label).permute(2, 0, 1).float() / 127.5 - 1)
    assert torch.equal(item['image'], -item['label'])


def test_sizes_match_the_aligned_dataset_under_scale_width(tmp_path):
    """A 40x60 (w x h) sample and a 40x60 A|B pair come out the same size under --preprocess scale_width."""
    write_labeled_sample(tmp_path / 'labeled', 'train', 'a', np.zeros((60, 40), np.uint8),
                         np.zeros((60, 40), np.uint16), np.zeros((60, 40, 3), np.uint8))
    (tmp_path / 'aligned').mkdir()
    Image.fromarray(np.zeros((60, 80, 3), np.uint8)).save(tmp_path / 'aligned' / 'a.png')
    flags = ['--preprocess', 'scale_width', '--load_size', '32', '--crop_size', '32']
    dataset = labeled_dataset(tmp_path / 'labeled', tmp_path, *flags)
    item = dataset[0]
    aligned = AlignedDataset(dataset.opt, str(tmp_path / 'aligned'))[0]
    assert item['label'].shape[1:] == item['inst'].shape[1:] == item['image'].shape[1:] == aligned['A'].shape[1:]
    assert aligned['A'].shape[1:] == (48, 32)


def test_no_instance_and_test_time_without_images(tmp_path):
    root = make_labeled_dataset(tmp_path / 'demo', {'test': 2})
    (root / 'test_img').rename(root / 'elsewhere')
    for flags, keys in ((['--label_nc', '12'], {'label', 'inst', 'path'}),
                        (['--label_nc', '12', '--no_instance'], {'label', 'path'})):
        dataset = labeled_dataset(root, tmp_path, *flags, options=TestOptions)
        assert set(dataset[0]) == keys


def test_demo_labeled_layout_loads_in_batches_with_ids_below_label_nc(tmp_path):
    root = make_labeled_dataset(tmp_path / 'demo', {'train': 4})
    opt = TrainOptions().parse(['--dataroot', str(root), '--dataset_mode', 'labeled', '--label_nc', '12',
                                '--checkpoints_dir', str(tmp_path / 'ck'), '--gpu_ids', '-1', '--num_threads', '0',
                                '--batch_size', '2', '--preprocess', 'scale_width', '--load_size', '48',
                                '--crop_size', '48', '--cache_dataset'])
    loader = create_dataset(opt)
    loader.set_epoch(1)
    batches = list(loader)
    assert len(batches) == 2
    for batch in batches:
        label, inst = batch['label'], batch['inst']
        assert label.shape == inst.shape == (2, 1, 48, 48) and batch['image'].shape == (2, 3, 48, 48)
        assert label.max() < 12 and torch.equal(label, label.round())
        openings = (label == 2) | (label == 3)  # windows and doors: class * 1000 + n
        assert torch.equal(torch.div(inst[openings], 1000, rounding_mode='floor'), label[openings])
        assert torch.equal(inst[~openings], label[~openings])


def test_cache_dataset_serves_the_same_items_from_memory(tmp_path):
    root = make_labeled_dataset(tmp_path / 'demo', {'train': 2})
    flags = ['--label_nc', '12', '--load_size', '40', '--crop_size', '32', '--seed', '0']
    fresh = [labeled_dataset(root, tmp_path, *flags)[(3, i)] for i in range(2)]
    cached = labeled_dataset(root, tmp_path, *flags, '--cache_dataset')
    shutil.rmtree(root)
    for index, item in enumerate(fresh):
        again = cached[(3, index)]
        assert item.keys() == again.keys() == {'label', 'inst', 'image', 'path'}
        assert all(torch.equal(item[key], again[key]) for key in ('label', 'inst', 'image'))


def test_palette_label_maps_give_their_indices(tmp_path):
    """A palette PNG's pixels are its palette indices (as in VOC-style label maps), not its colours."""
    ids = np.arange(16, dtype=np.uint8).reshape(4, 4).repeat(2, 0).repeat(2, 1)
    label = Image.fromarray(ids, 'P')
    label.putpalette(np.random.default_rng(2).integers(0, 256, 768, dtype=np.uint8).tobytes())
    write_labeled_sample(tmp_path / 'data', 'train', 'p', ids, ids, np.zeros((8, 8, 3), np.uint8))
    label.save(tmp_path / 'data' / 'train_label' / 'p.png')
    item = labeled_dataset(tmp_path / 'data', tmp_path, '--preprocess', 'none', '--no_flip', '--label_nc', '16')[0]
    assert np.array_equal(item['label'][0].numpy(), ids)


def test_max_dataset_size_and_skip_bad_images_count_whole_samples(tmp_path, capsys):
    root = make_labeled_dataset(tmp_path / 'demo', {'train': 4})
    (root / 'train_inst' / '1.png').write_bytes(b'not a png')
    flags = ['--label_nc', '12', '--load_size', '32', '--crop_size', '32']
    kept = labeled_dataset(root, tmp_path, *flags, '--skip_bad_images')
    assert [sample.label.rsplit('/', 1)[1] for sample in kept.samples] == ['0.png', '2.png', '3.png']
    assert f'warning: skipping {root}/train_inst/1.png' in capsys.readouterr().err
    first = labeled_dataset(root, tmp_path, *flags, '--skip_bad_images', '--max_dataset_size', '2')
    assert [sample.label.rsplit('/', 1)[1] for sample in first.samples] == ['0.png']  # as aligned: first 2, less bad


def test_label_flags_are_defined_once_whoever_asks_first():
    """A model's option setter may define --label_nc/--no_instance (or call add_label_options) before the dataset's."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--label_nc', type=int, default=12)
    add_label_options(add_label_options(parser))
    opt = parser.parse_args(['--no_instance'])
    assert (opt.label_nc, opt.no_instance) == (12, True)
    assert add_label_options(argparse.ArgumentParser()).parse_args([]).label_nc == 35
