"""--model test --model_suffix _A --compile: the forward pass goes through the compiled generator, not a plain alias."""
import os

import torch

from models import create_model
from models.networks import define_G
from options.test_options import TestOptions
from tiny_runs import TINY_NET
from util.checkpoint import atomic_save


class CountingCompile:
    """Stands in for torch.compile: wraps a module and counts the calls that go through the wrapper."""

    calls = 0

    def __init__(self, net):
        self._orig_mod = net

    def __call__(self, *args):
        CountingCompile.calls += 1
        return self._orig_mod(*args)

    def to(self, *args, **kwargs):
        return self

    def eval(self):
        self._orig_mod.eval()
        return self


def test_compiled_suffixed_generator_is_the_one_that_runs(tmp_path, monkeypatch):
    experiment = tmp_path / 'ck' / 'cyclegan'
    os.makedirs(experiment)
    atomic_save(define_G(3, 3, 8, 'resnet_6blocks', 'instance').state_dict(), str(experiment / 'latest_net_G_A.pth'))
    monkeypatch.setattr(torch, 'compile', CountingCompile)
    opt = TestOptions().parse(['--dataroot', str(tmp_path), '--checkpoints_dir', str(tmp_path / 'ck'), '--name', 'cyclegan',
                               '--model', 'test', '--model_suffix', '_A', *TINY_NET, '--norm', 'instance', '--no_dropout',
                               '--compile'])
    model = create_model(opt)
    model.setup(opt)
    model.set_input({'A': torch.zeros(1, 3, 32, 32), 'A_paths': ['x.png']})
    model.test()
    assert CountingCompile.calls == 1 and model.fake.shape == (1, 3, 32, 32)
