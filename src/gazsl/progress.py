"""Progress of long work, on a terminal and off it: one reporter for training, benchmark cells and feature extraction.

On a terminal a tqdm bar; anywhere else (output to a file, a notebook, a log) a line at least every
``interval_s`` seconds (default 30, or ``$GAZSL_PROGRESS_SECONDS``) or every 10 % of the work, whichever
comes first, each naming the phase: a log shows that the work goes on and when it should end, without the
carriage returns a bar leaves in a file. The clock is read after each unit of work (an iteration, a cell, a
batch of photos), so a single unit longer than the interval delays its line until it ends. A ``logging.Logger`` as the sink (``GAZSL(verbose=1).fit``) gets the
same lines at INFO.

Reporting reads the clock and nothing else: no random draws, no change to the work it reports on.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time

from gazsl.io import GazslError

LOGGER = logging.getLogger("gazsl")
INTERVAL_ENV = "GAZSL_PROGRESS_SECONDS"
DEFAULT_INTERVAL_S = 30.0
STEPS = 10  # off a terminal: a line at least every 1/STEPS of the work


def interval_from_env() -> float:
    """Seconds between lines off a terminal: ``$GAZSL_PROGRESS_SECONDS`` where set (a test sets it), else 30."""
    value = os.environ.get(INTERVAL_ENV)
    if value is None:
        return DEFAULT_INTERVAL_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not seconds >= 0:  # NaN too
        raise GazslError(f"${INTERVAL_ENV}={value!r}: expected a number of seconds >= 0")
    return seconds


def clock_text(seconds: float) -> str:
    """1:05:03, 4:12, 0:09: a duration a person reads at a glance."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """``total`` units of the work ``label`` (e.g. "final (phase 2 of 2)"), ``initial`` of them already done (a resumed
    run); ``update`` after each. ``sink``: a text stream (default stderr) or a ``logging.Logger``.

    ``clock`` and ``interval_s`` are injectable so that the rate of the lines can be tested without waiting.
    """

    def __init__(self, label: str, total: int, initial: int = 0, unit: str = "iteration", sink=None,
                 interval_s: float | None = None, clock=time.monotonic):
        self.label, self.total, self.unit, self.done = label, total, unit, initial
        self.sink = sys.stderr if sink is None else sink
        self.interval_s = interval_from_env() if interval_s is None else interval_s
        self.clock, self.initial = clock, initial
        self.started = self.last_time = clock()
        self.last_done, self.postfix = initial, {}
        self.step = max(1, math.ceil(total / STEPS))
        self.bar = None
        if not isinstance(self.sink, logging.Logger) and _is_terminal(self.sink):
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=label, unit=unit, file=self.sink, dynamic_ncols=True)
        else:
            self._line()  # off a terminal, the first line says the work began and how much there is

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = self.clock()
        if self.done - self.last_done >= self.step or now - self.last_time >= self.interval_s:
            self._line(now)

    def set_postfix(self, **values) -> None:
        """Figures shown beside the count (training: its losses), on the bar or in the next line."""
        self.postfix = values
        if self.bar is not None:
            self.bar.set_postfix(values, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.done != self.last_done:  # the line of where it ended, unless the last one said so already
            self._line()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _line(self, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        elapsed = now - self.started
        percent = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        text = f"{self.label}: {self.unit} {self.done}/{self.total}{percent}, {clock_text(elapsed)} elapsed"
        if self.initial < self.done < self.total:  # estimated from this session's pace, as a resumed run has its own
            text += f", about {clock_text(elapsed * (self.total - self.initial) / (self.done - self.initial))} in all"
        if self.postfix:
            text += " [" + ", ".join(f"{k} {v}" for k, v in self.postfix.items()) + "]"
        if isinstance(self.sink, logging.Logger):
            self.sink.info(text)
        else:
            print(text, file=self.sink, flush=True)
        self.last_time, self.last_done = now, self.done


@contextlib.contextmanager
def logging_shown():
    """Within the block, ``LOGGER``'s INFO lines go to stderr if nobody has configured logging (a script, a notebook):
    ``verbose=1`` should show something without a ``logging.basicConfig``; a configured logging is left alone."""
    if LOGGER.hasHandlers():
        yield
        return
    handler, level = logging.StreamHandler(sys.stderr), LOGGER.level
    handler.setFormatter(logging.Formatter("%(message)s"))
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    try:
        yield
    finally:
        LOGGER.removeHandler(handler)
        LOGGER.setLevel(level)


class Silent:
    """A ``Progress`` that reports nothing: ``GAZSL(verbose=0).fit``, a ``run_phase`` given no reporter, an encoder
    asked for no progress."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **values) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> "Silent":
        return self

    def __exit__(self, *exc) -> None:
        pass


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
