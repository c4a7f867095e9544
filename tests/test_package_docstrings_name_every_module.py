"""Each package's docstring says what it holds: every module of data/, models/, options/, training/ and util/ is named
in it (a dataset or model file found by name, <name>_dataset.py or <name>_model.py, is covered by the rule the
docstring states)."""
import ast
import re

import pytest

from tiny_runs import REPO

PACKAGES = ('data', 'models', 'options', 'training', 'util')
REGISTRY_RULES = {'data': ('_dataset', 'data/X_dataset.py'), 'models': ('_model', 'models/X_model.py')}


def docstring(package: str) -> str:
    return ast.get_docstring(ast.parse((REPO / package / '__init__.py').read_text())) or ''


def modules(package: str) -> list[str]:
    return sorted(path.stem for path in (REPO / package).glob('*.py') if path.stem != '__init__')


@pytest.mark.parametrize('package', PACKAGES)
def test_docstring_names_every_module(package):
    text = docstring(package)
    suffix, rule = REGISTRY_RULES.get(package, (None, None))
    unnamed = [name for name in modules(package) if not re.search(rf'\b{name}\b', text)
               and not (suffix and name.endswith(suffix) and name != f'base{suffix}' and rule in text)]
    assert not unnamed, f'{package}/__init__.py does not say what these hold: {unnamed}'

