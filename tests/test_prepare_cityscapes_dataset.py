"""datasets/prepare_cityscapes_dataset.py on a small tree with Cityscapes' names: photo|colour-map pairs as the
reference writes them, pix2pixHD's labeled folders with exactly the source's IDs, and one line for a tree that does not match."""
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tiny_runs import run_entry

SCRIPT = 'datasets/prepare_cityscapes_dataset.py'
FRAMES = {'train': ['aachen_000000_000019', 'aachen_000001_000019', 'bochum_000000_000313'],
          'val': ['frankfurt_000000_000294', 'frankfurt_000001_000538']}
WIDTH, HEIGHT = 64, 32


def city_of(name: str) -> str:
    return name.split('_')[0]


def write_tree(root: Path) -> dict[str, dict[str, np.ndarray]]:
    """leftImg8bit/ and gtFine/ for FRAMES (plus a test split that must be ignored): random photos, per-pixel random
    label IDs (0-33), instance IDs as Cityscapes stores them (label * 1000 + k for things, 16-bit) and colour maps."""
    rng = np.random.default_rng(0)
    palette = rng.integers(0, 256, (34, 3), dtype=np.uint8)
    arrays = {}
    for split, names in {**FRAMES, 'test': ['berlin_000000_000019']}.items():
        for name in names:
            label = rng.integers(0, 34, (HEIGHT, WIDTH), dtype=np.uint8)
            inst = np.where(label >= 24, label.astype(np.uint16) * 1000 + rng.integers(0, 4, label.shape), label).astype(np.uint16)
            frame = {'photo': rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8), 'color': palette[label],
                     'label': label, 'inst': inst}
            for folder, suffix, key in (('leftImg8bit', 'leftImg8bit', 'photo'), ('gtFine', 'gtFine_color', 'color'),
                                        ('gtFine', 'gtFine_labelIds', 'label'), ('gtFine', 'gtFine_instanceIds', 'inst')):
                path = root / folder / split / city_of(name) / f'{name}_{suffix}.png'
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(frame[key]).save(path)
            arrays[name] = frame
    return arrays


@pytest.fixture
def tree(tmp_path) -> dict[str, dict[str, np.ndarray]]:
    return write_tree(tmp_path)


