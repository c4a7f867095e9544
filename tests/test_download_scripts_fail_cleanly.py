"""The dataset and model download scripts fail with one clear line and leave no partial files behind."""
import functools
import io
import subprocess
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator, NamedTuple

import pytest

from tiny_runs import REPO

UNREACHABLE = 'http://127.0.0.1:9/'


class Downloader(NamedTuple):
    script: Path
    url_variable: str
    good_name: str
    valid_names: str
    output_root: str  # folder the script writes into, relative to its working directory


DATASET = Downloader(REPO / 'datasets' / 'download_pix2pix_dataset.sh', 'PIX2PIX_DATASET_URL', 'facades',
                     'cityscapes, night2day, edges2handbags, edges2shoes, facades, maps', 'datasets')
MODEL = Downloader(REPO / 'scripts' / 'download_pix2pix_model.sh', 'PIX2PIX_MODEL_URL', 'facades_label2photo',
                   'edges2shoes, sat2map, map2sat, facades_label2photo, day2night', 'checkpoints')
DOWNLOADERS = {'dataset': DATASET, 'model': MODEL}


def run_script(downloader: Downloader, cwd: Path, *args: str, url: str = UNREACHABLE) -> subprocess.CompletedProcess:
    env = {'PATH': '/usr/local/bin:/usr/bin:/bin', downloader.url_variable: url}
    return subprocess.run(['bash', str(downloader.script), *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=60)


def all_entries(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob('*'))


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class Server(NamedTuple):
    url: str
    folder: Path  # the files it serves


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A local HTTP server for the files in tmp_path/served."""
    served = tmp_path / 'served'
    served.mkdir()
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(QuietHandler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    yield Server(f'http://127.0.0.1:{httpd.server_port}/', served)
    httpd.shutdown()
    httpd.server_close()


def write_dataset_tar(path: Path, top: str) -> None:
    with tarfile.open(path, 'w:gz') as archive:
        for member in (f'{top}/train/1.jpg', f'{top}/test/1.jpg'):
            info = tarfile.TarInfo(member)
            info.size = 5
            archive.addfile(info, io.BytesIO(b'image'))


@pytest.mark.parametrize('kind', DOWNLOADERS)
def test_unknown_name_lists_valid_names_and_exits_nonzero(tmp_path: Path, kind: str) -> None:
    downloader = DOWNLOADERS[kind]
    result = run_script(downloader, tmp_path, 'no_such_name')
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'no_such_name'" in result.stderr and downloader.valid_names in result.stderr
    assert all_entries(tmp_path) == []


@pytest.mark.parametrize('kind', DOWNLOADERS)
def test_missing_name_prints_usage_and_exits_nonzero(tmp_path: Path, kind: str) -> None:
    result = run_script(DOWNLOADERS[kind], tmp_path)
    assert result.returncode != 0
    assert 'usage' in result.stderr and DOWNLOADERS[kind].valid_names in result.stderr


@pytest.mark.parametrize('kind', DOWNLOADERS)
def test_unreachable_server_is_one_line_and_leaves_nothing(tmp_path: Path, kind: str) -> None:
    downloader = DOWNLOADERS[kind]
    result = run_script(downloader, tmp_path, downloader.good_name)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert 'could not download' in lines[0] and UNREACHABLE in lines[0]
    assert all_entries(tmp_path) == []


@pytest.mark.parametrize('kind', DOWNLOADERS)
def test_failed_download_keeps_existing_output_folder_clean(tmp_path: Path, kind: str) -> None:
    downloader = DOWNLOADERS[kind]
    (tmp_path / downloader.output_root / 'keep_me').mkdir(parents=True)
    result = run_script(downloader, tmp_path, downloader.good_name)
    assert result.returncode != 0
    assert all_entries(tmp_path) == [downloader.output_root, f'{downloader.output_root}/keep_me']


@pytest.mark.parametrize('kind', DOWNLOADERS)
def test_missing_file_on_server_is_one_line_and_leaves_nothing(tmp_path: Path, kind: str, server: Server) -> None:
    downloader = DOWNLOADERS[kind]
    work = tmp_path / 'work'
    work.mkdir()
    result = run_script(downloader, work, downloader.good_name, url=server.url)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and '404' in result.stderr
    assert all_entries(work) == []


def test_corrupt_archive_is_one_line_and_leaves_nothing(tmp_path: Path, server: Server) -> None:
    (server.folder / 'facades.tar.gz').write_bytes(b'this is not a gzip file')
    work = tmp_path / 'work'
    work.mkdir()
    result = run_script(DATASET, work, 'facades', url=server.url)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and 'not a valid .tar.gz' in result.stderr
    assert all_entries(work) == []


def test_cityscapes_explains_the_license_and_exits_nonzero(tmp_path: Path) -> None:
    result = run_script(DATASET, tmp_path, 'cityscapes')
    assert result.returncode != 0
    assert 'cityscapes-dataset.com' in result.stderr
    assert all_entries(tmp_path) == []


def test_dataset_download_unpacks_into_datasets_name(tmp_path: Path, server: Server) -> None:
    write_dataset_tar(server.folder / 'facades.tar.gz', 'facades')
    work = tmp_path / 'work'
    work.mkdir()
    result = run_script(DATASET, work, 'facades', url=server.url)
    assert result.returncode == 0, result.stderr
    assert all_entries(work) == ['datasets', 'datasets/facades', 'datasets/facades/test',
                                 'datasets/facades/test/1.jpg', 'datasets/facades/train',
                                 'datasets/facades/train/1.jpg']


def test_model_download_saves_latest_net_G(tmp_path: Path, server: Server) -> None:
    (server.folder / 'sat2map.pth').write_bytes(b'weights')
    work = tmp_path / 'work'
    work.mkdir()
    result = run_script(MODEL, work, 'sat2map', url=server.url)
    assert result.returncode == 0, result.stderr
    assert all_entries(work) == ['checkpoints', 'checkpoints/sat2map_pretrained',
                                 'checkpoints/sat2map_pretrained/latest_net_G.pth']
    assert (work / 'checkpoints' / 'sat2map_pretrained' / 'latest_net_G.pth').read_bytes() == b'weights'
