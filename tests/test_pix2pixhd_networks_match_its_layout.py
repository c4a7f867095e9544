"""pix2pixHD's networks in the registry: its full-size parameter counts and state_dict keys, the input channels its
label maps give, the sizes the generators map exactly, and the multiscale D from --model pix2pix too."""
import pytest
import torch

from tiny_runs import build_labeled_model, build_model, label_batch, random_batch
from models import networks


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_full_size_defaults_have_pix2pixhd_parameter_counts_and_keys():
    """Built on the meta device: shapes and counts without the 730 MB of weights. 36 input channels: 35 one-hot label
    channels and the instance edges, as --model pix2pixhd gives its G (test_first_convolution_... checks that)."""
    with torch.device('meta'):
        netG = networks.define_G(36, 3, 64, 'global', 'instance', n_downsample_global=4, n_blocks_global=9)
        netD = networks.define_D(39, 64, 'multiscale', 3, 'instance', num_D=2, intermediate_features=True)
    assert count(netG) == 182_546_755
    assert count(netD) == 5_603_202
    g, d = netG.state_dict(), netD.state_dict()
    assert g['model.1.weight'].shape == (64, 36, 7, 7)  # 35 one-hot label channels + the instance edges
    assert g['model.16.conv_block.5.weight'].shape == (1024, 1024, 3, 3)  # the first residual block
    assert list(g)[-2:] == ['model.38.weight', 'model.38.bias'] and g['model.38.weight'].shape == (3, 64, 7, 7)
    assert d['scale0_layer0.0.weight'].shape == (64, 39, 4, 4)  # + the 3 channels of the photo
    assert d['scale1_layer3.0.weight'].shape == (512, 256, 4, 4)
    assert list(d)[-2:] == ['scale1_layer4.0.weight', 'scale1_layer4.0.bias']


@pytest.mark.parametrize('flags,channels', [([], 5), (['--no_instance'], 4), (['--label_nc', '0'], 4),
                                            (['--label_nc', '0', '--no_instance'], 3)])
def test_first_convolution_sees_labels_plus_instance_edges(tmp_path, flags, channels):
    model = build_labeled_model(tmp_path, '--label_nc', '4', *flags, setup=False)
    assert model.netG.state_dict()['model.1.weight'].shape[1] == channels
    assert model.netD.state_dict()['scale0_layer0.0.weight'].shape[1] == channels + 3


def test_local_enhancer_keys_are_the_global_part_and_model1(tmp_path):
    keys = list(networks.define_G(5, 3, 4, 'local', 'instance', n_downsample_global=2, n_blocks_global=1,
                                  n_blocks_local=1).state_dict())
    global_keys = list(networks.define_G(5, 3, 8, 'global', 'instance', n_downsample_global=2, n_blocks_global=1).state_dict())
    assert [key for key in keys if key.startswith('model.')] == global_keys[:-2]  # the global's last conv is left out
    assert {key.split('.')[0] for key in keys} == {'model', 'model1_1', 'model1_2'}


def test_num_d_1_and_2_give_1_to_2_discriminator_keys(tmp_path):
    one = build_labeled_model(tmp_path, '--label_nc', '4', '--num_D', '1', setup=False).netD.state_dict()
    two = build_labeled_model(tmp_path, '--label_nc', '4', '--num_D', '2', setup=False).netD.state_dict()
    assert 2 * len(one) == len(two) and set(one) < set(two)


def test_without_feature_matching_the_discriminator_has_pix2pixhd_plain_keys(tmp_path):
    keys = build_labeled_model(tmp_path, '--label_nc', '4', '--no_ganFeat_loss', setup=False).netD.state_dict()
    assert {key.split('.')[0] for key in keys} == {'layer0', 'layer1'}


@pytest.mark.parametrize('netG,multiple', [('global', 4), ('local', 8)])
def test_size_multiple_and_any_size_output(netG, multiple):
    assert networks.generator_size_multiple(netG, n_downsample_global=2, n_local_enhancers=1) == multiple
    net = networks.define_G(3, 3, 4, netG, 'instance', n_downsample_global=2, n_blocks_global=1, n_blocks_local=1)
    assert net(torch.randn(1, 3, 2 * multiple, 3 * multiple)).shape == (1, 3, 2 * multiple, 3 * multiple)
    assert networks.run_at_any_size(net, torch.randn(1, 3, 37, 21), multiple).shape == (1, 3, 37, 21)


def test_multiscale_discriminator_returns_every_stage_at_halved_scales():
    net = networks.define_D(6, 4, 'multiscale', n_layers_D=2, norm='instance', num_D=3)
    outputs = net(torch.randn(1, 6, 64, 64))
    assert [len(scale) for scale in outputs] == [4, 4, 4]
    assert [scale[0].shape[-1] for scale in outputs] == [33, 17, 9]  # full image first, then halved twice
    assert [scale[-1].shape[1] for scale in outputs] == [1, 1, 1]


def test_gan_loss_of_a_multiscale_d_is_the_sum_over_its_scales():
    criterion = networks.GANLoss('lsgan')
    outputs = networks.define_D(6, 4, 'multiscale', n_layers_D=2, norm='instance', num_D=2)(torch.randn(1, 6, 32, 32))
    expected = sum(((scale[-1] - 1) ** 2).mean() for scale in outputs)
    torch.testing.assert_close(criterion(outputs, True), expected)


@pytest.mark.parametrize('gan_mode', ['vanilla', 'wgangp'])
def test_pix2pix_trains_with_global_generator_and_multiscale_discriminator(tmp_path, gan_mode):
    model = build_model(tmp_path, '--netG', 'global', '--n_downsample_global', '2', '--n_blocks_global', '1', '--netD',
                        'multiscale', '--load_size', '32', '--crop_size', '32', '--gan_mode', gan_mode)
    before = {key: value.clone() for key, value in model.netD.state_dict().items()}
    model.set_input(random_batch(model))
    model.optimize_parameters()
    assert all(torch.isfinite(torch.tensor(loss)) for loss in model.get_current_losses().values())
    assert any(not torch.equal(before[key], value) for key, value in model.netD.state_dict().items())


def test_synthetic_batch_for_fast_is_a_label_map_step(tmp_path):
    model = build_labeled_model(tmp_path, '--label_nc', '6')
    batch = model.synthetic_batch()
    assert set(batch) == set(label_batch(model)) and batch['label'].max() < 6
    model.set_input(batch)
    model.optimize_parameters()
    assert model.fake_B.shape == (1, 3, 32, 32)


def test_two_local_enhancers_double_the_resolution_twice():
    net = networks.define_G(3, 3, 2, 'local', 'instance', n_downsample_global=1, n_blocks_global=1, n_local_enhancers=2,
                            n_blocks_local=1)
    state = net.state_dict()
    assert {key.split('.')[0] for key in state} == {'model', 'model1_1', 'model1_2', 'model2_1', 'model2_2'}
    assert state['model.1.weight'].shape == (8, 3, 7, 7)  # the global part at ngf * 2 ** 2
    assert networks.generator_size_multiple('local', n_downsample_global=1, n_local_enhancers=2) == 8
    assert net(torch.randn(1, 3, 16, 24)).shape == (1, 3, 16, 24)
