"""Draw it, see it translated: a local page and a POST /translate endpoint for a trained generator.

Example:
    python serve.py --name facades_pix2pix --gpu_ids -1          # then open http://127.0.0.1:8000
    curl --data-binary @labels.png http://127.0.0.1:8000/translate -o photo.png
    curl --data-binary @labels.png 'http://127.0.0.1:8000/translate?clicks=12,30;40,8' -o restyled.png
The page (static/) has a canvas at the model's training size with drawing tools that fit its inputs; /translate
answers with the PNG predict.py writes for the same file.
A label-ID generator (--model pix2pixhd, --label_nc N) gets a palette of N colours, colour i for label ID i; /translate
takes single-channel PNGs of label IDs (8 or 16 bit) as predict.py reads them, and RGB(A) images drawn in exactly
those colours (alpha ignored). A generator with encoded features (--instance_feat, --label_feat) draws each region's
style afresh for each request from --seed, so a region keeps its style from one request to the next; the query
`clicks=x,y;x,y;...` (pixels of the image, 0,0 at the top left) steps the region under each click on to the next
style of its class, wrapping round, and the X-Style header says where the last click left its region, e.g.
`style 3 of 6 for class 26` (style 1 is the one drawn for it). The page's Style tool sends the clicks made with it.
"""
import argparse
import io
import os
import re
import socket
import tempfile
import threading
import time
from dataclasses import asdict, dataclass

import numpy as np
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
from models.feature_clusters import class_of
from models.label_maps import label_palette
from models.pix2pixhd_model import add_cluster_path_flag
from models.record import architecture_overrides
from models.speed import SpeedSettings
from models.translator import Translator
from options.base_options import (add_checkpoint_flags, add_gpu_ids_flag, add_recorded_architecture_flags, add_seed_flag,
                                  add_speed_flags, parse_gpu_ids)
from util import checkpoint
from util.errors import ArgumentParser, UserError, report_user_errors
from util.hardware import describe_peak_memory
from data.palette import Label, read_palette_file, training_set_palette

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'static')
SUFFIXES = {'PNG': '.png', 'JPEG': '.jpg'}
DEFAULT_SIZE = 256  # the reference's --crop_size, for a checkpoint without train_opt.txt
COLOUR_MODES = ('RGB', 'RGBA')  # drawings, whose colours a label-ID generator looks up in its palette
CLICK = re.compile(r'(\d+),(\d+)')


def make_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_checkpoint_flags(parser, name_required=True)
    add_gpu_ids_flag(parser)
    parser.add_argument('--host', type=str, default='127.0.0.1', help='address to listen on (0.0.0.0 opens it to the network)')
    parser.add_argument('--port', type=int, default=8000, help='port to listen on')
    parser.add_argument('--palette', type=str, default=None,
                        help='file of label colours, one `R G B [name]` or `#rrggbb [name]` per line (for a label-ID '
                             'generator exactly --label_nc lines, in ID order); default: for a label-ID generator the '
                             'colours of the results pages, else the colours of the training inputs when they are '
                             'label maps, else brush and eraser tools')
    parser.add_argument('--max_pixels', type=int, default=2048 * 2048,
                        help='larger images sent to /translate are refused (413)')
    styles = parser.add_argument_group("encoded features (a generator trained with pix2pixHD's --instance_feat or --label_feat)")
    add_seed_flag(styles, 'seed of the style draws for the regions not clicked, made afresh for each request: the '
                          'same seed gives the same picture')
    parser.set_defaults(seed=0)
    add_cluster_path_flag(styles)
    add_speed_flags(parser, inference_only=True)
    add_recorded_architecture_flags(parser)
    return parser


@dataclass
class PageSetup:
    """What the page needs to know: the canvas size, for label maps the palette (colour i is label ID i when
    label_nc is above 0), and whether clicks step styles."""

    name: str
    size: int
    input_nc: int
    palette: list[Label] | None
    tools_note: str
    label_nc: int
    styles: bool


@dataclass
class Translation:
    png: bytes
    style: str  # where the last click left its region, e.g. `style 3 of 6 for class 26`; '' without clicks


