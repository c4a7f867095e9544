"""pix2pixHD's feature encoder: net E with its layer order and keys (weights move both ways), features constant
inside each instance, E trained with G and saved with it, cluster files in pix2pixHD's format both ways (never
unpickling anything but arrays), the seeded draws at test time, and one line for each bad input."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from tiny_runs import build_labeled_model, label_batch, make_labeled_dataset, save_as_trained
from models import networks
from models.feature_clusters import StyleSampler, connected_instances, read_feature_file, write_feature_file
from util import checkpoint
from util.errors import UserError


def pix2pixhd_encoder_layers(input_nc: int, feat_num: int, nef: int, n_downsampling: int) -> nn.Sequential:
    """The layer list of pix2pixHD's Encoder.model, as its networks.py builds it (instance norm)."""
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, nef, 7), nn.InstanceNorm2d(nef), nn.ReLU(True)]
    for i in range(n_downsampling):
        width = nef * 2 ** i
        layers += [nn.Conv2d(width, width * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(width * 2), nn.ReLU(True)]
    for i in range(n_downsampling):
        width = nef * 2 ** (n_downsampling - i)
        layers += [nn.ConvTranspose2d(width, width // 2, 3, stride=2, padding=1, output_padding=1),
                   nn.InstanceNorm2d(width // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(nef, feat_num, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def pix2pixhd_instance_average(outputs: torch.Tensor, instances: torch.Tensor) -> torch.Tensor:
    """pix2pixHD's pooling written out: for each instance ID, image and channel, its pixels' mean."""
    pooled = outputs.clone()
    for instance_id in instances.unique():
        for b in range(outputs.shape[0]):
            inside = instances[b, 0] == instance_id
            for channel in range(outputs.shape[1]):
                if inside.any():
                    pooled[b, channel][inside] = outputs[b, channel][inside].mean()
    return pooled


class Pix2PixHDEncoder(nn.Module):
    def __init__(self, *sizes: int):
        super().__init__()
        self.model = pix2pixhd_encoder_layers(*sizes)


def test_full_size_encoder_has_pix2pixhd_keys_and_loads_both_ways_with_the_same_features():
    torch.manual_seed(0)
    theirs = Pix2PixHDEncoder(3, 3, 16, 4)  # pix2pixHD's --nef 16 --n_downsample_E 4 --feat_num 3
    ours = networks.define_E(3, 3, 16, 4, 'instance')
    assert sum(p.numel() for p in ours.parameters()) == 788_803
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    image = torch.rand(2, 3, 32, 48) * 2 - 1
    instances = torch.randint(0, 3, (2, 1, 4, 6)).repeat_interleave(8, 2).repeat_interleave(8, 3).float() * 1000 + 26
    with torch.no_grad():
        expected = pix2pixhd_instance_average(theirs.model(image), instances)
        features = ours(image, instances)
    assert torch.allclose(features, expected, atol=1e-5)
    for instance_id in instances.unique():
        inside = features[0][:, instances[0, 0] == instance_id]
        assert inside.numel() == 0 or torch.all(inside == inside[:, :1])  # one value per instance and channel
    theirs.load_state_dict(ours.state_dict(), strict=True)
    odd = torch.rand(1, 3, 20, 27) * 2 - 1  # any size: padded to E's multiple of 16 and cropped back, as G is
    assert ours(odd, torch.zeros(1, 1, 20, 27)).shape == (1, 3, 20, 27)


def test_encoder_trains_with_the_generator_and_is_saved_with_it(tmp_path):
    model = build_labeled_model(tmp_path, '--name', 'feat', '--label_nc', '4', '--instance_feat', '--nef', '4',
                                '--n_downsample_E', '2')
    assert model.netG.state_dict()['model.1.weight'].shape[1] == 4 + 1 + 3  # labels, instance edges, features
    assert model.netD.state_dict()['scale0_layer0.0.weight'].shape[1] == 4 + 1 + 3  # D sees no features
    first = model.netE.state_dict()['model.1.weight'].clone()
    model.set_input(label_batch(model))
    model.optimize_parameters()
    assert not torch.equal(model.netE.state_dict()['model.1.weight'], first)
    save_as_trained(model)
    saved = checkpoint.load_weights(checkpoint.net_path(str(tmp_path / 'feat'), 'latest', 'E'))
    assert torch.equal(saved['model.1.weight'], model.netE.state_dict()['model.1.weight'])


def pix2pixhd_cluster_file(path, centres: dict) -> None:
    """As pix2pixHD's encode_features.py saves it: np.save of the dict itself."""
    np.save(path, centres)


def test_cluster_files_are_read_and_written_in_pix2pixhd_format(tmp_path):
    centres = {26: np.arange(12, dtype=np.float64).reshape(4, 3) / 10, 7: np.ones((1, 3))}
    pix2pixhd_cluster_file(tmp_path / 'theirs.npy', centres)
    read = read_feature_file(str(tmp_path / 'theirs.npy'), 3, '--feat_num')
    assert read.keys() == centres.keys() and all(np.array_equal(read[k], centres[k]) for k in centres)
    write_feature_file(str(tmp_path / 'ours.npy'), centres)
    loaded = np.load(tmp_path / 'ours.npy', encoding='latin1', allow_pickle=True).item()  # pix2pixHD's loader
    assert loaded.keys() == centres.keys() and all(np.array_equal(loaded[k], centres[k]) for k in centres)


class Payload:
    def __reduce__(self):
        return (print, ('unpickled a function call',))


@pytest.mark.parametrize('content,message', [
    ({26: np.zeros((2, 4))}, 'rows of 3 values'),
    ({26: Payload()}, 'holds a pickled builtins.print, not only arrays'),
    (np.zeros((2, 3)), 'not a dict'),
])
def test_a_bad_cluster_file_is_one_line_naming_it(tmp_path, capsys, content, message):
    path = tmp_path / 'features_clustered_010.npy'
    with open(path, 'wb') as handle:
        np.save(handle, np.array(content, dtype=object) if isinstance(content, dict) else content, allow_pickle=True)
    with pytest.raises(UserError) as err:
        read_feature_file(str(path), 3, '--feat_num')
    assert message in str(err.value) and str(path) in str(err.value) and '\n' not in str(err.value)
    assert 'unpickled' not in capsys.readouterr().out


def test_draws_are_seeded_constant_per_instance_and_zero_for_classes_without_clusters(capsys):
    centres = {1: np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]]), 2: np.array([[-0.5, 0.0, 0.5]])}
    labels = torch.tensor([[1, 1, 0, 2], [1, 1, 0, 3], [3, 3, 0, 1]], dtype=torch.float32)[None, None]
    regions = connected_instances(labels)
    assert regions[0, 0, 0, 0] == 1000 and regions[0, 0, 2, 3] == 1001  # two separate class-1 regions
    sampler = StyleSampler(centres, 3, seed=4, source='c.npy')
    first = sampler.feature_map(regions)
    sampler.feature_map(regions)
    assert capsys.readouterr().err.count('has no cluster for class') == 1  # once per sampler, for classes 0 and 3
    again = StyleSampler(centres, 3, seed=4, source='c.npy').feature_map(regions)
    assert torch.equal(first, again)
    assert torch.all(first[0, :, 2, 0:2] == 0) and torch.all(first[0, :, :, 2] == 0)  # class 3 and class 0: no clusters
    assert torch.allclose(first[0, :, 0, 3], torch.tensor([-0.5, 0.0, 0.5]))
    stepped = StyleSampler(centres, 3, seed=4, source='c.npy').feature_map(regions, steps={1000: 1})
    assert not torch.equal(stepped[0, :, 0, 0], first[0, :, 0, 0]) and torch.equal(stepped[0, :, 2, 3], first[0, :, 2, 3])


def test_bad_feature_inputs_are_one_line_each(tmp_path):
    """A cluster file for another --feat_num, --load_features without <phase>_feat/ or without the encoder's run."""
    from data import create_dataset
    from models import create_model
    from options.test_options import TestOptions
    from options.train_options import TrainOptions

    (tmp_path / 'feat').mkdir()
    write_feature_file(str(tmp_path / 'feat' / 'features_clustered_010.npy'), {1: np.zeros((2, 5))})
    flags = ['--dataroot', str(make_labeled_dataset(tmp_path / 'data', {'train': 1})), '--checkpoints_dir', str(tmp_path),
             '--name', 'feat', '--model', 'pix2pixhd', '--label_nc', '12', '--instance_feat', '--gpu_ids', '-1']
    with pytest.raises(UserError, match=r'features_clustered_010.npy: class 1 .* made for another --feat_num') as err:
        create_model(TestOptions().parse(flags))
    assert '\n' not in str(err.value)
    with pytest.raises(UserError, match=r'train_feat is not a folder; --load_features .* precompute_feature_maps.py'):
        create_dataset(TrainOptions().parse([*flags, '--load_features']))
    with pytest.raises(UserError, match='--load_features: add --load_pretrain'):
        create_model(TrainOptions().parse([*flags, '--load_features']))