def prepare(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    return run_entry(SCRIPT, '--gtFine_dir', str(tmp_path / 'gtFine'), '--leftImg8bit_dir', str(tmp_path / 'leftImg8bit'),
                     '--output_dir', str(tmp_path / 'out'), *flags, check=False, timeout=60)


def resized(array: np.ndarray, side: int) -> np.ndarray:
    return np.asarray(Image.fromarray(array).resize((side, side), Image.Resampling.BICUBIC)).astype(int)


def test_pix2pix_layout_writes_512x256_pairs_photo_left_val_as_test(tmp_path, tree):
    result = prepare(tmp_path)
    assert result.returncode == 0, result.stderr
    for split, phase in (('train', 'train'), ('val', 'test')):
        assert sorted(path.name for path in (tmp_path / 'out' / phase).iterdir()) == [f'{i}.jpg' for i in range(len(FRAMES[split]))]
        for index, name in enumerate(FRAMES[split]):
            pair = np.asarray(Image.open(tmp_path / 'out' / phase / f'{index}.jpg')).astype(int)
            assert pair.shape == (256, 512, 3)
            photo, colour_map = resized(tree[name]['photo'], 256), resized(tree[name]['color'], 256)
            assert np.abs(pair[:, :256] - photo).mean() < 2 and np.abs(pair[:, 256:] - colour_map).mean() < 2
            assert np.abs(pair[:, :256] - colour_map).mean() > 20
            photo_half = np.asarray(Image.open(tmp_path / 'out' / f'{phase}A' / f'{index}_A.jpg')).astype(int)
            map_half = np.asarray(Image.open(tmp_path / 'out' / f'{phase}B' / f'{index}_B.jpg')).astype(int)
            assert np.abs(photo_half - photo).mean() < 2 and np.abs(map_half - colour_map).mean() < 2


def read_back(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_labeled_layout_keeps_every_id_at_full_resolution(tmp_path, tree):
    result = prepare(tmp_path, '--layout', 'labeled')
    assert result.returncode == 0, result.stderr
    for split, phase in (('train', 'train'), ('val', 'test')):
        for kind, suffix in (('img', 'leftImg8bit'), ('label', 'gtFine_labelIds'), ('inst', 'gtFine_instanceIds')):
            assert sorted(path.name for path in (tmp_path / 'out' / f'{phase}_{kind}').iterdir()) == \
                [f'{name}_{suffix}.png' for name in FRAMES[split]]
        for name in FRAMES[split]:
            out = tmp_path / 'out'
            assert np.array_equal(read_back(out / f'{phase}_img' / f'{name}_leftImg8bit.png'), tree[name]['photo'])
            label = read_back(out / f'{phase}_label' / f'{name}_gtFine_labelIds.png')
            assert label.dtype == np.uint8 and np.array_equal(label, tree[name]['label'])
            inst = read_back(out / f'{phase}_inst' / f'{name}_gtFine_instanceIds.png')
            assert inst.dtype == np.uint16 and inst.max() > 24000 and np.array_equal(inst, tree[name]['inst'])


def test_labeled_layout_resizes_ids_by_nearest_neighbour(tmp_path, tree):
    result = prepare(tmp_path, '--layout', 'labeled', '--size', str(WIDTH // 2), '--no_multiprocessing')
    assert result.returncode == 0, result.stderr
    name = FRAMES['train'][2]
    assert Image.open(tmp_path / 'out' / 'train_img' / f'{name}_leftImg8bit.png').size == (WIDTH // 2, HEIGHT // 2)
    for kind, suffix in (('label', 'gtFine_labelIds'), ('inst', 'gtFine_instanceIds')):
        ids = read_back(tmp_path / 'out' / f'train_{kind}' / f'{name}_{suffix}.png')
        assert np.array_equal(ids, tree[name][kind][1::2, 1::2])  # the source pixel under each output pixel's centre


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2 and result.stdout == ''
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_photo_without_its_colour_map_is_one_line_and_nothing_is_written(tmp_path, tree):
    missing = tmp_path / 'gtFine' / 'val' / 'frankfurt' / 'frankfurt_000001_000538_gtFine_color.png'
    missing.unlink()
    line = one_error_line(prepare(tmp_path))
    photo = tmp_path / 'leftImg8bit' / 'val' / 'frankfurt' / 'frankfurt_000001_000538_leftImg8bit.png'
    assert line.startswith(f'error: {photo} has no partner {missing} (1 file(s) without one); the gtFine and leftImg8bit trees do not match')
    assert not (tmp_path / 'out').exists()


def test_a_label_map_without_its_photo_and_a_missing_instance_map_are_one_line(tmp_path, tree):
    (tmp_path / 'leftImg8bit' / 'train' / 'bochum' / 'bochum_000000_000313_leftImg8bit.png').unlink()
    assert 'bochum_000000_000313_gtFine_color.png has no partner' in one_error_line(prepare(tmp_path))
    write_tree(tmp_path)
    (tmp_path / 'gtFine' / 'train' / 'aachen' / 'aachen_000001_000019_gtFine_instanceIds.png').unlink()
    assert 'aachen_000001_000019_gtFine_instanceIds.png' in one_error_line(prepare(tmp_path, '--layout', 'labeled'))


def test_a_misnamed_file_or_a_missing_split_is_one_line(tmp_path, tree):
    stray = tmp_path / 'leftImg8bit' / 'train' / 'aachen' / 'bochum_000009_000019_leftImg8bit.png'
    Image.new('RGB', (WIDTH, HEIGHT)).save(stray)
    assert f'{stray} is not named aachen_<seq>_<frame>_leftImg8bit.png' in one_error_line(prepare(tmp_path))
    stray.unlink()
    result = prepare(tmp_path, '--gtFine_dir', str(tmp_path / 'gtFine' / 'train'))
    assert 'has no train/ folder; give the unzipped Cityscapes folder that holds train/ and val/' in one_error_line(result)
