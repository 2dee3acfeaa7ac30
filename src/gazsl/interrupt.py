"""Stop a run cleanly on SIGTERM (a cluster's preemption) or SIGINT (Ctrl-C).

The first signal only raises a flag: the training loop finishes the iteration
it is in, writes a checkpoint, and raises ``Interrupted``. A second signal of
either kind stops at once, as the default handlers would.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

EXIT_CODES = {signal.SIGTERM: 143, signal.SIGINT: 130}  # 128 + the signal's number, as a shell reports it


class Interrupted(Exception):
    """A run stopped by a signal after checkpointing ``iteration`` of ``phase`` (None: stopped between runs)."""

    def __init__(self, signum: int, phase: str | None = None, iteration: int | None = None):
        super().__init__("interrupted between runs" if phase is None
                         else f"interrupted at iteration {iteration} of phase {phase}")
        self.signum, self.phase, self.iteration = signum, phase, iteration

    def __reduce__(self):  # a table command's worker process sends it back to the command
        return type(self), (self.signum, self.phase, self.iteration)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.signum]


class StopRequest:
    """The signal received so far, if any (``None`` while the run may go on)."""

    def __init__(self):
        self.signum: int | None = None


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Turn SIGTERM and SIGINT into a ``StopRequest`` for the block; the previous handlers come back after it.

    Outside the main thread (where Python cannot install handlers) the request never fires.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {s: signal.getsignal(s) for s in EXIT_CODES}

    def handle(signum, frame):
        if request.signum is not None:  # the second signal: stop now, as the handler before ours would
            signal.signal(signum, previous[signum])
            signal.raise_signal(signum)
        request.signum = signum

    for s in EXIT_CODES:
        signal.signal(s, handle)
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
