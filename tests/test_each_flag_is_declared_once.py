"""Every flag of train.py, test.py, predict.py, serve.py and export.py is declared in one add_argument line of the
product code, so a grep for `'--ngf'` finds the one place that defines it (the tools under datasets/, scripts/ and
bench/ have flags of their own)."""
import re
from collections import defaultdict

from tiny_runs import REPO

PRODUCT = ['train.py', 'test.py', 'predict.py', 'serve.py', 'export.py',
           *(f'{package}/*.py' for package in ('data', 'models', 'options', 'training', 'util'))]
DECLARATION = re.compile(r"""add_argument\(\s*(?:'-\w',\s*)?'(--\w+)'""")


def declarations() -> dict[str, list[str]]:
    """flag -> the 'file:line' places that declare it."""
    found = defaultdict(list)
    for pattern in PRODUCT:
        for path in sorted(REPO.glob(pattern)):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for flag in DECLARATION.findall(line):
                    found[flag].append(f'{path.relative_to(REPO)}:{number}')
    return found


def test_each_flag_is_declared_in_one_line():
    found = declarations()
    twice = {flag: places for flag, places in found.items() if len(places) > 1}
    assert not twice, f'declared more than once: {twice}'


def test_the_shared_flags_are_found_by_name():
    """The flags predict.py, serve.py and export.py share with train.py are written out, not generated."""
    generated = [f'{path.relative_to(REPO)}:{number}' for pattern in PRODUCT for path in sorted(REPO.glob(pattern))
                 for number, line in enumerate(path.read_text().splitlines(), 1) if re.search(r"add_argument\(f['\"]", line)]
    assert not generated, f'flags declared by a formatted name: {generated}'
    found = declarations()
    for flag in ('--name', '--checkpoints_dir', '--epoch', '--gpu_ids', '--netG', '--ngf', '--norm', '--no_dropout',
                 '--input_nc', '--output_nc', '--direction', '--model', '--n_downsample_global', '--label_nc',
                 '--no_instance', '--batch_size', '--crop_size', '--fast', '--amp', '--phase'):
        assert len(found[flag]) == 1, f'{flag}: {found[flag]}'
