"""datasets/make_demo_dataset.py: seeded, byte-identical, facades-layout {photo|labels} images, and with
--layout labeled the same facades as class IDs, instance IDs and photos."""
import hashlib
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tiny_runs import run_entry

SCRIPT = 'datasets/make_demo_dataset.py'
SIZE = 32
COUNTS = {'train': 6, 'val': 2, 'test': 3}
# The CMP Facades label colours (jet colormap over the 12 classes), in class order.
PALETTE_IN_ORDER = np.array([(0, 0, 170), (0, 0, 255), (0, 85, 255), (0, 170, 255), (0, 255, 255), (85, 255, 170),
                             (170, 255, 85), (255, 255, 0), (255, 170, 0), (255, 85, 0), (255, 0, 0), (170, 0, 0)],
                            dtype=np.uint8)
CMP_PALETTE = {tuple(int(c) for c in colour) for colour in PALETTE_IN_ORDER}


def generate(out: Path, *flags: str) -> subprocess.CompletedProcess:
    return run_entry(SCRIPT, '--out', str(out), '--size', str(SIZE), '--num_train', str(COUNTS['train']), '--num_val',
                     str(COUNTS['val']), '--num_test', str(COUNTS['test']), *flags, check=False, cwd=out.parent, timeout=60)


def file_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob('*.png'))}


def halves(path: Path) -> list[np.ndarray]:
    with Image.open(path) as image:
        pixels = np.asarray(image.convert('RGB'))
    return [pixels[:, :SIZE], pixels[:, SIZE:]]


