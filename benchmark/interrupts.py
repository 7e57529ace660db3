"""Ctrl-C while runs train: the first asks the training to stop after the update it is in (the trainer saves
a checkpoint there when the suite keeps them), a second interrupts at once. A process that runs groups installs
this around them (worker.run_group); the trainer only ever asks its ``should_stop``."""
from __future__ import annotations

import signal
import threading

from .train import Stopped


class CtrlC:
    """``with CtrlC() as ctrl_c: train(..., should_stop=ctrl_c.should_stop)``: a stop it asked for leaves the
    block as KeyboardInterrupt; one a scheduler asked for (``also``) leaves as the trainer's Stopped."""

    def __init__(self, also=None):
        self.requested = False
        self._also = also
        self._previous = None

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():  # Python lets only the main thread handle signals
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def should_stop(self) -> bool:
        return self.requested or (self._also is not None and self._also())

    def __exit__(self, kind, exc, tb) -> bool:
        if self._previous is not None:  # whatever ends the block, Ctrl-C goes back to its previous handler
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        if isinstance(exc, Stopped) and self.requested:
            raise KeyboardInterrupt(str(exc)) from None
        return False
