"""Every registry name builds and runs; full-size networks match the reference's parameters and state_dict."""
import json
import math
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
    with torch.device('meta'):  # counts and shapes only: no weights are allocated
        assert count(networks.define_G(3, 3, 64, 'unet_256', 'batch', use_dropout=True)) == 54_413_955
        assert count(networks.define_D(6, 64, 'basic', norm='batch')) == 2_768_705


def test_full_size_state_dict_keys_and_shapes_match_reference():
    with open(os.path.join(FIXTURES, 'reference_state_dict_shapes.json')) as handle:
        reference = json.load(handle)
    with torch.device('meta'):
        generator = networks.define_G(3, 3, 64, 'unet_256', 'batch', use_dropout=True)
        discriminator = networks.define_D(6, 64, 'basic', norm='batch')
    assert list(shapes(generator).items()) == list(reference['unet_256'].items())
    assert list(shapes(discriminator).items()) == list(reference['basic_D'].items())


@pytest.mark.parametrize('netG,size', [('unet_256', 256), ('unet_128', 128), ('resnet_9blocks', 32), ('resnet_6blocks', 32)])
@pytest.mark.parametrize('norm', ['batch', 'instance', 'none'])
def test_every_generator_runs_and_translates_each_image_of_a_batch_on_its_own(netG, size, norm):
    """In eval mode, changing one image of a batch changes that image's output and no other (kaiming init: outputs
    of order 1, where the default N(0, 0.02) leaves some near 1e-6)."""
    torch.manual_seed(0)
    net = networks.define_G(3, 2, 4, netG, norm, use_dropout=True, init_type='kaiming').eval()
    batch = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    changed = batch.clone()
    changed[1] = torch.randn(3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out, out_changed = net(batch), net(changed)
    assert out.shape == (2, 2, size, size)
    torch.testing.assert_close(out_changed[0], out[0], rtol=0, atol=1e-6)
    assert (out_changed[1] - out[1]).abs().mean() > 0.1, 'the output does not depend on the input'


@pytest.mark.parametrize('netD,patches', [('basic', 2), ('n_layers', 6), ('pixel', 32)])
def test_every_discriminator_runs(netD, patches):
    net = networks.define_D(6, 4, netD, n_layers_D=2, norm='batch')
    assert net(torch.randn(2, 6, 32, 32)).shape == (2, 1, patches, patches)


# The first conv of define_D(6, 64, 'basic'): 64 x 6 x 4 x 4 weights, fan in 96, fan out 1024; gain 0.02.
# Expected weight std per init type: normal is the gain; xavier gain * sqrt(2 / (fan_in + fan_out));
# kaiming (fan in, ReLU) sqrt(2 / fan_in); orthogonal has 64 rows of norm gain over 64 * 96 weights.
INIT_STD = {'normal': 0.02, 'xavier': 0.02 * math.sqrt(2 / (96 + 1024)), 'kaiming': math.sqrt(2 / 96),
            'orthogonal': 0.02 * math.sqrt(64 / (64 * 96))}


@pytest.mark.parametrize('init_type', networks.INIT_TYPES)
def test_every_init_type_sets_weights_with_its_spread_and_zero_bias(init_type):
    torch.manual_seed(0)
    first_conv = networks.define_D(6, 64, 'basic', init_type=init_type, init_gain=0.02).model[0]
    assert first_conv.weight.std().item() == pytest.approx(INIT_STD[init_type], rel=0.05)
    assert torch.all(first_conv.bias == 0)


def test_orthogonal_init_gives_orthogonal_rows_of_norm_gain():
    torch.manual_seed(0)
    rows = networks.define_D(6, 64, 'basic', init_type='orthogonal', init_gain=0.5).model[0].weight.detach().reshape(64, -1)
    torch.testing.assert_close(rows @ rows.T, 0.25 * torch.eye(64), rtol=0, atol=1e-5)


def test_instance_norm_convs_keep_their_bias():
    with_instance = shapes(networks.define_G(3, 3, 8, 'resnet_6blocks', 'instance'))
    with_batch = shapes(networks.define_G(3, 3, 8, 'resnet_6blocks', 'batch'))
    assert 'model.1.bias' in with_instance and 'model.1.bias' not in with_batch


@pytest.mark.parametrize('gan_mode', networks.GAN_MODES)
def test_gan_losses_prefer_the_right_target(gan_mode):
    criterion = networks.GANLoss(gan_mode)
    confident_real = torch.full((2, 1, 4, 4), 3.0)
    assert criterion(confident_real, True) < criterion(confident_real, False)


def test_gradient_penalty_is_lambda_times_the_squared_distance_of_the_gradient_norm_from_one():
    """A linear critic's input gradient is its weight w at every point, so the penalty is 10 (|w| - 1)^2 and its
    gradient with respect to w is 20 (|w| - 1) w / |w| (the penalty is differentiable, as training needs)."""
    torch.manual_seed(0)
    critic = torch.nn.Conv2d(6, 1, 32, bias=False)
    real, fake = torch.randn(2, 6, 32, 32), torch.randn(2, 6, 32, 32)
    penalty, gradients = networks.cal_gradient_penalty(critic, real, fake, torch.device('cpu'), lambda_gp=10.0)
    penalty.backward()
    w = critic.weight.detach().flatten()
    torch.testing.assert_close(gradients.detach(), w.expand(2, -1))
    assert penalty.item() == pytest.approx(10 * (w.norm().item() - 1) ** 2, rel=1e-5)
    torch.testing.assert_close(critic.weight.grad.flatten(), 20 * (w.norm() - 1) * w / w.norm(), rtol=1e-4, atol=1e-8)


def schedule_options(policy: str, lr_decay_iters: int = 1) -> SimpleNamespace:
    return SimpleNamespace(lr_policy=policy, epoch_count=1, n_epochs=2, n_epochs_decay=2, lr_decay_iters=lr_decay_iters)


def rates_by_epoch(policy: str, epochs: int, lr_decay_iters: int = 1, metric: float | None = None) -> list[float]:
    """The learning rate of each epoch under `policy`, from a base rate of 1; `metric` is what plateau is given."""
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = networks.get_scheduler(optimizer, schedule_options(policy, lr_decay_iters))
    rates = []
    for _ in range(epochs):
        rates.append(optimizer.param_groups[0]['lr'])
        scheduler.step() if metric is None else scheduler.step(metric)
    return rates


def test_linear_policy_holds_then_decays_to_zero():
    assert rates_by_epoch('linear', 4) == pytest.approx([1.0, 1.0, 2 / 3, 1 / 3])


def test_cosine_policy_anneals_to_zero_over_n_epochs():
    assert rates_by_epoch('cosine', 3) == pytest.approx([1.0, 0.5, 0.0], abs=1e-12)


def test_step_policy_divides_by_ten_every_lr_decay_iters_epochs():
    assert rates_by_epoch('step', 5, lr_decay_iters=2) == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01])


def test_plateau_policy_divides_by_five_after_six_epochs_without_improvement():
    """As the reference: ReduceLROnPlateau(factor 0.2, threshold 0.01, patience 5) on a loss that stays put."""
    assert rates_by_epoch('plateau', 9, metric=1.0) == pytest.approx([1.0] * 7 + [0.2] * 2)


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