@pytest.fixture(scope='module')
def seed0(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp('demo') / 'seed0'
    result = generate(out)
    assert result.returncode == 0, result.stderr
    return out


def test_same_seed_gives_byte_identical_files(seed0: Path, tmp_path: Path) -> None:
    again = tmp_path / 'again'
    assert generate(again).returncode == 0
    assert file_bytes(again) == file_bytes(seed0)


def test_different_seed_gives_different_images(seed0: Path, tmp_path: Path) -> None:
    other = tmp_path / 'seed1'
    assert generate(other, '--seed', '1').returncode == 0
    first, second = file_bytes(seed0), file_bytes(other)
    assert first.keys() == second.keys()
    assert all(first[name] != second[name] for name in first)


def test_splits_hold_the_requested_counts(seed0: Path) -> None:
    for split, count in COUNTS.items():
        assert sorted(p.name for p in (seed0 / split).iterdir()) == sorted(f'{i}.png' for i in range(count))


def test_images_are_rgb_and_twice_as_wide_as_high(seed0: Path) -> None:
    for path in seed0.rglob('*.png'):
        with Image.open(path) as image:
            assert image.mode == 'RGB' and image.size == (2 * SIZE, SIZE)


def test_right_half_is_a_label_map_in_cmp_palette_colours(seed0: Path) -> None:
    for path in seed0.rglob('*.png'):
        _, labels = halves(path)
        colours = {tuple(c) for c in labels.reshape(-1, 3)}
        assert colours <= CMP_PALETTE
        assert len(colours) >= 4, f'{path} has too few classes to be a facade'


def test_left_half_is_a_photo_not_a_recoloured_label_map(seed0: Path) -> None:
    for path in seed0.rglob('*.png'):
        photo, labels = halves(path)
        assert not np.array_equal(photo, labels)
        wall = np.all(labels == (0, 0, 255), axis=-1)
        wall_colours = {tuple(c) for c in photo[wall]}
        assert len(wall_colours) > 10, f'{path}: the wall is a flat colour, so the task is a lookup'


def test_same_label_renders_in_different_colours_across_images(seed0: Path) -> None:
    mean_wall_colours = set()
    for path in sorted((seed0 / 'train').glob('*.png')):
        photo, labels = halves(path)
        wall = np.all(labels == (0, 0, 255), axis=-1)
        mean_wall_colours.add(tuple((photo[wall].mean(axis=0) // 8).astype(int)))
    assert len(mean_wall_colours) >= 3


def test_regenerating_with_fewer_images_removes_the_extra_ones(tmp_path: Path) -> None:
    out = tmp_path / 'demo'
    assert generate(out).returncode == 0
    assert generate(out, '--num_train', '2').returncode == 0
    assert sorted(p.name for p in (out / 'train').iterdir()) == ['0.png', '1.png']


def test_default_output_is_datasets_demo_facades_under_the_working_directory(tmp_path: Path) -> None:
    result = run_entry(SCRIPT, '--num_train', '1', '--num_val', '1', '--num_test', '1', check=False, cwd=tmp_path,
                       timeout=60)
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / 'datasets' / 'demo_facades' / 'train' / '0.png') as image:
        assert image.size == (128, 64)


def test_too_small_size_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    result = generate(tmp_path / 'demo', '--size', '4')
    assert result.returncode == 2
    assert result.stderr.strip().count('\n') == 0 and '--size' in result.stderr
    assert not (tmp_path / 'demo').exists()


# sha256 of the decoded pixels of the seed-0 files above, from the script before --layout labeled existed.
ALIGNED_PIXELS_SHA256 = '6dd11a0725f1f205d20dfe436702b36b0604b42b0e74afb4ca504ca3cab4735a'
LABEL_FOLDERS = [f'{split}_{kind}' for split in COUNTS for kind in ('label', 'inst', 'img')]


def pixels_digest(out: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(out.rglob('*.png')):
        digest.update(str(path.relative_to(out)).encode())
        with Image.open(path) as image:
            digest.update(np.asarray(image).tobytes())
    return digest.hexdigest()


def test_aligned_layout_is_unchanged_by_the_labeled_one(seed0: Path) -> None:
    assert pixels_digest(seed0) == ALIGNED_PIXELS_SHA256


@pytest.fixture(scope='module')
def labeled0(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp('demo') / 'labeled0'
    result = generate(out, '--layout', 'labeled')
    assert result.returncode == 0, result.stderr
    return out


def read(path: Path) -> tuple[str, np.ndarray]:
    with Image.open(path) as image:
        return image.mode, np.asarray(image)


def test_labeled_layout_same_seed_same_files_other_seed_other_files(labeled0: Path, tmp_path: Path) -> None:
    assert sorted(p.name for p in labeled0.iterdir()) == sorted(LABEL_FOLDERS)
    assert generate(tmp_path / 'again', '--layout', 'labeled').returncode == 0
    assert file_bytes(tmp_path / 'again') == file_bytes(labeled0)
    assert generate(tmp_path / 'other', '--layout', 'labeled', '--seed', '1').returncode == 0
    other = file_bytes(tmp_path / 'other')
    assert other.keys() == file_bytes(labeled0).keys() and all(other[n] != file_bytes(labeled0)[n] for n in other)


def test_labeled_layout_holds_the_aligned_facades_as_ids(labeled0: Path, seed0: Path) -> None:
    """The photo and label map of each aligned image, the labels as class IDs 0..11."""
    for split, count in COUNTS.items():
        for index in range(count):
            photo, colours = halves(seed0 / split / f'{index}.png')
            label_mode, labels = read(labeled0 / f'{split}_label' / f'{index}.png')
            img_mode, image = read(labeled0 / f'{split}_img' / f'{index}.png')
            assert (label_mode, img_mode) == ('L', 'RGB') and labels.max() < 12
            assert np.array_equal(PALETTE_IN_ORDER[labels], colours) and np.array_equal(image, photo)


def test_every_window_and_door_has_its_own_instance_id(labeled0: Path) -> None:
    """16-bit instance maps: class * 1000 + n on windows (2) and doors (3), the class ID elsewhere."""
    for path in sorted(labeled0.glob('*_inst/*.png')):
        mode, instances = read(path)
        _, labels = read(path.parent.parent / path.parent.name.replace('_inst', '_label') / path.name)
        assert mode == 'I;16' and instances.shape == labels.shape
        openings = np.isin(labels, (2, 3))
        assert np.array_equal(instances[openings] // 1000, labels[openings])
        assert np.array_equal(instances[~openings], labels[~openings])
        assert set(np.unique(instances[labels == 3])) == {3000}, f'{path}: one door'
        assert len(np.unique(instances[labels == 2])) >= 4, f'{path}: windows share instance IDs'


def test_labeled_layout_goes_to_its_own_default_folder(tmp_path: Path) -> None:
    result = run_entry(SCRIPT, '--layout', 'labeled', '--num_train', '1', '--num_val', '0', '--num_test', '0', check=False,
                       cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / 'datasets' / 'demo_facades_labeled' / 'train_label' / '0.png').is_file()
