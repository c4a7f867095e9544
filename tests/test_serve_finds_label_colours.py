"""serve.py's drawing tools fit the model's inputs: label colours from --palette or from the training set's input
halves when they are label maps (the side --direction starts from), brush and eraser otherwise; bad palette files
are one-line errors."""
import numpy as np
import pytest
import torch
from PIL import Image

import serve
from tiny_runs import run_in_process
from data.image_folder import make_dataset
from datasets import make_demo_dataset
from models import networks
from models.translator import REFERENCE_ARCHITECTURE, Translator
from tiny_runs import make_aligned_dataset
from util.errors import UserError
from data.palette import read_palette_file

REPO_PALETTE = 'datasets/facades_palette.txt'


@pytest.fixture(scope='module')
def demo_facades(tmp_path_factory) -> str:
    """A small demo facades set: photo left, PNG label map right."""
    root = tmp_path_factory.mktemp('demo_facades')
    make_demo_dataset.main(['--out', str(root), '--size', '32', '--num_train', '6', '--num_val', '0', '--num_test', '0'])
    return str(root)


def translator(direction: str, input_nc: int = 3) -> Translator:
    net = networks.define_G(input_nc, 3, 4, 'resnet_6blocks', 'batch', False, device=torch.device('cpu'))
    architecture = {**REFERENCE_ARCHITECTURE, 'netG': 'resnet_6blocks', 'input_nc': input_nc, 'direction': direction}
    return Translator(net, architecture, torch.device('cpu'))


def colours_of_label_halves(folder: str) -> set[tuple[int, ...]]:
    pixels = [np.asarray(Image.open(path).convert('RGB'))[:, 32:].reshape(-1, 3) for path in make_dataset(folder)]
    return {tuple(int(c) for c in colour) for colour in np.unique(np.concatenate(pixels), axis=0)}


def test_label_colours_come_from_the_label_side_of_the_training_set(demo_facades):
    record = {'dataroot': demo_facades, 'phase': 'train'}
    labels, note = serve.choose_palette(None, record, translator('BtoA'))
    found = [label.rgb for label in labels]
    assert len(found) == len(set(found)) >= 6
    assert set(found) == colours_of_label_halves(f'{demo_facades}/train')
    assert set(found) <= {tuple(int(c) for c in colour) for colour in make_demo_dataset.PALETTE}
    assert f'{len(found)} label colours found in the training inputs' in note


def test_photo_inputs_get_brush_and_eraser(demo_facades, tmp_path):
    assert serve.choose_palette(None, {'dataroot': demo_facades, 'phase': 'train'}, translator('AtoB'))[0] is None
    make_aligned_dataset(tmp_path / 'gradients', {'train': 2})
    labels, note = serve.choose_palette(None, {'dataroot': str(tmp_path / 'gradients')}, translator('BtoA'))
    assert labels is None and 'not label maps' in note
    labels, note = serve.choose_palette(None, {'dataroot': str(tmp_path / 'moved')}, translator('BtoA'))
    assert labels is None and 'is not here' in note
    assert serve.choose_palette(None, {}, translator('BtoA'))[0] is None


def test_palette_file_wins_and_keeps_names_and_order(demo_facades, tmp_path):
    palette_file = tmp_path / 'palette.txt'
    palette_file.write_text('// comment\n\n#0000AA background\n0, 0, 255 facade\n255 170 0\n')
    labels, note = serve.choose_palette(str(palette_file), {'dataroot': demo_facades}, translator('BtoA', input_nc=1))
    assert [(label.rgb, label.name) for label in labels] == [((0, 0, 170), 'background'), ((0, 0, 255), 'facade'),
                                                              ((255, 170, 0), '')]
    assert note == f'3 label colours from --palette {palette_file}'


def test_shipped_facades_palette_is_the_cmp_colours():
    labels = read_palette_file(REPO_PALETTE)
    assert [label.rgb for label in labels] == [tuple(int(c) for c in colour) for colour in make_demo_dataset.PALETTE]
    assert [label.name for label in labels] == list(make_demo_dataset.CLASS_NAMES)


@pytest.mark.parametrize('text, words', [('0 0 300 too bright\n', 'line 1: "0 0 300 too bright" is not a colour'),
                                         ('// only a comment\n', 'no colours in it'),
                                         ('#12345 short\n', 'line 1')])
def test_bad_palette_file_is_one_line_naming_the_line(tmp_path, text, words):
    palette_file = tmp_path / 'palette.txt'
    palette_file.write_text(text)
    with pytest.raises(UserError, match=words):
        read_palette_file(str(palette_file))


@pytest.mark.slow
def test_serve_py_with_a_bad_palette_exits_with_one_line(tiny_experiment, tmp_path):
    palette_file = tmp_path / 'palette.txt'
    palette_file.write_text('red\n')
    result = run_in_process('serve.py', '--name', 'tiny', '--checkpoints_dir', str(tiny_experiment), '--gpu_ids', '-1',
                            '--port', '0', '--palette', str(palette_file), check=False)
    assert result.returncode == 2
    assert result.stderr == f'error: --palette {palette_file} line 1: "red" is not a colour; write `R G B [name]` (0-255) or `#rrggbb [name]`\n'
