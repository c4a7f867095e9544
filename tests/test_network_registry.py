"""Every registry name builds and runs; full-size networks match the reference's parameters and state_dict."""
import json
import os
from types import SimpleNamespace

import pytest
import torch

from models import networks
from util.errors import UserError

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')


def shapes(net: torch.nn.Module) -> dict[str, list[int]]:
    return {key: list(value.shape) for key, value in net.state_dict().items()}


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_full_size_parameter_counts():
    assert count(networks.define_G(3, 3, 64, 'unet_256', 'batch', use_dropout=True)) == 54_413_955
    assert count(networks.define_D(6, 64, 'basic', norm='batch')) == 2_768_705


def test_full_size_state_dict_keys_and_shapes_match_reference():
    with open(os.path.join(FIXTURES, 'reference_state_dict_shapes.json')) as handle:
        reference = json.load(handle)
    generator = networks.define_G(3, 3, 64, 'unet_256', 'batch', use_dropout=True)
    discriminator = networks.define_D(6, 64, 'basic', norm='batch')
    assert list(shapes(generator).items()) == list(reference['unet_256'].items())
    assert list(shapes(discriminator).items()) == list(reference['basic_D'].items())


@pytest.mark.parametrize('netG,size', [('unet_256', 256), ('unet_128', 128), ('resnet_9blocks', 32), ('resnet_6blocks', 32)])
@pytest.mark.parametrize('norm', ['batch', 'instance', 'none'])
def test_every_generator_runs(netG, size, norm):
    net = networks.define_G(3, 2, 4, netG, norm, use_dropout=True)
    out = net(torch.randn(2, 3, size, size))
    assert out.shape == (2, 2, size, size)
    assert out.abs().max() <= 1.0


@pytest.mark.parametrize('netD,patches', [('basic', 2), ('n_layers', 6), ('pixel', 32)])
def test_every_discriminator_runs(netD, patches):
    net = networks.define_D(6, 4, netD, n_layers_D=2, norm='batch')
    assert net(torch.randn(2, 6, 32, 32)).shape == (2, 1, patches, patches)


@pytest.mark.parametrize('init_type', networks.INIT_TYPES)
def test_every_init_type_sets_weights(init_type):
    torch.manual_seed(0)
    net = networks.define_D(6, 8, 'basic', init_type=init_type)
    first_conv = net.model[0]
    assert first_conv.weight.std() > 0
    assert torch.all(first_conv.bias == 0)


def test_instance_norm_convs_keep_their_bias():
    with_instance = shapes(networks.define_G(3, 3, 8, 'resnet_6blocks', 'instance'))
    with_batch = shapes(networks.define_G(3, 3, 8, 'resnet_6blocks', 'batch'))
    assert 'model.1.bias' in with_instance and 'model.1.bias' not in with_batch


@pytest.mark.parametrize('gan_mode', networks.GAN_MODES)
def test_gan_losses_prefer_the_right_target(gan_mode):
    criterion = networks.GANLoss(gan_mode)
    confident_real = torch.full((2, 1, 4, 4), 3.0)
    assert criterion(confident_real, True) < criterion(confident_real, False)


def test_gradient_penalty_is_positive_and_differentiable():
    net = networks.define_D(6, 4, 'basic', norm='instance')
    real, fake = torch.randn(2, 6, 32, 32), torch.randn(2, 6, 32, 32)
    penalty, gradients = networks.cal_gradient_penalty(net, real, fake, torch.device('cpu'))
    penalty.backward()
    assert penalty > 0 and gradients.shape == (2, 6 * 32 * 32)
    assert net.model[0].weight.grad is not None


def schedule_options(policy: str) -> SimpleNamespace:
    return SimpleNamespace(lr_policy=policy, epoch_count=1, n_epochs=2, n_epochs_decay=2, lr_decay_iters=1)


def rates_by_epoch(policy: str, epochs: int) -> list[float]:
    """The learning rate of each epoch under `policy`, from a base rate of 1."""
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = networks.get_scheduler(optimizer, schedule_options(policy))
    rates = []
    for _ in range(epochs):
        rates.append(optimizer.param_groups[0]['lr'])
        scheduler.step()
    return rates


def test_linear_policy_holds_then_decays_to_zero():
    assert rates_by_epoch('linear', 4) == pytest.approx([1.0, 1.0, 2 / 3, 1 / 3])


def test_cosine_policy_anneals_to_zero_over_n_epochs():
    assert rates_by_epoch('cosine', 3) == pytest.approx([1.0, 0.5, 0.0], abs=1e-12)


@pytest.mark.parametrize('policy', ['step', 'plateau', 'cosine'])
def test_other_policies_build_and_step(policy):
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = networks.get_scheduler(optimizer, schedule_options(policy))
    scheduler.step(0.0) if policy == 'plateau' else scheduler.step()
    assert optimizer.param_groups[0]['lr'] <= 1.0


@pytest.mark.parametrize('build,flag,valid', [
    (lambda: networks.define_G(3, 3, 8, 'unet_512'), '--netG', 'unet_256'),
    (lambda: networks.define_D(6, 8, 'huge'), '--netD', 'pixel'),
    (lambda: networks.get_norm_layer('group'), '--norm', 'syncbatch'),
    (lambda: networks.GANLoss('hinge'), '--gan_mode', 'wgangp'),
    (lambda: networks.init_weights(torch.nn.Conv2d(1, 1, 1), 'uniform'), '--init_type', 'orthogonal'),
    (lambda: networks.get_scheduler(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1), schedule_options('exp')),
     '--lr_policy', 'cosine'),
])
def test_unknown_name_gives_clear_error(build, flag, valid):
    with pytest.raises(UserError) as caught:
        build()
    message = str(caught.value)
    assert flag in message and valid in message and '\n' not in message
