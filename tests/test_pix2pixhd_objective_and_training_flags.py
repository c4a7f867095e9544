"""--model pix2pixhd's objective against written-out computations (VGG19 perceptual loss, D feature matching,
instance edges) and its training flags (--lambda_feat, --niter_fix_global, --load_pretrain), each changing what it says."""
import urllib.error

import pytest
import torch
import torch.nn.functional as F
from torchvision.models import VGG19_Weights, vgg19

from tiny_runs import build_labeled_model, build_model, label_batch
from models import label_maps, networks
from util.checkpoint import atomic_save
from util.errors import UserError


def one_step(model, seed: int = 0):
    model.set_input(label_batch(model, seed))
    model.optimize_parameters()
    return model


def test_vgg_loss_matches_a_written_out_computation(vgg19_cache, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', vgg19_cache)
    loss = networks.VGGLoss()
    fake, real = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    layers = vgg19(weights=VGG19_Weights.IMAGENET1K_V1).features
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x, y = ((fake + 1) / 2 - mean) / std, ((real + 1) / 2 - mean) / std
    expected = 0.0
    for end, weight in zip((2, 7, 12, 21, 30), (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)):  # relu1_1 .. relu5_1
        start = {2: 0, 7: 2, 12: 7, 21: 12, 30: 21}[end]
        for index in range(start, end):
            x, y = layers[index](x), layers[index](y)
        expected += weight * (x - y).abs().mean()
    torch.testing.assert_close(loss(fake, real), expected)
    assert not any(param.requires_grad for param in loss.parameters())


def test_missing_vgg_weights_offline_is_one_line_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError('no network')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', offline)
    with pytest.raises(UserError) as caught:
        build_labeled_model(tmp_path, '--label_nc', '4', vgg=True, setup=False)
    message = str(caught.value)
    assert 'vgg19-dcbb9e9d.pth' in message and str(tmp_path / 'hub' / 'checkpoints') in message
    assert '--no_vgg_loss' in message and '\n' not in message


def test_model_trains_with_the_vgg_loss_weighted_by_lambda_feat(vgg19_cache, monkeypatch, tmp_path):
    monkeypatch.setenv('TORCH_HOME', vgg19_cache)
    model = one_step(build_labeled_model(tmp_path, '--label_nc', '4', '--lambda_feat', '3', vgg=True))
    assert model.loss_names == ['G_GAN', 'G_GAN_Feat', 'G_VGG', 'D_real', 'D_fake']
    expected = model.criterionVGG(model.fake_B.detach(), model.real_B) * 3
    torch.testing.assert_close(model.loss_G_VGG.detach(), expected)


def test_feature_matching_matches_the_written_out_sum(tmp_path):
    model = build_labeled_model(tmp_path, '--label_nc', '4', '--num_D', '2', '--n_layers_D', '2', '--lambda_feat', '10')
    model.set_input(label_batch(model))
    model.forward()
    d = model.netD
    with torch.no_grad():
        fake = d(torch.cat((model.input_label, model.fake_B), 1))
        real = d(torch.cat((model.input_label, model.real_B), 1))
        expected = sum(10 * 4 / 3 / 2 * (f - r).abs().mean()
                       for fake_scale, real_scale in zip(fake, real) for f, r in zip(fake_scale[:3], real_scale[:3]))
        torch.testing.assert_close(model.feature_matching(fake, real), expected)


def test_lambda_feat_0_and_10_give_different_generators_after_one_step(tmp_path):
    zero = one_step(build_labeled_model(tmp_path, '--label_nc', '4', '--lambda_feat', '0'))
    ten = one_step(build_labeled_model(tmp_path, '--label_nc', '4', '--lambda_feat', '10'))
    assert zero.loss_G_GAN_Feat == 0 and ten.loss_G_GAN_Feat > 0
    g0, g10 = zero.netG.state_dict(), ten.netG.state_dict()
    assert any(not torch.allclose(g0[key], g10[key]) for key in g0)


def test_niter_fix_global_trains_only_the_local_enhancer_at_first(tmp_path):
    model = build_labeled_model(tmp_path, '--label_nc', '4', '--netG', 'local', '--ngf', '4', '--niter_fix_global', '1')
    start = {key: value.clone() for key, value in model.netG.state_dict().items()}
    one_step(model)
    changed = {key for key, value in model.netG.state_dict().items() if not torch.equal(start[key], value)}
    assert changed and all(key.startswith('model1_') for key in changed)
    assert any(key.startswith('model1_1') for key in changed)
    model.update_learning_rate()  # the end of epoch 1
    one_step(model, seed=1)
    assert any(not torch.equal(start[key], value) for key, value in model.netG.state_dict().items() if key.startswith('model.'))


def test_the_epoch_niter_fix_global_counts_survives_a_resume(tmp_path):
    model = build_labeled_model(tmp_path, '--label_nc', '4', '--netG', 'local', '--ngf', '4', '--niter_fix_global', '1')
    model.update_learning_rate()
    resumed = build_labeled_model(tmp_path, '--label_nc', '4', '--netG', 'local', '--ngf', '4', '--niter_fix_global', '1')
    resumed.load_training_state(model.training_state())
    start = {key: value.clone() for key, value in resumed.netG.state_dict().items() if key.startswith('model.')}
    one_step(resumed)
    assert any(not torch.equal(start[key], resumed.netG.state_dict()[key]) for key in start)


def test_niter_fix_global_needs_a_local_generator(tmp_path):
    with pytest.raises(UserError, match='--niter_fix_global 2 trains only the local enhancer'):
        build_labeled_model(tmp_path, '--label_nc', '4', '--niter_fix_global', '2', setup=False)


def test_load_pretrain_starts_a_local_generator_from_a_global_one(tmp_path):
    trained = one_step(build_labeled_model(tmp_path / 'a', '--label_nc', '4', '--ngf', '8'))
    folder = tmp_path / 'global'
    folder.mkdir()
    for name, net in (('G', trained.netG), ('D', trained.netD)):
        atomic_save(net.state_dict(), str(folder / f'latest_net_{name}.pth'))
    local = build_labeled_model(tmp_path / 'b', '--label_nc', '4', '--netG', 'local', '--ngf', '4', '--load_pretrain', str(folder))
    global_state, local_state = trained.netG.state_dict(), local.netG.state_dict()
    shared = [key for key in local_state if key.startswith('model.')]
    assert shared and all(torch.equal(local_state[key], global_state[key]) for key in shared)
    assert all(torch.equal(value, trained.netD.state_dict()[key]) for key, value in local.netD.state_dict().items())

    with pytest.raises(UserError, match='--load_pretrain'):
        build_labeled_model(tmp_path / 'c', '--label_nc', '4', '--netG', 'local', '--ngf', '8', '--load_pretrain', str(folder))


def test_instance_edges_mark_both_sides_of_every_boundary():
    instances = torch.tensor([[[[1, 1, 2], [1, 1, 2], [3, 3, 3]]]]).float()
    expected = torch.tensor([[[[0, 1, 1], [1, 1, 1], [1, 1, 1]]]]).float()
    assert torch.equal(label_maps.instance_edges(instances), expected)
    encoded = label_maps.encode_input(torch.tensor([[[[0, 2], [1, 1]]]]).float(), None, 3, ['x.png'])
    assert torch.equal(encoded[0].argmax(0), torch.tensor([[0, 2], [1, 1]])) and encoded.sum() == 4


def test_model_input_is_one_hot_labels_then_edges(tmp_path):
    model = build_labeled_model(tmp_path, '--label_nc', '4', setup=False)
    batch = label_batch(model)
    model.set_input(batch)
    assert torch.equal(model.input_label[:, :4].argmax(1, keepdim=True).float(), batch['label'])
    assert torch.equal(model.input_label[:, 4:], label_maps.instance_edges(batch['inst']))
    assert model.real_A.shape == (1, 3, 32, 32) and model.visual_names == ['real_A', 'fake_B', 'real_B']


def test_label_id_out_of_range_is_one_line_naming_the_file(tmp_path):
    model = build_labeled_model(tmp_path, '--label_nc', '4', setup=False)
    batch = label_batch(model)
    batch['label'][0, 0, 3, 3] = 7
    with pytest.raises(UserError) as caught:
        model.set_input(batch)
    assert 'label_0.png' in str(caught.value) and '7' in str(caught.value) and '--label_nc' in str(caught.value)


def test_no_lsgan_picks_the_vanilla_loss(tmp_path):
    model = one_step(build_labeled_model(tmp_path, '--label_nc', '4', '--no_lsgan'))
    assert model.criterionGAN.gan_mode == 'vanilla' and isinstance(model.criterionGAN.loss, torch.nn.BCEWithLogitsLoss)
    logits = model.netD(torch.cat((model.input_label, model.fake_B.detach()), 1))
    expected = sum(F.binary_cross_entropy_with_logits(scale[-1], torch.ones_like(scale[-1])) for scale in logits)
    torch.testing.assert_close(model.criterionGAN(logits, True), expected)


def test_amp_and_channels_last_step_is_finite(tmp_path):
    model = one_step(build_labeled_model(tmp_path, '--label_nc', '4', '--amp', '--channels_last'))
    assert model.fake_B.dtype == (model.amp_dtype or torch.float32)
    assert all(torch.isfinite(torch.tensor(loss)) for loss in model.get_current_losses().values())


def test_test_time_label_maps_without_photos_give_two_visuals(tmp_path):
    model = build_labeled_model(tmp_path, '--label_nc', '4', setup=False)
    batch = label_batch(model)
    del batch['image']
    model.set_input(batch)
    model.test()
    assert list(model.get_current_visuals()) == ['real_A', 'fake_B']
    colours = model.real_A[0].flatten(1).unique(dim=1).shape[1]
    assert colours == batch['label'].unique().numel()  # one colour per class present


def test_aligned_data_with_label_classes_is_one_line_saying_label_nc_0(tmp_path):
    with pytest.raises(UserError, match='add --label_nc 0'):
        build_model(tmp_path, '--model', 'pix2pixhd', '--dataset_mode', 'aligned', '--no_vgg_loss', setup=False)
