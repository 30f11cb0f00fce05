"""`serve`'s builds, in a process of their own, which keeps the warm state between them.

A process with threads runs its builds without worker processes (forking it is unsafe: see
parallel.py), and `serve` has threads: its HTTP server and its file watcher. So the builder is
forked before they start; it has one thread, its builds use every core, and it keeps
`build.Warm` from one build to the next. Where it cannot be forked (`serve` started from a
thread, as the tests do, or one core), builds run in the calling process, warm all the same.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from . import parallel
from .build import Project, Warm, build
from .errors import describe_failure

log = logging.getLogger(__name__)


def build_once(project: Project, warm: Warm, changed: Iterable[str] = ()) -> tuple[str | None, int]:
    """One build: (the failure's report, or None; files written). Logs its outcome."""
    changed = list(changed)
    warm.forget(changed)
    try:
        result = build(project, warm=warm)  # logs its own summary line
    except Exception as exc:  # noqa: BLE001  whatever failed, serve goes on and the next save rebuilds
        report = describe_failure(exc)
        if report is None:
            log.exception("build failed unexpectedly; still serving the last good site")
            report = f"build failed unexpectedly ({type(exc).__name__}: {exc}); see the terminal"
        else:
            log.error("build failed; still serving the last good site\n%s", report)
        return report, 0
    _log_warnings_of(project, result.found, changed)
    return None, result.files_written


SHOWN_WARNINGS = 20  # of the files just saved; `make check` shows them all


def _log_warnings_of(project: Project, warnings, changed: list[str]) -> None:
    """The warnings about the files just saved, in full (the summary line only counts them all)."""
    saved = {Path(path).resolve() for path in changed}
    names = {path.name for path in saved}  # a quick test first: resolving every warning's path costs
    mine = [
        w
        for w in warnings
        if w.path.rpartition("/")[2] in names and (project.root / w.path).resolve() in saved
    ]
    if mine:
        lines = [w.format() for w in mine[:SHOWN_WARNINGS]]
        if len(mine) > SHOWN_WARNINGS:
            lines.append(f"… and {len(mine) - SHOWN_WARNINGS} more (run `make check` to see them)")
        log.warning("in the files just saved:\n%s", "\n".join(lines))


class Builder:
    """Builds `project` on request, in a forked single-threaded process where possible."""

    def __init__(self, project: Project) -> None:
        self.project, self.warm, self.conn, self.pid = project, None, None, 0
        self.lock = threading.Lock()  # one build at a time (serve's first build and its watcher)
        self.closed = False
        if parallel.default_jobs() > 1 and parallel.forkable():
            ours, theirs = multiprocessing.Pipe()
            # Held back until the child has its own handlers: Python's after-fork hooks must
            # not meet the parent's (serve's SIGTERM handler raises KeyboardInterrupt).
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            pid = os.fork()
            if pid == 0:  # the builder: serves build requests until the pipe closes
                ours.close()
                _serve_builds(project, theirs, mask)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            theirs.close()
            self.conn, self.pid = ours, pid
        else:
            self.warm = Warm()

    def build(self, changed: Iterable[str] = ()) -> tuple[str | None, int]:
        """Build once, after `changed` files (which are read again): see build_once."""
        with self.lock:
            return self._build(list(changed))

    def _build(self, changed: list[str]) -> tuple[str | None, int]:
        conn = self.conn  # (close() may be running in another thread: it sets closed, then conn)
        if self.closed:  # serve is stopping: no build starts (its watcher may still ask for one)
            return "serve stopped", 0
        if conn is None:  # no builder process (or it died): build here
            return build_once(self.project, self.warm, changed)
        try:
            conn.send(changed)
            return conn.recv()
        except (EOFError, OSError):
            if self.closed:  # serve is stopping: the build was abandoned, the old site stays
                return "serve stopped during this build", 0
            log.error(
                "the build process stopped unexpectedly (%s); building in this process from now on, "
                "without worker processes: restart serve for faster builds",
                self._ended(),
            )
            self.warm = Warm()
            return build_once(self.project, self.warm, changed)

    def _ended(self) -> str:
        """How the builder process ended: its pipe is closed and it is reaped (builds from now
        on run in this process)."""
        self.conn.close()
        self.conn = None
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return "its exit status is unknown"
        if os.WIFSIGNALED(status):
            return f"killed by signal {os.WTERMSIG(status)}"
        return f"exit status {os.waitstatus_to_exitcode(status)}"

    def close(self) -> None:
        """Stop the builder process (a build it is running is abandoned; the old site stays)."""
        self.closed = True
        if self.conn is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        self._ended()


def _stop(*_) -> None:
    raise SystemExit(0)  # unwinds a running build: its background jobs stop, its tree goes


def _serve_builds(project: Project, conn, mask) -> None:
    """The builder process's life: build on each request, answer, leave when the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for serve, which then stops us
    signal.signal(signal.SIGTERM, _stop)
    code, warm = 0, None
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a SIGTERM held back arrives now
        warm = Warm()
        while True:
            try:
                changed = conn.recv()
            except EOFError:
                break
            result = build_once(project, warm, changed)
            try:
                conn.send(result)
            except BrokenPipeError:  # serve stopped while this build ran: nobody to answer
                break
    except SystemExit:
        pass
    except BaseException:  # noqa: BLE001  reported here; serve tells the page on the next request
        log.exception("the build process failed")
        code = 1
    finally:
        if warm is not None:
            warm.close()  # its helper stops, even in the middle of a computation
        sys.stderr.flush()
        os._exit(code)
