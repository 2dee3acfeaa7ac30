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


def run_in_processes(tasks: list[tuple], jobs: int, run, stop: StopRequest, on_done=None) -> list:
    """``run(*task, threads)`` for every task, ``jobs`` worker processes at a time; their results in task order.

    ``run`` must be a module-level function (the workers import it); ``on_done(task)`` is told of each finished one.
    When ``stop`` fires (the caller holds ``stop_on_signals``), the tasks not started are cancelled, the signal is
    forwarded once to the running ones (which checkpoint and raise ``Interrupted``), and ``Interrupted`` is raised.
    """
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor, wait

    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_leave_signals_to_the_parent) as pool:
        futures = [pool.submit(run, *task, threads) for task in tasks]
        task_of = dict(zip(futures, tasks))
        pending, forwarded = set(futures), False
        while pending:
            finished, pending = wait(pending, timeout=0.2)  # the signal handler only sets a flag: look at it often
            for future in finished:
                if on_done is not None and not future.cancelled() and future.exception() is None:
                    on_done(task_of[future])
            if stop.signum is not None and not forwarded:
                for future in pending:
                    future.cancel()  # tasks not started yet
                for child in multiprocessing.active_children():  # the running ones checkpoint and stop
                    os.kill(child.pid, stop.signum)
                forwarded = True
    if stop.signum is not None:
        stopped = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
        raise next((e for e in stopped if isinstance(e, Interrupted)), None) or Interrupted(stop.signum)
    return [future.result() for future in futures]


def _leave_signals_to_the_parent() -> None:
    """A worker's start: out of the terminal's process group, so that Ctrl-C reaches the parent alone (which
    forwards it once: twice would stop a run without its checkpoint), and deaf to signals between tasks, so that a
    forwarded one stops only workers that are training (``train`` listens while it runs); an idle worker killed by
    it would break the pool and the running tasks with it."""
    import os

    os.setpgrp()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)
