"""Draw it, see it translated: a local page and a POST /translate endpoint for a trained generator.

Example:
    python serve.py --name facades_pix2pix --gpu_ids -1          # then open http://127.0.0.1:8000
    curl --data-binary @labels.png http://127.0.0.1:8000/translate -o photo.png
The page (static/) has a canvas at the model's training size with drawing tools that fit its inputs; /translate
answers with the PNG predict.py writes for the same file.
"""
import argparse
import io
import os
import socket
import tempfile
import threading
import time
from dataclasses import asdict, dataclass

import torch
import uvicorn
from PIL import Image, UnidentifiedImageError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import predict
from models.record import architecture_overrides
from models.speed import SpeedSettings
from models.translator import Translator
from options.base_options import add_checkpoint_flags, add_gpu_ids_flag, add_recorded_architecture_flags, add_speed_flags, parse_gpu_ids
from util import checkpoint
from util.errors import ArgumentParser, UserError, report_user_errors
from util.hardware import describe_peak_memory
from data.palette import Label, read_palette_file, training_set_palette

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'static')
SUFFIXES = {'PNG': '.png', 'JPEG': '.jpg'}
DEFAULT_SIZE = 256  # the reference's --crop_size, for a checkpoint without train_opt.txt


def make_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_checkpoint_flags(parser, name_required=True)
    add_gpu_ids_flag(parser)
    parser.add_argument('--host', type=str, default='127.0.0.1', help='address to listen on (0.0.0.0 opens it to the network)')
    parser.add_argument('--port', type=int, default=8000, help='port to listen on')
    parser.add_argument('--palette', type=str, default=None,
                        help='file of label colours, one `R G B [name]` or `#rrggbb [name]` per line; default: the '
                             'colours of the training inputs when they are label maps, else brush and eraser tools')
    parser.add_argument('--max_pixels', type=int, default=2048 * 2048,
                        help='larger images sent to /translate are refused (413)')
    add_speed_flags(parser, inference_only=True)
    add_recorded_architecture_flags(parser)
    return parser


@dataclass
class PageSetup:
    """What the page needs to know: the canvas size and, for label maps, the palette."""

    name: str
    size: int
    input_nc: int
    palette: list[Label] | None
    tools_note: str


class BadImage(Exception):
    """A request body that cannot be translated, with the HTTP status and the one line that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class TranslationService:
    """Bytes of a PNG or JPEG file in, the bytes of the PNG predict.py writes for that file out."""

    def __init__(self, translator: Translator, max_pixels: int):
        self.translator = translator
        self.max_pixels = max_pixels
        self.lock = threading.Lock()  # one translation at a time: the model and its threads are shared

    def __call__(self, body: bytes) -> bytes:
        suffix = self.check(body)
        with tempfile.TemporaryDirectory(prefix='pix2pix-serve-') as folder:
            source, target = os.path.join(folder, 'sent' + suffix), os.path.join(folder, 'translated.png')
            with open(source, 'wb') as handle:
                handle.write(body)
            try:
                tensor, deep = predict.load_input(source, self.translator, False)
            except UserError as err:
                if err.__cause__ is not None:  # the file did not decode
                    raise BadImage(400, f'the image cannot be decoded ({err.__cause__}); send a complete PNG or JPEG '
                                        'file') from err
                raise BadImage(422, str(err).replace(source, 'sent')) from err
            with self.lock:
                start = time.perf_counter()
                output = self.translator.translate_images(tensor[None])[0]
                print(f'translated {tensor.shape[2]}x{tensor.shape[1]} in {time.perf_counter() - start:.2f} s; '
                      f'{describe_peak_memory(self.translator.device)}', flush=True)
            predict.write_output(output, target, deep)
            with open(target, 'rb') as handle:
                return handle.read()

    def check(self, body: bytes) -> str:
        """The file suffix of the body's format, after checking that it is a PNG or JPEG of acceptable size."""
        if not body:
            raise BadImage(400, 'empty request body; send the bytes of a PNG or JPEG file')
        try:
            with Image.open(io.BytesIO(body)) as image:
                image_format, (width, height) = image.format, image.size
        except Image.DecompressionBombError as err:
            raise BadImage(413, f'the image has too many pixels ({err}); the limit is --max_pixels {self.max_pixels}') from err
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
            raise BadImage(400, 'the request body is not an image; send the bytes of a PNG or JPEG file') from err
        if image_format not in SUFFIXES:
            raise BadImage(415, f'the body is a {image_format} image; send PNG or JPEG')
        if width * height > self.max_pixels:
            raise BadImage(413, f'the image is {width}x{height} = {width * height} pixels, more than '
                                f'--max_pixels {self.max_pixels}; send a smaller image')
        return SUFFIXES[image_format]