class BadImage(Exception):
    """A request that cannot be translated, with the HTTP status and the one line that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def colour_keys(rgb: np.ndarray) -> np.ndarray:
    """One integer per colour of an ...x3 array of 0-255 values."""
    return rgb.astype(np.int64) @ np.array([1 << 16, 1 << 8, 1], dtype=np.int64)


class TranslationService:
    """Bytes of a PNG or JPEG file in, the bytes of the PNG predict.py writes for that file out. Given the `colours`
    of a label-ID generator's palette, an RGB(A) image in those colours is a label map too (colour i, label ID i);
    encoded features are drawn with a generator seeded by `seed` afresh for each request."""

    def __init__(self, translator: Translator, max_pixels: int, colours: list[Label] | None = None, seed: int = 0):
        self.translator = translator
        self.max_pixels = max_pixels
        self.seed = seed
        keys = None if colours is None else colour_keys(np.array([label.rgb for label in colours]))
        self.colour_order = None if keys is None else np.argsort(keys)
        self.sorted_colours = None if keys is None else keys[self.colour_order]
        self.lock = threading.Lock()  # one translation at a time: the model and its threads are shared

    def __call__(self, body: bytes) -> bytes:
        return self.translate(body, []).png

    def translate(self, body: bytes, clicks: list[tuple[int, int]]) -> Translation:
        """The translation of the sent file, each click (x, y) stepping its region's style on by one."""
        suffix = self.check(body)
        with tempfile.TemporaryDirectory(prefix='pix2pix-serve-') as folder:
            source, target = os.path.join(folder, 'sent' + suffix), os.path.join(folder, 'translated.png')
            with open(source, 'wb') as handle:
                handle.write(body)
            tensor, deep = self.load(body, source)
            steps, style = self.style_steps(tensor, clicks)
            predict.write_output(self.run(tensor, steps), target, deep)
            with open(target, 'rb') as handle:
                return Translation(handle.read(), style)

    def load(self, body: bytes, source: str) -> tuple[torch.Tensor, bool]:
        """The generator's input for the sent file (at `source`) and whether it was deeper than 8 bits: as
        predict.load_input reads it, or for a colour image sent to a label-ID generator its colours' label IDs."""
        try:
            if self.sorted_colours is not None:
                with Image.open(io.BytesIO(body)) as image:
                    if image.mode in COLOUR_MODES:
                        return self.label_ids(np.asarray(image.convert('RGB'))), False
            return predict.load_input(source, self.translator, False)
        except (OSError, SyntaxError, ValueError) as err:
            raise decode_error(err) from err
        except UserError as err:
            if err.__cause__ is not None:  # the file did not decode
                raise decode_error(err.__cause__) from err
            raise BadImage(422, str(err).replace(source, 'sent')) from err

    def label_ids(self, rgb: np.ndarray) -> torch.Tensor:
        """The 1xHxW label IDs of an HxWx3 drawing in the palette's colours; 422 naming the first other pixel."""
        keys = colour_keys(rgb)
        index = np.minimum(np.searchsorted(self.sorted_colours, keys), len(self.sorted_colours) - 1)
        unknown = self.sorted_colours[index] != keys
        if unknown.any():
            y, x = np.argwhere(unknown)[0]
            raise BadImage(422, f'the pixel at x={x}, y={y} (the first such) is rgb({", ".join(map(str, rgb[y, x]))}), '
                                f'none of the {len(self.sorted_colours)} label colours; draw in the '
                                "palette's colours or send a single-channel PNG of label IDs")
        return torch.from_numpy(self.colour_order[index].astype(np.float32))[None]

    def style_steps(self, ids: torch.Tensor, clicks: list[tuple[int, int]]) -> tuple[dict[int, int] | None, str]:
        """translate()'s style steps for the clicks on the CxHxW input, and where the last click left its region."""
        if not clicks:
            return None, ''
        styles = self.translator.styles
        if styles is None:
            raise BadImage(422, 'clicks step the styles of a generator with encoded features (trained with '
                                '--instance_feat or --label_feat); this one has none')
        height, width = ids.shape[1:]
        for x, y in clicks:
            if x >= width or y >= height:
                raise BadImage(422, f'the click at {x},{y} is outside the {width}x{height} image')
        regions = self.translator.regions(ids[None].to(self.translator.device), None)[0, 0]
        steps = self.translator.style_steps_at(regions, clicks)
        x, y = clicks[-1]
        region = int(regions[y, x])
        count = styles.style_count(class_of(region))
        if not count:
            return steps, f'class {class_of(region)} has no styles in the cluster file'
        return steps, f'style {steps[region] % count + 1} of {count} for class {class_of(region)}'

    def run(self, tensor: torch.Tensor, steps: dict[int, int] | None) -> torch.Tensor:
        """The generator's output for one input, its styles drawn from `seed` afresh; 422 for IDs outside the labels."""
        with self.lock:
            start = time.perf_counter()
            try:
                output = self.translator.translate_images(tensor[None], sources=['sent'], style_steps=steps,
                                                          rng=np.random.default_rng(self.seed))[0]
            except UserError as err:
                raise BadImage(422, str(err)) from err
            print(f'translated {tensor.shape[2]}x{tensor.shape[1]} in {time.perf_counter() - start:.2f} s; '
                  f'{describe_peak_memory(self.translator.device)}', flush=True)
        return output

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


