"""datasets/make_dataset_aligned.py turns <split>A/ + <split>B/ folders into numbered {A|B} jpgs."""
import subprocess
from pathlib import Path

from PIL import Image

from tiny_runs import run_entry

SCRIPT = 'datasets/make_dataset_aligned.py'


def run_align(tmp_path: Path) -> subprocess.CompletedProcess:
    return run_entry(SCRIPT, '--dataset-path', str(tmp_path / 'data'), check=False, cwd=tmp_path, timeout=60)


def save(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (20, 10)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new('RGB', size, colour).save(path)


def close(actual: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    """Colours equal up to JPEG error."""
    return all(abs(a - e) <= 8 for a, e in zip(actual, expected))


def make_split(tmp_path: Path, split: str, count: int) -> None:
    for index in range(count):
        save(tmp_path / 'data' / f'{split}A' / f'p{index}_A.png', (60 * index, 0, 255))
        save(tmp_path / 'data' / f'{split}B' / f'p{index}_B.jpg', (255, 60 * index, 0))


def test_pairs_in_name_order_become_numbered_jpgs_with_A_left(tmp_path: Path) -> None:
    make_split(tmp_path, 'train', 3)
    make_split(tmp_path, 'test', 2)
    result = run_align(tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / 'data' / 'train').iterdir()) == ['0000.jpg', '0001.jpg', '0002.jpg']
    assert sorted(p.name for p in (tmp_path / 'data' / 'test').iterdir()) == ['0000.jpg', '0001.jpg']
    for index in range(3):
        with Image.open(tmp_path / 'data' / 'train' / f'{index:04d}.jpg') as aligned:
            assert aligned.size == (40, 10)
            assert close(aligned.getpixel((5, 5)), (60 * index, 0, 255))
            assert close(aligned.getpixel((25, 5)), (255, 60 * index, 0))


def test_val_split_is_aligned_when_its_folders_exist(tmp_path: Path) -> None:
    make_split(tmp_path, 'train', 1)
    make_split(tmp_path, 'val', 2)
    result = run_align(tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / 'data' / 'val').iterdir())) == 2
    assert not (tmp_path / 'data' / 'test').exists()


def test_unequal_counts_exit_2_with_one_line_and_write_nothing(tmp_path: Path) -> None:
    make_split(tmp_path, 'train', 2)
    make_split(tmp_path, 'test', 2)
    (tmp_path / 'data' / 'testB' / 'p1_B.jpg').unlink()
    result = run_align(tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count('\n') == 0
    assert 'testA/ has 2 images but testB/ has 1' in result.stderr
    assert not (tmp_path / 'data' / 'train').exists()


def test_pair_of_different_sizes_exits_2_naming_both_files(tmp_path: Path) -> None:
    make_split(tmp_path, 'train', 2)
    save(tmp_path / 'data' / 'trainB' / 'p1_B.jpg', (0, 0, 0), size=(8, 8))
    result = run_align(tmp_path)
    assert result.returncode == 2
    assert 'p1_A.png' in result.stderr and 'p1_B.jpg' in result.stderr
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'data' / 'train').exists()


def test_folder_without_partner_exits_2(tmp_path: Path) -> None:
    make_split(tmp_path, 'train', 1)
    (tmp_path / 'data' / 'testA').mkdir()
    result = run_align(tmp_path)
    assert result.returncode == 2
    assert 'testB' in result.stderr and result.stderr.strip().count('\n') == 0


def test_missing_dataset_path_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_align(tmp_path)
    assert result.returncode == 2
    assert '--dataset-path' in result.stderr and result.stderr.strip().count('\n') == 0
