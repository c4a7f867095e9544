"""--continue_train from a reference checkpoint (networks only) starts from them and counts from --epoch_count."""
import os
import re

import pytest
import torch

from tiny_runs import TINY_UNET, run_entry

pytestmark = pytest.mark.slow  # training runs, servers or browsers: left out of scripts/test.sh --quick


def conv_weights(path: str) -> dict[str, torch.Tensor]:
    state = torch.load(path, weights_only=True)
    return {key: value for key, value in state.items() if key.endswith('weight') and value.dim() == 4}


def test_continue_train_from_networks_only_counts_from_epoch_count(tiny_dataset, tmp_path):
    checkpoints = str(tmp_path / 'checkpoints')
    common = ['--dataroot', tiny_dataset, '--name', 'resume', '--checkpoints_dir', checkpoints, '--print_freq', '4',
              '--no_dropout', *TINY_UNET]
    run_entry('train.py', *common, '--n_epochs', '1', '--n_epochs_decay', '0', '--save_epoch_freq', '1')
    saved = {net: conv_weights(os.path.join(checkpoints, 'resume', f'1_net_{net}.pth')) for net in 'GD'}
    os.remove(os.path.join(checkpoints, 'resume', '1_train_state.pth'))

    result = run_entry('train.py', *common, '--continue_train', '--epoch', '1', '--epoch_count', '2',
                       '--n_epochs', '2', '--n_epochs_decay', '0', '--lr', '0', '--save_epoch_freq', '1')
    assert 'loading the model from' in result.stdout and '1_net_G.pth' in result.stdout
    assert 'resuming the networks only' in result.stdout
    with open(os.path.join(checkpoints, 'resume', 'loss_log.txt')) as log:
        epochs = [int(e) for e in re.findall(r'\(epoch: (\d+),', log.read())]
    assert epochs == [1, 2]
    for net in 'GD':
        resumed = conv_weights(os.path.join(checkpoints, 'resume', f'2_net_{net}.pth'))
        for key, value in saved[net].items():
            assert torch.equal(resumed[key], value), f'{net}: {key} did not come from the checkpoint'