def decode_error(err: Exception) -> BadImage:
    return BadImage(400, f'the image cannot be decoded ({err}); send a complete PNG or JPEG file')


def parse_clicks(text: str) -> list[tuple[int, int]]:
    """The points of the query `clicks=x,y;x,y;...` (none when it is empty); 400 in one line for anything else."""
    points = []
    for pair in text.split(';') if text else []:
        match = CLICK.fullmatch(pair)
        if not match:
            raise BadImage(400, f'clicks: {pair!r} is not x,y; send clicks=x,y;x,y;... in pixels of the image')
        points.append((int(match[1]), int(match[2])))
    return points


def create_app(translator: Translator, setup: PageSetup, max_pixels: int, seed: int) -> Starlette:
    """The page at /, its settings at /setup.json, its scripts under /static/, and POST /translate."""
    service = TranslationService(translator, max_pixels, setup.palette if translator.label_nc else None, seed)

    async def page(request: Request) -> Response:
        return FileResponse(os.path.join(STATIC_DIR, 'index.html'))

    async def page_setup(request: Request) -> Response:
        return JSONResponse(asdict(setup))

    async def translate(request: Request) -> Response:
        try:
            clicks = parse_clicks(request.query_params.get('clicks', ''))
            body = await read_body(request, body_limit(max_pixels))
            result = await run_in_threadpool(service.translate, body, clicks)
        except BadImage as err:
            return PlainTextResponse(f'{err}\n', status_code=err.status)
        return Response(result.png, media_type='image/png', headers={'X-Style': result.style} if result.style else None)

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
    """One colour per label ID for a label-ID generator; else --palette, else the label colours of the training
    inputs; None (brush and eraser) for other inputs."""
    if translator.label_nc:
        return label_id_palette(palette_file, translator.label_nc)
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


def label_id_palette(palette_file: str | None, label_nc: int) -> tuple[list[Label], str]:
    """Colour i for label ID i: the lines of --palette (exactly label_nc distinct colours), else the colours of the
    results pages (models.label_maps.label_palette); each named as its line names it, else by its ID."""
    if palette_file is None:
        labels = [Label(tuple(rgb)) for rgb in label_palette(label_nc).tolist()]
        note = f'{label_nc} label colours, one per label ID, as the results pages colour them'
    else:
        labels = read_palette_file(palette_file)
        check_label_id_palette(labels, palette_file, label_nc)
        note = f'{label_nc} label colours from --palette {palette_file}, one per label ID'
    return [Label(label.rgb, label.name or str(label_id)) for label_id, label in enumerate(labels)], note


def check_label_id_palette(labels: list[Label], palette_file: str, label_nc: int) -> None:
    """One line when the palette file has not one colour of its own for each label ID."""
    if len(labels) != label_nc:
        raise UserError(f'--palette {palette_file} has {len(labels)} colours; this generator takes label IDs '
                        f'0..{label_nc - 1}: give exactly {label_nc} lines, in ID order')
    first_of: dict[tuple[int, int, int], int] = {}
    for label_id, label in enumerate(labels):
        if label.rgb in first_of:
            raise UserError(f'--palette {palette_file}: label IDs {first_of[label.rgb]} and {label_id} are both '
                            f'rgb{label.rgb}; give each label ID a colour of its own')
        first_of[label.rgb] = label_id


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
    translator = Translator.from_checkpoint(folder, opt.epoch, parse_gpu_ids(opt.gpu_ids), opt.cluster_path, opt.seed,
                                            **architecture_overrides(opt))
    record = checkpoint.read_training_options(folder)
    size = int(record.get('crop_size', DEFAULT_SIZE))
    translator.choose_speed(SpeedSettings.from_opt(opt), opt.fast, torch.zeros(1, translator.input_nc, size, size))
    palette, tools_note = choose_palette(opt.palette, record, translator)
    styles = translator.styles is not None
    if styles:
        tools_note += '; the Style tool steps the region clicked on to the next style of its class'
    print(f'drawing tools: {tools_note}')
    setup = PageSetup(name=opt.name, size=size, input_nc=translator.input_nc, palette=palette, tools_note=tools_note,
                      label_nc=translator.label_nc, styles=styles)
    print(f'serving {folder} ({opt.epoch}) at http://{opt.host}:{opt.port}/ (Ctrl-C stops)', flush=True)
    uvicorn.run(create_app(translator, setup, opt.max_pixels, opt.seed), host=opt.host, port=opt.port,
                log_level='warning')


if __name__ == '__main__':
    main()
