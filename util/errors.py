"""The one error type for mistakes a user can fix; entry points print it as one line. Flags are parsed the same
way everywhere (ArgumentParser): no prefix matching, and a mistake in them is one line too."""
import argparse
import functools
import sys
from typing import Callable, TypeVar

Result = TypeVar('Result')


class UserError(Exception):
    """A mistake in flags, files or environment, with a message that says what to do."""


def report_user_errors(main: Callable[..., Result]) -> Callable[..., Result]:
    """Run `main`, turning a UserError into one line on stderr and exit code 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> Result:
        try:
            return main(*args, **kwargs)
        except UserError as err:
            print(f'error: {message_of(err)}', file=sys.stderr)
            sys.exit(2)

    return wrapper


def message_of(err: UserError) -> str:
    """The error's one line; a UserError raised in a data-loader worker comes back wrapped in the worker's
    traceback, whose last line holds the message."""
    return str(err).strip().splitlines()[-1].removeprefix(f'{UserError.__module__}.{UserError.__name__}: ')


class ArgumentParser(argparse.ArgumentParser):
    """argparse as every entry point uses it: a flag is taken only as written (no unique-prefix matching, which took
    pix2pixHD's `--niter 50` as `--niter_fix_global 50`), and a mistake in the flags is one line, not the usage."""

    def __init__(self, **kwargs):
        super().__init__(allow_abbrev=False, **kwargs)

    def error(self, message: str):
        print(f'error: {message} (see {self.prog} --help)', file=sys.stderr)
        sys.exit(2)
