"""serve.py's POST /translate answers with what predict.py writes for the same file, refuses bad input with one line
and goes on serving, and keeps 16 simultaneous requests apart."""
import io
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
import torch
from PIL import Image

import serve
from tiny_runs import run_in_process
from models import networks
from models.translator import REFERENCE_ARCHITECTURE, Translator
from tiny_runs import start_serve, stop

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick

MAX_PIXELS = 100 * 100
CONCURRENT = 16


@pytest.fixture(scope='module')
def serve_process(tiny_experiment, tmp_path_factory):
    process, url = start_serve(['--name', 'tiny', '--checkpoints_dir', str(tiny_experiment), '--gpu_ids', '-1',
                                '--max_pixels', str(MAX_PIXELS)])
    yield process, url
    stop(process)


@pytest.fixture(scope='module')
def server(serve_process) -> str:
    return serve_process[1]


def test_each_translation_prints_its_time_and_the_peak_memory(serve_process):
    process, url = serve_process
    assert translate(url, encoded(40, 24, seed=1)).status_code == 200
    process.log.seek(0)
    assert re.search(r'translated 40x24 in \d+\.\d\d s; peak memory \d+\.\d\d GiB', process.log.read())


def encoded(width: int, height: int, seed: int, image_format: str = 'PNG', mode: str = 'RGB') -> bytes:
    channels = len(mode)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels.squeeze(2) if channels == 1 else pixels, mode).save(buffer, image_format)
    return buffer.getvalue()


def decoded(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body))).astype(int)


def translate(url: str, body: bytes) -> httpx.Response:
    return httpx.post(f'{url}/translate', content=body, timeout=60)


@pytest.mark.parametrize('file_name, width, height, image_format', [('odd.png', 45, 37, 'PNG'), ('photo.jpg', 64, 32, 'JPEG')])
def test_translation_equals_predict_py_output(server, tiny_experiment, tmp_path, file_name, width, height, image_format):
    source = tmp_path / file_name
    source.write_bytes(encoded(width, height, seed=3, image_format=image_format))
    run_in_process('predict.py', '--name', 'tiny', '--checkpoints_dir', str(tiny_experiment), '--gpu_ids', '-1',
                   '--input', str(source), '--output', str(tmp_path / 'out'))
    from_predict = decoded((tmp_path / 'out' / (source.stem + '.png')).read_bytes())

    response = translate(server, source.read_bytes())
    assert response.status_code == 200 and response.headers['content-type'] == 'image/png'
    from_server = decoded(response.content)
    assert from_server.shape == from_predict.shape == (height, width, 3)
    assert np.abs(from_server - from_predict).max() <= 1


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new('RGB', (8, 8), 'red').save(buffer, 'GIF')
    return buffer.getvalue()


BAD_BODIES = {
    'text': (b'this is not an image\n', 400, 'not an image'),
    'empty': (b'', 400, 'empty request body'),
    'truncated png': (encoded(40, 40, seed=1)[:600], 400, 'cannot be decoded'),
    'gif': (gif(), 415, 'GIF'),
    'too many pixels': (encoded(101, 100, seed=2), 413, f'--max_pixels {MAX_PIXELS}'),
    'too many bytes': (bytes(serve.body_limit(MAX_PIXELS) + 1), 413, 'more than an image of --max_pixels takes'),
}


@pytest.mark.parametrize('case', BAD_BODIES)
def test_bad_input_gets_a_one_line_4xx_and_the_server_goes_on(server, case):
    body, status, words = BAD_BODIES[case]
    response = translate(server, body)
    assert response.status_code == status, response.content[:300]
    assert words in response.text and response.text.endswith('\n') and response.text.count('\n') == 1, response.text
    assert translate(server, encoded(100, 100, seed=4)).status_code == 200


