"""train.py --help and test.py --help list every flag of the reference, and this project's own, with its default;
the Translator's defaults for checkpoints without a record are the reference's pix2pix defaults."""
import re

import pytest

from tiny_runs import run_entry
from util.hardware import available_cpus

BASE_FLAGS = {
    'dataroot': None, 'name': 'experiment_name', 'gpu_ids': '0', 'checkpoints_dir': './checkpoints',
    'model': 'pix2pix', 'input_nc': '3', 'output_nc': '3', 'ngf': '64', 'ndf': '64', 'netD': 'basic',
    'netG': 'unet_256', 'n_layers_D': '3', 'norm': 'batch', 'init_type': 'normal', 'init_gain': '0.02',
    'no_dropout': 'False', 'dataset_mode': 'aligned', 'direction': 'AtoB', 'serial_batches': 'False',
    'num_threads': str(min(4, available_cpus())), 'batch_size': '1', 'load_size': '286', 'crop_size': '256', 'max_dataset_size': 'inf',
    'preprocess': 'resize_and_crop', 'no_flip': 'False', 'display_winsize': '256', 'epoch': 'latest',
    'load_iter': '0', 'verbose': 'False', 'suffix': '', 'display_id': '1', 'display_server': 'http://localhost',
    'display_port': '8097', 'display_env': 'main', 'display_ncols': '4',
    'fast': 'False', 'amp': 'False', 'channels_last': 'False', 'compile': 'False', 'fused_adam': 'False',
    'cache_dataset': 'False', 'skip_bad_images': 'False', 'use_wandb': 'False',
    'wandb_project_name': 'CycleGAN-and-pix2pix',
}
TRAIN_FLAGS = {
    'display_freq': '400', 'update_html_freq': '1000', 'print_freq': '100', 'no_html': 'False',
    'save_latest_freq': '5000', 'save_epoch_freq': '5', 'save_by_iter': 'False', 'continue_train': 'False',
    'epoch_count': '1', 'phase': 'train', 'n_epochs': '100', 'n_epochs_decay': '100', 'beta1': '0.5',
    'lr': '0.0002', 'gan_mode': 'vanilla', 'pool_size': '0', 'lr_policy': 'linear', 'lr_decay_iters': '50',
    'lambda_L1': '100.0', 'lambda_gp': '10.0', 'val_dataroot': 'None', 'val_freq': '1', 'num_val': '50',
    'tf_log': 'False',
    'nan_policy': 'stop',
}
TEST_FLAGS = {
    'results_dir': './results/', 'aspect_ratio': '1.0', 'phase': 'test', 'eval': 'False', 'num_test': '50',
    'load_size': '256',
}


def help_entries(help_text: str) -> list[list[str]]:
    """[group title, flag, whole text] of each option entry of argparse's help, in order."""
    entries: list[list[str]] = []
    title, current = None, None
    for line in help_text.splitlines():
        start = re.match(r'^  (?:-\w, )?--(\w+)', line)
        if start:
            current = [title, start.group(1), line]
            entries.append(current)
        elif re.match(r'^\S.*:$', line):
            title = line[:-1]
        elif not line.strip():
            current = None  # a blank line ends a group of flags
        elif current:
            current[2] += ' ' + line.strip()
    return entries


def flag_defaults(help_text: str) -> dict[str, str | None]:
    """Map each option entry of argparse's help to the text of its '(default: ...)'."""
    found = {}
    for _, flag, text in help_entries(help_text):
        default = re.search(r'\(default: (.*?)\)$', text)
        found[flag] = default.group(1) if default else None
    return found


def check_flags(help_text: str, expected: dict) -> None:
    found = flag_defaults(help_text)
    for flag, default in expected.items():
        assert flag in found, f'--{flag} missing from --help'
        if default is not None:
            assert found[flag] == default, f'--{flag}: default {found[flag]!r}, expected {default!r}'


def test_train_help_lists_base_and_train_flags_with_defaults():
    help_text = run_entry('train.py', '--help').stdout
    check_flags(help_text, {**BASE_FLAGS, **TRAIN_FLAGS})


def test_test_help_lists_base_and_test_flags_with_defaults():
    help_text = run_entry('test.py', '--help').stdout
    check_flags(help_text, {**BASE_FLAGS, **TEST_FLAGS})


