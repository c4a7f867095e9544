"""--checkpoint_activations: the same training steps as without it (to float tolerance) for far fewer bytes kept
for the backward; refused with batch norm, whose statistics the recomputed forward would update again."""
import random

import pytest
import torch

from tiny_runs import IMAGE_SIDE, TINY_NET, build_labeled_model, build_model, label_batch, random_batch, run_entry

LOCAL_HD = ['--netG', 'local', '--num_D', '3', '--crop_size', str(IMAGE_SIDE * 2), '--load_size', str(IMAGE_SIDE * 2)]
CASES = {  # pix2pix's resnet generator keeps its dropout: the recomputed forward must draw the same masks
    'pix2pixhd local G, 3-scale D': (lambda folder, *flags: build_labeled_model(folder, *LOCAL_HD, *flags), label_batch),
    'pix2pixhd local G under --amp': (lambda folder, *flags: build_labeled_model(folder, *LOCAL_HD, '--amp', *flags),
                                      label_batch),
    'pix2pix resnet G with dropout': (lambda folder, *flags: build_model(folder, '--norm', 'instance', *flags,
                                                                         net=TINY_NET), random_batch),
}


def two_steps(model, make_batch) -> dict[str, dict[str, torch.Tensor]]:
    for seed in (1, 2):
        torch.manual_seed(seed)
        random.seed(seed)
        model.set_input(make_batch(model, seed))
        model.optimize_parameters()
    return {name: net.state_dict() for name, net in model.networks().items()}


@pytest.mark.parametrize('case', list(CASES))
def test_two_steps_with_and_without_checkpointing_give_the_same_weights(tmp_path, case):
    build, make_batch = CASES[case]
    plain = two_steps(build(tmp_path / 'plain'), make_batch)
    checkpointed = two_steps(build(tmp_path / 'checkpointed', '--checkpoint_activations'), make_batch)
    for name, state in plain.items():
        for key, value in state.items():
            assert torch.allclose(checkpointed[name][key], value, rtol=0, atol=1e-5), f'{name} {key}'
        assert any(not torch.equal(checkpointed[name][key], build_weights) for key, build_weights in
                   build(tmp_path / 'fresh').networks()[name].state_dict().items()), 'the steps changed nothing'


def saved_bytes(run) -> int:
    """Bytes the autograd graph keeps for the backward while `run` executes."""
    total = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        run()
    return total


def test_checkpointing_keeps_far_fewer_bytes_for_the_backward(tmp_path):
    sizes = {}
    for label, flags in (('plain', []), ('checkpointed', ['--checkpoint_activations'])):
        model = build_labeled_model(tmp_path / label, *LOCAL_HD, '--ndf', '32', *flags)  # D's stages outweigh its input
        model.set_input(label_batch(model))
        sizes[label] = {'G': saved_bytes(model.forward),
                        'D': saved_bytes(lambda: model.netD(torch.cat((model.input_label, model.fake_B), 1)))}
    for name in 'GD':
        assert sizes['checkpointed'][name] < 0.5 * sizes['plain'][name], sizes


def test_checkpointing_with_batch_norm_is_refused_in_one_line(tmp_path):
    result = run_entry('train.py', '--dataroot', str(tmp_path), '--name', 'bn', '--checkpoints_dir', str(tmp_path),
                       *TINY_NET, '--checkpoint_activations', check=False)
    assert result.returncode == 2 and result.stderr.count('\n') == 1, result.stderr
    assert '--checkpoint_activations with --norm batch' in result.stderr
