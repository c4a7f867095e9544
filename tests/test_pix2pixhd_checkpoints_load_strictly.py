"""Checkpoints of NVIDIA/pix2pixHD's networks load strictly into ours and give the same outputs.

The networks are rebuilt here from pix2pixHD's published layer lists (models/networks.py there: GlobalGenerator,
LocalEnhancer, MultiscaleDiscriminator with getIntermFeat), at small widths, with PyTorch's default initialization;
their state_dicts go through our real loaders: predict.py (without a training record, so with pix2pixHD's defaults
and the flags given) and --continue_train.
"""
import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from tiny_runs import build_labeled_model, run_in_process
from util.checkpoint import atomic_save

LABEL_NC, HEIGHT, WIDTH = 4, 48, 64


class ReferenceResnetBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.conv_block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim), nn.ReLU(True),
                                        nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.conv_block(x)


def reference_global_layers(input_nc: int, ngf: int, n_downsampling: int, n_blocks: int) -> list[nn.Module]:
    """GlobalGenerator.model: 7x7 conv block, downsamplings, residual blocks, upsamplings, 7x7 conv and tanh."""
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
    for i in range(n_downsampling):
        layers += [nn.Conv2d(ngf * 2 ** i, ngf * 2 ** (i + 1), 3, stride=2, padding=1), nn.InstanceNorm2d(ngf * 2 ** (i + 1)), nn.ReLU(True)]
    layers += [ReferenceResnetBlock(ngf * 2 ** n_downsampling) for _ in range(n_blocks)]
    for i in range(n_downsampling, 0, -1):
        layers += [nn.ConvTranspose2d(ngf * 2 ** i, ngf * 2 ** (i - 1), 3, stride=2, padding=1, output_padding=1),
                   nn.InstanceNorm2d(ngf * 2 ** (i - 1)), nn.ReLU(True)]
    return layers + [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]


class ReferenceGlobal(nn.Module):
    def __init__(self, input_nc: int, ngf: int, n_downsampling: int, n_blocks: int):
        super().__init__()
        self.model = nn.Sequential(*reference_global_layers(input_nc, ngf, n_downsampling, n_blocks))

    def forward(self, x):
        return self.model(x)


class ReferenceLocal(nn.Module):
    """LocalEnhancer with one enhancer: the global layers (ngf * 2) but the last three, model1_1 and model1_2."""

    def __init__(self, input_nc: int, ngf: int, n_downsampling: int, n_blocks: int, n_blocks_local: int):
        super().__init__()
        self.model = nn.Sequential(*reference_global_layers(input_nc, ngf * 2, n_downsampling, n_blocks)[:-3])
        self.model1_1 = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True),
                                      nn.Conv2d(ngf, ngf * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(ngf * 2), nn.ReLU(True))
        self.model1_2 = nn.Sequential(*[ReferenceResnetBlock(ngf * 2) for _ in range(n_blocks_local)],
                                      nn.ConvTranspose2d(ngf * 2, ngf, 3, stride=2, padding=1, output_padding=1),
                                      nn.InstanceNorm2d(ngf), nn.ReLU(True), nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh())
        self.downsample = nn.AvgPool2d(3, stride=2, padding=[1, 1], count_include_pad=False)

    def forward(self, x):
        return self.model1_2(self.model1_1(x) + self.model(self.downsample(x)))


class ReferenceMultiscaleD(nn.Module):
    """MultiscaleDiscriminator(getIntermFeat=True): scale<i>_layer<j>, 4x4 convs padded by 2; scale<num_D-1> first."""

    def __init__(self, input_nc: int, ndf: int, n_layers: int, num_D: int):
        super().__init__()
        self.num_D, self.n_stages = num_D, n_layers + 2
        for i in range(num_D):
            widths = [input_nc] + [min(ndf * 2 ** n, 512) for n in range(n_layers + 1)]
            stages = [[nn.Conv2d(widths[0], widths[1], 4, stride=2, padding=2), nn.LeakyReLU(0.2, True)]]
            for n in range(1, n_layers + 1):
                stages.append([nn.Conv2d(widths[n], widths[n + 1], 4, stride=2 if n < n_layers else 1, padding=2),
                               nn.InstanceNorm2d(widths[n + 1]), nn.LeakyReLU(0.2, True)])
            stages.append([nn.Conv2d(widths[-1], 1, 4, stride=1, padding=2)])
            for j, stage in enumerate(stages):
                setattr(self, f'scale{i}_layer{j}', nn.Sequential(*stage))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=[1, 1], count_include_pad=False)

    def forward(self, x):
        results = []
        for i in range(self.num_D):
            features = [x]
            for j in range(self.n_stages):
                features.append(getattr(self, f'scale{self.num_D - 1 - i}_layer{j}')(features[-1]))
            results.append(features[1:])
            x = self.downsample(x)
        return results


