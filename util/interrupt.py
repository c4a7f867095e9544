"""SIGINT and SIGTERM during training: finish the current iteration, save `latest`, then exit."""
import signal
import sys


class StopRequest:
    """Records the first SIGINT or SIGTERM instead of dying; a second one acts as usual."""

    def __init__(self):
        self.signum: int | None = None
        self.previous = {signum: signal.signal(signum, self.record) for signum in (signal.SIGINT, signal.SIGTERM)}

    def record(self, signum: int, frame) -> None:
        self.signum = signum
        for other, handler in self.previous.items():
            signal.signal(other, handler)

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def exit(self, where: str) -> None:
        """Exit with 128 + the signal number, as a shell reports a process ended by that signal."""
        print(f'stopped by {signal.Signals(self.signum).name}: saved {where}; resume with --continue_train',
              file=sys.stderr)
        sys.exit(128 + self.signum)
