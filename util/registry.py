"""Finds a class by name in a package: <package>/<name>_<kind>.py defining <Name><Kind> (any case, '_' dropped)."""
import importlib
import os

from util.errors import UserError


def available_names(package_dir: str, kind: str) -> list[str]:
    """Names X of the files X_<kind>.py in `package_dir`, without the base class's file."""
    suffix = f'_{kind}.py'
    return sorted([name[:-len(suffix)] for name in os.listdir(package_dir)
                   if name.endswith(suffix) and name != f'base{suffix}'])


def find_class(package: str, package_dir: str, kind: str, name: str, base: type, flag: str) -> type:
    """The subclass of `base` that <package>/<name>_<kind>.py defines, or a one-line error naming `flag`."""
    names = available_names(package_dir, kind)
    if name not in names:
        raise UserError(f'{flag} {name!r} is unknown; choose one of: {", ".join(names)}')
    module = importlib.import_module(f'{package}.{name}_{kind}')
    class_name = name.replace('_', '') + kind
    for attr, cls in vars(module).items():
        if attr.lower() == class_name and isinstance(cls, type) and issubclass(cls, base):
            return cls
    raise UserError(f'{package}/{name}_{kind}.py must define a {base.__name__} subclass named {class_name} (any case)')
