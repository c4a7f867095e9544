"""The one error type for mistakes a user can fix; entry points print it as one line."""
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
