"""datasets/combine_A_and_B.py pairs A and B by name into {A|B} images, reporting (not crashing on) strays."""
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tiny_runs import run_entry

SCRIPT = 'datasets/combine_A_and_B.py'
MODES = {'pool': [], 'serial': ['--no_multiprocessing']}


def run_combine(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    return run_entry(SCRIPT, '--fold_A', str(tmp_path / 'A'), '--fold_B', str(tmp_path / 'B'), '--fold_AB',
                     str(tmp_path / 'AB'), *flags, check=False, cwd=tmp_path, timeout=60)


def save(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (16, 12)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new('RGB', size, colour).save(path)


def colour_of(index: int, side: str) -> tuple[int, int, int]:
    """A distinct colour per (image, side), so a wrong pairing is visible in the output."""
    return (40 * index, 200, 0) if side == 'A' else (0, 40 * index, 200)


def make_pairs(tmp_path: Path, split: str, count: int) -> list[str]:
    names = [f'img{index}.png' for index in range(count)]
    for index, name in enumerate(names):
        save(tmp_path / 'A' / split / name, colour_of(index, 'A'))
        save(tmp_path / 'B' / split / name, colour_of(index, 'B'))
    return names


@pytest.mark.parametrize('mode', MODES)
def test_matching_names_become_side_by_side_images_A_left(tmp_path: Path, mode: str) -> None:
    names = make_pairs(tmp_path, 'train', 5)
    make_pairs(tmp_path, 'test', 2)
    result = run_combine(tmp_path, *MODES[mode])
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / 'AB' / 'train').iterdir()) == names
    assert len(list((tmp_path / 'AB' / 'test').iterdir())) == 2
    for index, name in enumerate(names):
        with Image.open(tmp_path / 'AB' / 'train' / name) as combined:
            assert combined.size == (32, 12)
            assert combined.getpixel((3, 3)) == colour_of(index, 'A')
            assert combined.getpixel((16 + 3, 3)) == colour_of(index, 'B')


@pytest.mark.parametrize('mode', MODES)
def test_B_of_another_size_is_resized_to_A(tmp_path: Path, mode: str) -> None:
    save(tmp_path / 'A' / 'train' / 'x.png', (255, 0, 0), size=(20, 10))
    save(tmp_path / 'B' / 'train' / 'x.png', (0, 0, 255), size=(7, 30))
    save(tmp_path / 'A' / 'train' / 'y.png', (255, 0, 0), size=(20, 10))
    save(tmp_path / 'B' / 'train' / 'y.png', (0, 0, 255), size=(20, 10))
    result = run_combine(tmp_path, *MODES[mode])
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / 'AB' / 'train' / 'x.png') as combined:
        assert combined.size == (40, 10)
        assert combined.getpixel((30, 5)) == (0, 0, 255)


@pytest.mark.parametrize('mode', MODES)
def test_file_without_partner_is_reported_and_the_rest_combined(tmp_path: Path, mode: str) -> None:
    make_pairs(tmp_path, 'train', 3)
    save(tmp_path / 'A' / 'train' / 'only_in_A.png', (1, 2, 3))
    save(tmp_path / 'B' / 'train' / 'only_in_B.png', (1, 2, 3))
    result = run_combine(tmp_path, *MODES[mode])
    assert result.returncode == 0, result.stderr
    assert 'Traceback' not in result.stderr
    stray_lines = [line for line in result.stderr.splitlines() if 'no partner' in line]
    assert len(stray_lines) == 2
    assert any('only_in_A.png' in line for line in stray_lines)
    assert any('only_in_B.png' in line for line in stray_lines)
    assert 'skipped 2 files without a partner' in result.stdout
    assert sorted(p.name for p in (tmp_path / 'AB' / 'train').iterdir()) == ['img0.png', 'img1.png', 'img2.png']


def test_use_AB_pairs_suffixed_names_and_drops_the_suffix(tmp_path: Path) -> None:
    for folder in ('A', 'B'):
        save(tmp_path / folder / 'train' / '0001_A.jpg', (250, 0, 0))
        save(tmp_path / folder / 'train' / '0001_B.jpg', (0, 0, 250))
    result = run_combine(tmp_path, '--use_AB', '--no_multiprocessing')
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / 'AB' / 'train').iterdir()] == ['0001.jpg']
    with Image.open(tmp_path / 'AB' / 'train' / '0001.jpg') as combined:
        red, _, blue = combined.getpixel((3, 3))
        assert red > 200 and blue < 50
        red, _, blue = combined.getpixel((19, 3))
        assert blue > 200 and red < 50


def test_num_imgs_caps_each_split(tmp_path: Path) -> None:
    make_pairs(tmp_path, 'train', 5)
    result = run_combine(tmp_path, '--num_imgs', '2', '--no_multiprocessing')
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / 'AB' / 'train').iterdir()) == ['img0.png', 'img1.png']


@pytest.mark.parametrize('missing', ['A', 'B'])
def test_missing_input_folder_is_one_clear_line_and_exit_2(tmp_path: Path, missing: str) -> None:
    make_pairs(tmp_path, 'train', 1)
    (tmp_path / missing / 'train' / 'img0.png').unlink()
    (tmp_path / missing / 'train').rmdir()
    (tmp_path / missing).rmdir()
    result = run_combine(tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count('\n') == 0
    assert f'--fold_{missing}' in result.stderr and 'does not exist' in result.stderr
    assert not (tmp_path / 'AB').exists()


def test_split_missing_from_B_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    make_pairs(tmp_path, 'train', 1)
    save(tmp_path / 'A' / 'val' / 'v.png', (0, 0, 0))
    result = run_combine(tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count('\n') == 0
    assert 'val/' in result.stderr


def test_unreadable_image_is_reported_with_nonzero_exit(tmp_path: Path) -> None:
    make_pairs(tmp_path, 'train', 2)
    for folder in ('A', 'B'):
        (tmp_path / folder / 'train' / 'broken.png').write_text('not an image')
    result = run_combine(tmp_path, '--no_multiprocessing')
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    assert 'broken.png' in result.stderr
    assert (tmp_path / 'AB' / 'train' / 'img1.png').is_file()
