"""Live visdom display that never stalls training: short timeouts, one warning, cheap reconnects."""
import logging
import sys
import time
from typing import Callable

import numpy as np
import visdom

CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 10.0
RETRY_INTERVAL_S = 15.0

logging.getLogger('visdom').setLevel(logging.ERROR)


class QuickVisdom(visdom.Visdom):
    """A visdom client whose requests give up after a few seconds instead of waiting forever."""

    def _handle_post(self, url: str, data=None) -> str:
        return self.session.post(url, data=data or {}, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)).text


class VisdomDisplay:
    """Image grid and loss plot in one visdom env; while no server answers, calls return at once
    and a reconnect is tried at most every `retry_interval` seconds."""

    def __init__(self, server: str, port: int, env: str, display_id: int, ncols: int, title: str,
                 retry_interval: float = RETRY_INTERVAL_S):
        self.server, self.port, self.env = server, port, env
        self.display_id, self.ncols, self.title = display_id, ncols, title
        self.retry_interval = retry_interval
        self.vis: visdom.Visdom | None = None
        self.next_attempt = 0.0
        self.warned = False

    @property
    def loss_window(self) -> str:
        return str(self.display_id)

    @property
    def val_window(self) -> str:
        return f'{self.display_id}_val'

    def image_window(self, index: int = 0) -> str:
        return str(self.display_id + 1 + index)

    @property
    def address(self) -> str:
        return f'{self.server}:{self.port}'

    def connected(self) -> bool:
        """True when a server answers, trying to (re)connect if the last attempt is old enough."""
        if self.vis is not None:
            return True
        if time.monotonic() < self.next_attempt:
            return False
        try:
            self.vis = QuickVisdom(server=self.server, port=self.port, env=self.env,
                                   raise_exceptions=True, use_incoming_socket=False)
        except ConnectionError:
            self.disconnect()
            return False
        if self.warned:
            print(f'visdom server at {self.address} answers again; live display resumed', file=sys.stderr)
            self.warned = False
        return True

    def disconnect(self) -> None:
        self.vis = None
        self.next_attempt = time.monotonic() + self.retry_interval
        if not self.warned:
            self.warned = True
            print(f'warning: no visdom server answers at {self.address}; start one with '
                  f'`python -m visdom.server -port {self.port}`. Training goes on; '
                  f'the display resumes when the server answers.', file=sys.stderr)

    def send(self, draw: Callable[[visdom.Visdom], object]) -> None:
        """Run draw(vis) if connected; a failure drops the connection until the next retry."""
        if not self.connected():
            return
        try:
            draw(self.vis)
        except ConnectionError:
            self.disconnect()

    def show_images(self, images: dict[str, np.ndarray]) -> None:
        """HxWx3 uint8 images: one grid with `ncols` per row, or one window each when ncols <= 0."""
        chw = {label: image.transpose(2, 0, 1) for label, image in images.items()}
        if self.ncols > 0:
            caption = ' | '.join(chw)
            self.send(lambda vis: vis.images(list(chw.values()), nrow=self.ncols, padding=2, win=self.image_window(),
                                             opts=dict(title=f'{self.title} images', caption=caption)))
            return
        for index, (label, image) in enumerate(chw.items()):
            self.send(lambda vis: vis.image(image, win=self.image_window(index), opts=dict(title=label)))

    def plot_losses(self, x: np.ndarray, y: np.ndarray, names: list[str]) -> None:
        """Draw the whole curve (N points of len(names) losses), so a restarted server gets all of it."""
        self.plot(self.loss_window, x, y, names, 'loss over time', 'loss')

    def plot_validation(self, x: np.ndarray, y: np.ndarray, names: list[str]) -> None:
        """The validation metrics against epoch, whole, in their own window."""
        self.plot(self.val_window, x, y, names, 'validation', 'value')

    def plot(self, window: str, x: np.ndarray, y: np.ndarray, names: list[str], title: str, ylabel: str) -> None:
        xs = np.tile(x[:, None], (1, len(names)))
        self.send(lambda vis: vis.line(X=xs, Y=y, win=window, opts=dict(title=f'{self.title} {title}', legend=names,
                                                                       xlabel='epoch', ylabel=ylabel)))