def test_oversized_body_without_a_length_is_refused_while_it_streams(server):
    def chunks():
        for _ in range(serve.body_limit(MAX_PIXELS) // 65536 + 2):
            yield bytes(65536)

    response = httpx.post(f'{server}/translate', content=chunks(), timeout=60)
    assert response.status_code == 413 and 'more than an image of --max_pixels takes' in response.text
    assert translate(server, encoded(100, 100, seed=4)).status_code == 200


def test_image_with_other_channels_than_the_model_takes_is_refused_with_422():
    """A 4-channel (RGBA) generator: an RGB image is refused in one line, an RGBA one translated."""
    architecture = {**REFERENCE_ARCHITECTURE, 'netG': 'resnet_6blocks', 'ngf': 4, 'input_nc': 4}
    net = networks.define_G(4, 3, 4, 'resnet_6blocks', 'batch', False, device=torch.device('cpu'))
    service = serve.TranslationService(Translator(net, architecture, torch.device('cpu')), MAX_PIXELS)
    with pytest.raises(serve.BadImage) as refused:
        service(encoded(16, 16, seed=5))
    assert refused.value.status == 422 and 'has 3 channel(s) but the flags ask for 4' in str(refused.value)
    assert decoded(service(encoded(16, 12, seed=5, mode='RGBA'))).shape == (12, 16, 3)


def test_label_map_generator_reads_8_and_16_bit_id_maps_alike():
    """A label-map generator (--label_nc 4): serve reads the sent file with the one ID-map reader, as predict.py does,
    so the same IDs stored in 8 or in 16 bits give the same photo, and an RGB image is refused in one line."""
    architecture = {**REFERENCE_ARCHITECTURE, 'model': 'pix2pixhd', 'netG': 'global', 'ngf': 4, 'norm': 'instance',
                    'no_dropout': True, 'n_downsample_global': 2, 'n_blocks_global': 1, 'label_nc': 4}
    torch.manual_seed(0)
    net = networks.define_G(4, 3, 4, 'global', 'instance', n_downsample_global=2, n_blocks_global=1)
    service = serve.TranslationService(Translator(net, architecture, torch.device('cpu')), MAX_PIXELS)
    ids = np.random.default_rng(6).integers(0, 4, (16, 20))
    photos = []
    for dtype in (np.uint8, np.uint16):
        buffer = io.BytesIO()
        Image.fromarray(ids.astype(dtype)).save(buffer, 'PNG')
        photos.append(decoded(service(buffer.getvalue())))
    assert photos[0].shape == (16, 20, 3) and np.array_equal(photos[0], photos[1])
    with pytest.raises(serve.BadImage) as refused:
        service(encoded(16, 16, seed=7))
    assert refused.value.status == 422 and 'sent is not a single-channel ID map' in str(refused.value)


def test_concurrent_requests_all_answer_with_their_own_translation(server):
    bodies = [encoded(20 + 4 * (index % 4), 24, seed=10 + index) for index in range(CONCURRENT)]
    one_at_a_time = [decoded(translate(server, body).content) for body in bodies]
    start_together = threading.Barrier(CONCURRENT)

    def send(body: bytes) -> httpx.Response:
        start_together.wait()
        return translate(server, body)

    with ThreadPoolExecutor(CONCURRENT) as pool:
        responses = list(pool.map(send, bodies))
    assert [response.status_code for response in responses] == [200] * CONCURRENT
    for response, expected in zip(responses, one_at_a_time):
        assert np.array_equal(decoded(response.content), expected)


def test_page_setup_gives_the_training_size_and_brush_tools_for_photo_inputs(server):
    setup = httpx.get(f'{server}/setup.json', timeout=10).json()
    assert setup['size'] == 32 and setup['input_nc'] == 3 and setup['palette'] is None
    assert 'brush and eraser' in setup['tools_note']


def test_a_port_in_use_is_one_line_before_anything_loads(server, tiny_experiment):
    port = server.rsplit(':', 1)[1]
    result = run_in_process('serve.py', '--name', 'tiny', '--checkpoints_dir', str(tiny_experiment), '--gpu_ids', '-1',
                            '--port', port, check=False)
    assert result.returncode == 2
    assert result.stderr == f'error: --host 127.0.0.1 --port {port}: cannot listen there (Address already in use); choose another --port\n'
