"""Signals during training: SIGINT, SIGTERM and SIGHUP save `latest` and stop; SIGUSR1 saves `latest` and goes on.

The handlers only record what arrived; train.py acts at the next safe point (after a step, after the end-of-epoch
work), where under torchrun all ranks agree on it. Loader workers ignore these signals (data.MAIN_PROCESS_SIGNALS),
so a signal sent to the whole process group, as timeout, systemd and Slurm send it, is handled once, here.
Under torchrun a rank may never reach that point: a collective whose peer stopped or died never returns, and Python
runs no handler meanwhile. A thread of its own sees the signal too and ends such a rank (`end_if_peers_stalled`).
"""
import os
import signal
import socket
import sys
import threading

from data import MAIN_PROCESS_SIGNALS
from util import distributed

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
HANDLED_SIGNALS = MAIN_PROCESS_SIGNALS  # the stop signals and SIGUSR1


class TrainingSignals:
    """Records the first stop signal and any save request (SIGUSR1). A second Ctrl-C aborts at once, unsaved."""

    def __init__(self):
        self.stop_signal: int | None = None
        self.save_requested = False
        for signum in STOP_SIGNALS:
            signal.signal(signum, self.record_stop)
        signal.signal(signal.SIGUSR1, self.record_save)
        self.wakeup = socket.socketpair()  # kept here: the interpreter writes to the second while the process runs
        self.wakeup[1].setblocking(False)
        signal.set_wakeup_fd(self.wakeup[1].fileno(), warn_on_full_buffer=False)
        threading.Thread(target=self.end_if_peers_stalled, name='stop-signals', daemon=True).start()

    def end_if_peers_stalled(self) -> None:
        """Under torchrun, exit at once after a stop signal if a peer rank stopped beating, since the main thread
        waits for it in vain. While every peer lives, the main thread answers the signal itself at the next step.
        The interpreter writes each signal's number to the wakeup socket as it arrives, even while the main thread
        is blocked in C code."""
        while (signum := self.wakeup[0].recv(1)[0]) not in STOP_SIGNALS or not distributed.is_distributed():
            pass
        while distributed.is_distributed():
            if stalled := distributed.stalled_peers():
                print(f'stopped by {signal.Signals(signum).name}: rank {", ".join(map(str, stalled))} stopped '
                      f'responding while rank {distributed.get_rank()} waited for it; exiting without saving, the '
                      'last saved checkpoint is intact', file=sys.stderr, flush=True)
                os._exit(128 + signum)

    def record_stop(self, signum: int, frame) -> None:
        if signum == signal.SIGINT and self.stop_signal == signal.SIGINT:
            print('second Ctrl-C: aborting without saving; the last saved checkpoint is intact', file=sys.stderr)
            os._exit(128 + signum)
        if self.stop_signal is None:
            self.stop_signal = signum

    def record_save(self, signum: int, frame) -> None:
        self.save_requested = True

    def poll(self) -> tuple[int | None, bool]:
        """(stop signal, save request) as all ranks see them together; clears the save request.

        The request is taken and cleared in one statement with no call inside, where Python runs no signal handler:
        clearing it after the reduce lost a SIGUSR1 that arrived during it (2 runs in 12 on a 2-core CPU)."""
        save_requested, self.save_requested = self.save_requested, False
        stop, save = distributed.reduce_over_ranks([float(self.stop_signal or 0), float(save_requested)], op='max')
        return int(stop) or None, bool(save)

    @staticmethod
    def exit(signum: int, where: str) -> None:
        """Exit with 128 + the signal number, as a shell reports a process ended by that signal."""
        if distributed.is_main_process():
            print(f'stopped by {signal.Signals(signum).name} {where}: saved latest; resume with --continue_train',
                  file=sys.stderr)
        distributed.shutdown()
        sys.exit(128 + signum)
