"""--dataset_mode colorization: A is L / 50 - 1 and B is ab / 110 of the photo in CIE Lab (scikit-image, as the
reference); grey files are left out of training with a note, a folder of only grey files is a one-line error."""
import numpy as np
import pytest
from PIL import Image
from skimage import color

from data.colorization_dataset import ColorizationDataset
from options.train_options import TrainOptions
from tiny_runs import IMAGE_SIDE, TINY_NET, make_aligned_dataset
from util.errors import UserError


def colorization_options(dataroot, tmp_path, *args: str):
    return TrainOptions().parse(['--dataroot', str(dataroot), '--checkpoints_dir', str(tmp_path / 'ck'),
                                 '--model', 'colorization', *TINY_NET, '--display_id', '0', *args])


def test_A_is_scaled_lightness_and_B_scaled_colour(tmp_path):
    data = make_aligned_dataset(tmp_path / 'data', {'train': 2})
    opt = colorization_options(data, tmp_path, '--preprocess', 'none', '--no_flip')
    assert (opt.input_nc, opt.output_nc, opt.dataset_mode) == (1, 2, 'colorization')
    item = ColorizationDataset(opt)[1]
    lab = color.rgb2lab(np.asarray(Image.open(data / 'train' / '001.png').convert('RGB')))
    assert item['A'].shape == (1, IMAGE_SIDE, 2 * IMAGE_SIDE) and item['B'].shape == (2, IMAGE_SIDE, 2 * IMAGE_SIDE)
    np.testing.assert_allclose(item['A'][0].numpy(), lab[..., 0] / 50 - 1, atol=1e-5)
    np.testing.assert_allclose(item['B'].numpy().transpose(1, 2, 0), lab[..., 1:] / 110, atol=1e-5)
    assert -1 <= item['A'].min() and item['A'].max() <= 1 and item['has_colour']


def test_grey_files_are_left_out_of_training_with_a_note(tmp_path, capsys):
    data = make_aligned_dataset(tmp_path / 'data', {'train': 2})
    Image.open(data / 'train' / '000.png').convert('L').save(data / 'train' / 'grey.png')
    dataset = ColorizationDataset(colorization_options(data, tmp_path))
    assert [path.rsplit('/', 1)[1] for path in dataset.paths] == ['000.png', '001.png']
    assert 'leaving out 1 grey image(s)' in capsys.readouterr().err


def test_a_folder_of_grey_files_is_one_clear_error(tmp_path):
    (tmp_path / 'data' / 'train').mkdir(parents=True)
    Image.new('L', (IMAGE_SIDE, IMAGE_SIDE), 90).save(tmp_path / 'data' / 'train' / 'grey.png')
    with pytest.raises(UserError, match='holds only grey images .1.; colorization learns colour from colour photos'):
        ColorizationDataset(colorization_options(tmp_path / 'data', tmp_path))


def test_other_channel_counts_are_refused(tmp_path):
    data = make_aligned_dataset(tmp_path / 'data', {'train': 1})
    with pytest.raises(UserError, match='got --input_nc 3 --output_nc 2'):
        ColorizationDataset(colorization_options(data, tmp_path, '--input_nc', '3'))