def test_translator_defaults_are_the_pix2pix_defaults():
    from models.record import REFERENCE_ARCHITECTURE
    found = flag_defaults(run_entry('test.py', '--help').stdout)
    pix2pixhd_only = ('label_nc', 'no_instance', 'instance_feat', 'label_feat', 'feat_num', 'nef', 'n_downsample_E')
    pix2pix_flags = [flag for flag in REFERENCE_ARCHITECTURE if flag not in pix2pixhd_only]
    assert {flag: str(REFERENCE_ARCHITECTURE[flag]) for flag in pix2pix_flags} == {flag: found[flag] for flag in pix2pix_flags}
    assert (REFERENCE_ARCHITECTURE['label_nc'], REFERENCE_ARCHITECTURE['no_instance']) == (0, True)  # image inputs


PIX2PIXHD_TRAIN_FLAGS = {
    'netG': 'global', 'netD': 'multiscale', 'num_D': '2', 'n_layers_D': '3', 'norm': 'instance', 'ngf': '64', 'ndf': '64',
    'n_downsample_global': '4', 'n_blocks_global': '9', 'n_local_enhancers': '1', 'n_blocks_local': '3',
    'label_nc': '35', 'no_instance': 'False', 'dataset_mode': 'labeled', 'preprocess': 'scale_width',
    'load_size': '1024', 'crop_size': '512', 'gan_mode': 'lsgan', 'no_lsgan': 'False', 'pool_size': '0',
    'lambda_feat': '10.0', 'no_ganFeat_loss': 'False', 'no_vgg_loss': 'False', 'niter_fix_global': '0', 'load_pretrain': '',
    'dataroot': './datasets/cityscapes/', 'instance_feat': 'False', 'label_feat': 'False', 'feat_num': '3', 'nef': '16',
    'n_downsample_E': '4', 'n_clusters': '10', 'data_type': '32',
}


def test_train_help_of_pix2pixhd_lists_its_flags_with_its_defaults():
    help_text = run_entry('train.py', '--model', 'pix2pixhd', '--dataset_mode', 'aligned', '--help').stdout
    check_flags(help_text, PIX2PIXHD_TRAIN_FLAGS)


def help_sections(help_text: str) -> dict[str, list[str]]:
    """Map the title of each group of argparse's help ('speed', 'training', ...) to the flags listed under it."""
    sections: dict[str, list[str]] = {}
    for title, flag, _ in help_entries(help_text):
        sections.setdefault(title, []).append(flag)
    return sections


GROUPED_FLAGS = {  # (entry point and flags, {group title: some flags --help must list under it})
    'train': (('train.py',), {
        'experiment and checkpoint': ['dataroot', 'name', 'gpu_ids', 'epoch'], 'networks': ['model', 'netG', 'netD', 'norm'],
        'pix2pixHD generators (--netG global or local)': ['n_downsample_global', 'n_blocks_local'],
        'data loading': ['dataset_mode', 'direction', 'crop_size', 'num_threads'],
        'display and tracking': ['display_id', 'use_wandb'], 'speed': ['fast', 'amp', 'fused_adam'],
        'training progress': ['print_freq', 'tf_log'], 'saving and resuming': ['continue_train', 'epoch_count'],
        'training': ['n_epochs', 'lr', 'gan_mode', 'nan_policy'], 'validation': ['val_freq'],
        "pix2pix's losses": ['lambda_L1', 'lambda_gp']}),
    'test': (('test.py',), {'results': ['results_dir', 'phase', 'num_test', 'eval'], 'speed': ['fast', 'amp']}),
    'pix2pixhd': (('train.py', '--model', 'pix2pixhd'), {
        'label maps': ['label_nc', 'no_instance'], "pix2pixHD's losses and stages": ['lambda_feat', 'niter_fix_global']}),
    'predict': (('predict.py',), {'speed': ['fast', 'amp', 'channels_last', 'compile'],
                                  'architecture (as recorded in training unless given)': ['netG', 'ngf', 'label_nc']}),
}


@pytest.mark.parametrize('entry', GROUPED_FLAGS)
def test_help_lists_the_flags_in_groups(entry):
    """--help is read in sections: each flag of train.py and test.py under the group of its concern, none loose."""
    command, expected = GROUPED_FLAGS[entry]
    sections = help_sections(run_entry(*command, '--help').stdout)
    for title, flags in expected.items():
        assert title in sections, f'no group {title!r} in {command[0]} --help: {list(sections)}'
        assert set(flags) <= set(sections[title]), f'{title}: {sections[title]}'
    if command[0] != 'predict.py':  # predict.py's own flags (input, --output, ...) are its main group
        assert sections['options'] == ['help'], f'flags outside any group: {sections["options"]}'
