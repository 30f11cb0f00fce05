"""Use every core for work that is the same function over many independent items.

Worker processes are forked, so they inherit the function and everything it closes over
(templates, the catalogue): only the items go out and the results come back, in order.
Small batches, one core, a platform without fork, or a process with other threads running
(`serve`'s watcher), all run in this process instead. Either way the result is the same list.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
MIN_ITEMS = 400  # below this, forking costs more than it saves
CHUNK = 200

_work: Callable | None = None  # set before forking; read in the workers


_warned: set[str] = set()  # PAPERCAT_JOBS values already warned about


def default_jobs() -> int:
    """Worker processes to use: PAPERCAT_JOBS if set, else the cores this process may use."""
    setting = os.environ.get("PAPERCAT_JOBS", "")
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    if setting and setting not in _warned:
        _warned.add(setting)
        log.warning("ignoring PAPERCAT_JOBS=%r: not a positive whole number", setting)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Background:
    """func() computed in a forked child while this process goes on; `result()` waits for it.

    Runs in this process, at `result()`, where forking is not possible or not worth it.
    Use as a context manager, so that a child whose result is not wanted is stopped.
    """

    def __init__(self, func: Callable[[], R], jobs: int | None = None) -> None:
        self.func, self.pid, self.fd = func, 0, -1
        if (default_jobs() if jobs is None else jobs) > 1 and forkable():
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: compute, send, leave without running the parent's exit hooks
                os.close(read)
                gc.disable()  # a short life: no need to look for cycles (saves about a sixth)
                try:
                    payload = pickle.dumps((True, func()), protocol=pickle.HIGHEST_PROTOCOL)
                except BaseException as exc:  # noqa: BLE001  the parent re-raises it
                    payload = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
                with os.fdopen(write, "wb") as pipe:
                    pipe.write(payload)
                os._exit(0)
            os.close(write)
            self.pid, self.fd = pid, read

    def result(self) -> R:
        if not self.pid:
            return self.func()
        with os.fdopen(self.fd, "rb") as pipe:
            payload = pipe.read()
        self.fd = -1
        os.waitpid(self.pid, 0)
        self.pid = 0
        if not payload:
            raise RuntimeError("a build worker process died")
        ok, value = pickle.loads(payload)
        if not ok:
            raise value
        return value

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc) -> None:
        if self.pid:  # result() was never called: stop the child
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            os.close(self.fd)
            self.pid = 0


def forkable() -> bool:
    """Whether this process may fork workers: it can, and it runs no other thread."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _run_chunk(items: list) -> list:
    assert _work is not None
    return [_work(item) for item in items]


def map_ordered(
    func: Callable[[T], R],
    items: Sequence[T],
    jobs: int | None = None,
    report: Callable[[int, int], None] | None = None,
) -> list[R]:
    """[func(x) for x in items], spread over `jobs` forked processes when that pays.

    `report(done, total)` is called as chunks of items finish.
    """
    global _work
    jobs = default_jobs() if jobs is None else jobs
    chunks = [list(items[i : i + CHUNK]) for i in range(0, len(items), CHUNK)]
    results: list[R] = []
    if jobs <= 1 or len(items) < MIN_ITEMS or not forkable():
        for chunk in chunks:
            results.extend(func(x) for x in chunk)
            if report:
                report(len(results), len(items))
        return results
    _work = func
    try:
        with multiprocessing.get_context("fork").Pool(min(jobs, len(chunks))) as pool:
            for done in pool.imap(_run_chunk, chunks, chunksize=1):
                results.extend(done)
                if report:
                    report(len(results), len(items))
    finally:
        _work = None
    return results