def label_map(path) -> np.ndarray:
    """Blocks of label IDs 0..3, saved as an 8-bit one-channel PNG."""
    ids = np.random.default_rng(0).integers(0, LABEL_NC, (HEIGHT // 8, WIDTH // 8)).repeat(8, 0).repeat(8, 1).astype(np.uint8)
    Image.fromarray(ids).save(path)
    return ids


def reference_input(ids: np.ndarray, with_edges: bool) -> torch.Tensor:
    """pix2pixHD's encode_input: one-hot labels, then (from the instance map, here the label map) the edge map."""
    labels = torch.from_numpy(ids.astype(np.int64))[None, None]
    one_hot = torch.zeros(1, LABEL_NC, HEIGHT, WIDTH).scatter_(1, labels, 1.0)
    if not with_edges:
        return one_hot
    edge = torch.zeros(labels.shape, dtype=torch.bool)
    edge[:, :, :, 1:] |= labels[:, :, :, 1:] != labels[:, :, :, :-1]
    edge[:, :, :, :-1] |= labels[:, :, :, 1:] != labels[:, :, :, :-1]
    edge[:, :, 1:, :] |= labels[:, :, 1:, :] != labels[:, :, :-1, :]
    edge[:, :, :-1, :] |= labels[:, :, 1:, :] != labels[:, :, :-1, :]
    return torch.cat((one_hot, edge.float()), 1)


def as_pixels(output: torch.Tensor) -> np.ndarray:
    return np.round((output[0].permute(1, 2, 0).numpy() + 1) / 2 * 255).astype(np.int64)


def predict_matches_reference(tmp_path, reference: nn.Module, with_edges: bool, flags: list[str]) -> None:
    experiment = tmp_path / 'ck' / 'hd'
    experiment.mkdir(parents=True)
    atomic_save(reference.state_dict(), str(experiment / 'latest_net_G.pth'))
    ids = label_map(tmp_path / 'label.png')
    with torch.no_grad():
        expected = as_pixels(reference.eval()(reference_input(ids, with_edges)))
    run_in_process('predict.py', '--name', 'hd', '--checkpoints_dir', str(tmp_path / 'ck'), '--gpu_ids', '-1', *flags,
                   '--label_nc', str(LABEL_NC), '--input', str(tmp_path / 'label.png'), '--output', str(tmp_path / 'out'))
    produced = np.asarray(Image.open(tmp_path / 'out' / 'label.png')).astype(np.int64)
    assert produced.shape == (HEIGHT, WIDTH, 3)
    assert np.abs(produced - expected).max() <= 2


def test_global_generator_through_predict_equals_its_own_output(tmp_path):
    torch.manual_seed(1)
    reference = ReferenceGlobal(LABEL_NC + 1, ngf=8, n_downsampling=2, n_blocks=2)
    predict_matches_reference(tmp_path, reference, with_edges=True,
                              flags=['--netG', 'global', '--ngf', '8', '--n_downsample_global', '2', '--n_blocks_global', '2'])


def test_local_enhancer_through_predict_equals_its_own_output(tmp_path):
    torch.manual_seed(2)
    reference = ReferenceLocal(LABEL_NC, ngf=4, n_downsampling=2, n_blocks=1, n_blocks_local=2)
    predict_matches_reference(tmp_path, reference, with_edges=False,
                              flags=['--netG', 'local', '--ngf', '4', '--n_downsample_global', '2', '--n_blocks_global', '1',
                                     '--n_blocks_local', '2', '--no_instance'])


def test_multiscale_discriminator_loads_strictly_with_continue_train(tmp_path):
    torch.manual_seed(3)
    generator = ReferenceGlobal(LABEL_NC + 1, ngf=8, n_downsampling=2, n_blocks=1)
    discriminator = ReferenceMultiscaleD(LABEL_NC + 1 + 3, ndf=8, n_layers=3, num_D=2)
    experiment = tmp_path / 'hd'
    experiment.mkdir()
    atomic_save(generator.state_dict(), str(experiment / 'latest_net_G.pth'))
    atomic_save(discriminator.state_dict(), str(experiment / 'latest_net_D.pth'))
    model = build_labeled_model(tmp_path, '--name', 'hd', '--continue_train', '--label_nc', str(LABEL_NC), '--ndf', '8')
    assert list(model.netD.state_dict()) == list(discriminator.state_dict())
    pair = torch.randn(1, LABEL_NC + 4, 40, 40)
    with torch.no_grad():
        for ours, theirs in zip(model.netD(pair), discriminator(pair)):
            for feature, expected in zip(ours, theirs, strict=True):
                torch.testing.assert_close(feature, expected)
        torch.testing.assert_close(model.netG(pair[:, :LABEL_NC + 1]), generator(pair[:, :LABEL_NC + 1]))