def create_app(translator: Translator, setup: PageSetup, max_pixels: int) -> Starlette:
    """The page at /, its settings at /setup.json, its scripts under /static/, and POST /translate."""
    service = TranslationService(translator, max_pixels)

    async def page(request: Request) -> Response:
        return FileResponse(os.path.join(STATIC_DIR, 'index.html'))

    async def page_setup(request: Request) -> Response:
        return JSONResponse(asdict(setup))

    async def translate(request: Request) -> Response:
        try:
            body = await read_body(request, body_limit(max_pixels))
            png = await run_in_threadpool(service, body)
        except BadImage as err:
            return PlainTextResponse(f'{err}\n', status_code=err.status)
        return Response(png, media_type='image/png')

    return Starlette(routes=[Route('/', page), Route('/setup.json', page_setup),
                             Route('/translate', translate, methods=['POST']),
                             Mount('/static', StaticFiles(directory=STATIC_DIR), name='static')])


def body_limit(max_pixels: int) -> int:
    """The most bytes a PNG or JPEG of `max_pixels` takes: 16-bit RGBA stored uncompressed, plus room for metadata."""
    return 8 * max_pixels + (1 << 20)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it outgrows `limit` bytes (before reading it all)."""
    declared = request.headers.get('content-length', '')
    if declared.isdigit() and int(declared) > limit:
        raise BadImage(413, f'the body has {declared} bytes, more than an image of --max_pixels takes ({limit})')
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadImage(413, f'the body has more than {limit} bytes, more than an image of --max_pixels takes')
        chunks.append(chunk)
    return b''.join(chunks)


def choose_palette(palette_file: str | None, record: dict[str, str], translator: Translator) -> tuple[list[Label] | None, str]:
    """--palette, else the label colours of the training inputs; None (brush and eraser) for other inputs."""
    if palette_file:
        labels = read_palette_file(palette_file)
        return labels, f'{len(labels)} label colours from --palette {palette_file}'
    if translator.input_nc != 3 or 'dataroot' not in record:
        return None, 'brush and eraser (no training set recorded; --palette gives label colours)'
    folder = os.path.join(record['dataroot'], record.get('phase', 'train'))
    input_half = None if record.get('dataset_mode') == 'single' else int(translator.architecture['direction'] == 'BtoA')
    if not os.path.isdir(folder):
        return None, f'brush and eraser (the training set {folder} is not here; --palette gives label colours)'
    labels = training_set_palette(folder, input_half)
    if labels is None:
        return None, f'brush and eraser (the training inputs under {folder} are not label maps)'
    return labels, f'{len(labels)} label colours found in the training inputs under {folder}'


def check_address(host: str, port: int) -> None:
    """Refuse a host or port we cannot listen on before loading anything, in one line."""
    try:
        with socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET) as probe:
            probe.bind((host, port))
    except (OSError, OverflowError) as err:
        reason = getattr(err, 'strerror', None) or str(err)
        raise UserError(f'--host {host} --port {port}: cannot listen there ({reason}); choose another --port') from err


@report_user_errors
def main() -> None:
    opt = make_parser().parse_args()
    if opt.max_pixels < 1:
        raise UserError(f'--max_pixels {opt.max_pixels}: must be 1 or more')
    check_address(opt.host, opt.port)
    folder = checkpoint.experiment_dir(opt)
    translator = Translator.from_checkpoint(folder, opt.epoch, parse_gpu_ids(opt.gpu_ids), **architecture_overrides(opt))
    record = checkpoint.read_training_options(folder)
    size = int(record.get('crop_size', DEFAULT_SIZE))
    translator.choose_speed(SpeedSettings.from_opt(opt), opt.fast, torch.zeros(1, translator.input_nc, size, size))
    palette, tools_note = choose_palette(opt.palette, record, translator)
    print(f'drawing tools: {tools_note}')
    setup = PageSetup(name=opt.name, size=size, input_nc=translator.input_nc, palette=palette, tools_note=tools_note)
    print(f'serving {folder} ({opt.epoch}) at http://{opt.host}:{opt.port}/ (Ctrl-C stops)', flush=True)
    uvicorn.run(create_app(translator, setup, opt.max_pixels), host=opt.host, port=opt.port, log_level='warning')


if __name__ == '__main__':
    main()
