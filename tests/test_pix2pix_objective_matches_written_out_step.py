"""One training step of the model equals the pix2pix step written out independently (bench/reference_step.py):
D on (A, G(A) detached) and (A, B), its loss halved; G on GAN + lambda_L1 * L1 with D frozen; Adam with beta1 0.5.
Losses, the gradients each network was updated with, and the updated weights are compared."""
import copy

import pytest
import torch

from bench.reference_step import ReferenceStep
from tiny_runs import build_model, random_batch


def parameters_and_grads(net: torch.nn.Module) -> tuple[dict, dict]:
    params = {name: param.detach().clone() for name, param in net.named_parameters()}
    grads = {name: param.grad.detach().clone() for name, param in net.named_parameters() if param.grad is not None}
    return params, grads


@pytest.mark.parametrize('flags', [[], ['--pool_size', '0'], ['--lambda_L1', '7.5', '--beta1', '0.3', '--lr', '0.001']],
                         ids=['defaults', 'pool_size 0', 'other lambda_L1, beta1, lr'])
def test_model_step_equals_the_written_out_step(tmp_path, flags):
    model = build_model(tmp_path, '--batch_size', '2', *flags)
    opt = model.opt
    reference = ReferenceStep(copy.deepcopy(model.netG), copy.deepcopy(model.netD), lr=opt.lr, beta1=opt.beta1,
                              lambda_L1=opt.lambda_L1)
    batch = random_batch(model)
    for step in range(2):  # the second step runs with non-empty Adam state
        torch.manual_seed(step)  # the same dropout masks in both
        model.set_input(batch)
        model.optimize_parameters()
        torch.manual_seed(step)
        expected = reference(batch['A'], batch['B'])
        for name in ('G_GAN', 'G_L1', 'D_real', 'D_fake', 'D'):
            torch.testing.assert_close(getattr(model, f'loss_{name}'), expected[name], rtol=1e-6, atol=1e-6, msg=name)
        for label, ours, theirs in (('G', model.netG, reference.netG), ('D', model.netD, reference.netD)):
            (our_params, our_grads), (their_params, their_grads) = parameters_and_grads(ours), parameters_and_grads(theirs)
            assert our_grads.keys() == their_grads.keys() and our_grads, label
            for name in our_grads:
                torch.testing.assert_close(our_grads[name], their_grads[name], rtol=1e-5, atol=1e-7,
                                           msg=f'step {step}: gradient of {label}.{name}')
            for name in our_params:
                torch.testing.assert_close(our_params[name], their_params[name], rtol=1e-5, atol=1e-7,
                                           msg=f'step {step}: weight {label}.{name}')
