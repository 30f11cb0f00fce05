"""Use every core for work that is the same function over many independent items.

Worker processes are forked, so they inherit the function and everything it closes over
(templates, the catalogue): only the items go out and the results come back, in order.
Small batches, one core, a platform without fork, or a process with other threads running
(`serve`'s watcher), all run in this process instead. Either way the result is the same list.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import multiprocessing
import os
import pickle
import select
import signal
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import IO, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
P = TypeVar("P")
R = TypeVar("R")
MIN_ITEMS = 400  # below this, forking costs more than it saves
CHUNK = 200

# map_ordered's function, its chunks of items and which are taken: set before forking
_work: Callable | None = None
_chunks: list[list] | None = None
_claims = None  # a shared array: 1 for each chunk a process has taken
_spill: IO[bytes] | None = None  # where workers put their results (see _run_claimed)
_spill_end = None  # a shared integer: the end of what was put there


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
    With `after`, the child runs after() once it has sent func's value (not after an error),
    e.g. saving state for the next build, while this process goes on; leaving the context
    waits for it to finish.
    """

    def __init__(
        self,
        func: Callable[[], R],
        jobs: int | None = None,
        nice: int = 0,
        after: Callable[[], None] | None = None,
    ) -> None:
        """`nice`: the child's niceness, for work the build can wait for: where more processes
        want a core than there are cores, the build's others have one first (for good: only a
        privileged process can take back its priority)."""
        self.func, self.after, self.pid, self.fd, self.finishing = func, after, 0, -1, 0
        if (default_jobs() if jobs is None else jobs) > 1 and forkable():
            read, write = os.pipe()

            def child() -> None:  # compute, send, then after()
                os.close(read)
                gc.disable()  # a short life: no need to look for cycles (saves about a sixth)
                if nice:
                    with contextlib.suppress(OSError):
                        os.nice(nice)
                done = []
                _send_outcome(write, lambda: (func(), done.append(True))[0])
                if done and after is not None:
                    after()

            try:
                pid = _fork(child)
            except BaseException:  # e.g. Ctrl-C as the fork ends: no child left behind
                os.close(read)
                os.close(write)
                raise
            os.close(write)
            self.pid, self.fd = pid, read

    def result(self) -> R:
        if not self.pid:
            value = self.func()
            if self.after is not None:
                self.after()
            return value
        (fd, self.fd), (pid, self.pid) = (self.fd, -1), (self.pid, 0)
        if self.after is not None:
            self.finishing = pid  # reaped on leaving the context, once after() is done
        return _outcome(fd, pid, reap=self.after is None)

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc) -> None:
        if self.pid:  # result() was never called: stop the child
            pid, self.pid = self.pid, 0
            _stop(pid)
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)
        pid, self.finishing = self.finishing, 0
        _finish(pid, failed=exc[0] is not None)


def _fork(child: Callable[[], object]) -> int:
    """Fork a child that runs child() and then leaves, whatever happens, without running any
    of the parent's code or exit hooks; return its process number. If the fork fails, or
    Ctrl-C comes as it ends, no child is left behind and the error is raised here."""
    pid = 0
    try:
        with _forking():
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    _quiet_child()
                    child()
                    code = 0
                finally:
                    os._exit(code)
    except BaseException:
        _stop(pid)
        raise
    return pid


def _send_outcome(fd: int, compute: Callable[[], R]) -> None:
    """In a child: compute(), or the error it raised, pickled into the pipe for _outcome."""
    try:
        payload = pickle.dumps((True, compute()), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # noqa: BLE001  the parent re-raises it
        payload = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    with os.fdopen(fd, "wb") as pipe:
        pipe.write(payload)


def _outcome(fd: int, pid: int, reap: bool = True):
    """What a child sent with _send_outcome: its value, or its error raised here. With `reap`,
    once the child has ended; else the caller reaps it, whatever it sent (it may have more to
    do; and until reaped, its process number cannot go to another process)."""
    with os.fdopen(fd, "rb") as pipe:
        payload = pipe.read()
    if reap:
        os.waitpid(pid, 0)
    if not payload:
        raise RuntimeError("a build worker process died")
    ok, value = pickle.loads(payload)
    if not ok:
        raise value
    return value


def _stop(pid: int) -> None:
    """Kill a child and reap it (0: none)."""
    if pid > 0:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _finish(pid: int, failed: bool) -> None:
    """A child that sent its result and runs its after() (0: none): wait for it to finish; if
    the build `failed`, stop it."""
    if pid and not failed:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    else:
        _stop(pid)


def _nothing() -> None:
    """Deferred's default prepare(): a module-level function, so that an Early child can take it."""


class Deferred:
    """func(value, prepare()) in a child forked now, while this process is still small, for a
    value that `send` gives later; `result()` waits for it. The child runs warm_up() at once
    (imports that cost no more than the CPU of a core this process leaves idle), then waits
    using no CPU; it runs prepare() (reading a file) once `prepare_now()` says the value is
    likely to come, or else when it comes.

    A child forked later inherits every page this process has by then: at 10,000 papers
    the related papers' child was the build's largest process. Where forking is not
    possible, or `jobs` is 1, func runs here at `result()`. `cancel()` sends the child away
    (func then runs here, if result() is still asked for). Use as a context manager: a child
    whose result is not taken is stopped. The child ignores Ctrl-C (the parent stops it) and
    leaves, whatever happens, without running any of the parent's code.

    With `after`, func returns (result, rest): the child sends the result, then runs
    after(rest) (e.g. saving state for the next build) while this process goes on; leaving the
    context waits for it to finish.
    """

    def __init__(
        self,
        func: Callable[[T, P], R],
        jobs: int | None = None,
        prepare: Callable[[], P] = _nothing,
        after: Callable[[object], None] | None = None,
        warm_up: Callable[[], object] | None = None,
        early: Early | None = None,
    ) -> None:
        self.func, self.prepare, self.after, self.warm_up = func, prepare, after, warm_up
        self.pid, self.fd, self.to_child, self.finishing = 0, -1, -1, 0
        self.spill: IO[bytes] | None = None
        self.value: T | None = None
        self.sent = self.preparing = False
        if (default_jobs() if jobs is None else jobs) <= 1 or not forkable():
            return
        adopted = early.adopt(func, prepare, after) if early is not None else None
        if adopted is not None:  # forked already, its warm-up done or under way
            self.pid, self.fd, self.to_child, self.spill = adopted
        else:
            self._fork()

    def _fork(self) -> None:
        forked = _fork_with_pipes(self._child)
        if forked is not None:  # else computed in this process
            self.pid, self.fd, self.to_child, self.spill = forked

    def _child(self, pipes: tuple[int, ...], spill: IO[bytes], parent: int) -> None:
        _child_start(pipes, self.warm_up)
        _compute_in_child(self.func, self.prepare, self.after, pipes, spill, _Messages(pipes[2], parent))

    def prepare_now(self) -> None:
        """Let the child run prepare() now, before the value comes (else it waits for it)."""
        if self.pid and not self.sent and not self.preparing:
            self.preparing = True
            _write_all(self.to_child, _message(b""))

    def send(self, value: T) -> None:
        """The value func is called with (once)."""
        if self.sent:
            raise RuntimeError("Deferred.send: a value was sent already")
        self.sent = True
        if self.pid:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            try:
                _write_at(self.spill.fileno(), data)
            except OSError as error:  # a full disk: compute here instead
                log.debug("cannot hand the value over (%s): computing in this process", error)
                self._kill()
                self.value = value
                return
            finally:
                self.spill.close()  # the child has it open: this process need not keep it
            fd, self.to_child = self.to_child, -1
            try:
                _write_all(fd, _message(len(data).to_bytes(8, "big")))
            finally:
                os.close(fd)
        else:
            self.value = value

    def cancel(self) -> None:
        """func is not wanted in the child: it is stopped (at once, even in prepare), and
        result() would compute it here."""
        if self.pid and not self.sent:
            self._kill()

    def abandon(self) -> None:
        """The value sent is not wanted any more: the child is stopped, whatever it is doing
        (after() too), and result() may not be asked for."""
        self._kill()
        _stop(self.finishing)
        self.finishing = 0

    def result(self) -> R:
        if not self.sent:
            raise RuntimeError("Deferred.result: nothing was sent")
        if not self.pid:
            rest: list = []
            result = _split(self.after, self.func(self.value, self.prepare()), rest)  # type: ignore[arg-type]
            if rest:
                self.after(rest[0])
            return result
        (fd, self.fd), (pid, self.pid) = (self.fd, -1), (self.pid, 0)
        if self.after is not None:
            self.finishing = pid  # reaped on leaving the context, once after() is done
        return _outcome(fd, pid, reap=self.after is None)

    def _kill(self) -> None:
        """Stop the child and close what this process held for it."""
        _release(self)

    def __enter__(self) -> Deferred:
        return self

    def __exit__(self, *exc) -> None:
        if self.pid:  # result() was never taken: stop the child
            self._kill()
        pid, self.finishing = self.finishing, 0
        _finish(pid, failed=exc[0] is not None)


def _fork_with_pipes(child: Callable[[tuple[int, ...], IO[bytes], int], None]) -> tuple | None:
    """Fork child(pipes, spill, parent) for a Deferred: (pid, the pipe its result comes on,
    the pipe for messages to it, the spill file its value goes through), or None where no
    child can be forked (no temporary folder, no memory or processes left)."""
    try:
        # The value goes through a file, so that sending it never waits for a child still
        # busy in prepare(); the pipe carries only its size.
        spill = tempfile.TemporaryFile()
    except OSError as error:
        log.debug("no temporary file (%s): no child forked", error)
        return None
    pipes = os.pipe() + os.pipe()  # the result from the child; messages to it
    parent = os.getpid()
    try:
        pid = _fork(lambda: child(pipes, spill, parent))
    except BaseException as error:  # no memory or processes left, or Ctrl-C as the fork ended
        for fd in pipes:
            os.close(fd)
        spill.close()
        if not isinstance(error, OSError):
            raise
        log.debug("cannot fork (%s): no child forked", error)
        return None
    os.close(pipes[1])
    os.close(pipes[2])
    return pid, pipes[0], pipes[3], spill


def _release(holder) -> None:
    """Stop a Deferred's (or an Early's) child and close what was held for it: its pid, fd,
    to_child and spill."""
    pid, holder.pid = holder.pid, 0
    _stop(pid)
    for name in ("fd", "to_child"):
        fd = getattr(holder, name)
        setattr(holder, name, -1)
        if fd >= 0:
            os.close(fd)
    if holder.spill is not None:
        holder.spill.close()
        holder.spill = None


def _compute_in_child(
    func, prepare, after, pipes: tuple[int, ...], spill: IO[bytes], messages: _Messages
) -> None:
    """In a Deferred's child, once warmed up: prepare(), then func(value) once the value comes."""
    ready = None
    data = messages.next()
    while data is not None and ready is None:
        try:  # on prepare_now's message, or with the value
            ready = (True, prepare())
        except BaseException as exc:  # noqa: BLE001  reported once the value comes
            ready = (False, exc)
        if not data:
            data = messages.next()
    if data is not None:
        rest = []

        def compute():
            if not ready[0]:
                raise ready[1]
            value = pickle.loads(_read_at(spill.fileno(), int.from_bytes(data, "big")))
            return _split(after, func(value, ready[1]), rest)

        _send_outcome(pipes[1], compute)
        if rest:
            after(rest[0])


def _split(after, value, rest: list):
    """func's value as sent: all of it, or without `after`'s part (put in `rest`)."""
    if after is None:
        return value
    result, left = value
    rest.append(left)
    return result


def _child_start(pipes: tuple[int, ...], warm_up: Callable[[], object] | None) -> None:
    """A Deferred's child: close the parent's ends of the pipes, then warm up."""
    os.close(pipes[0])
    os.close(pipes[3])
    gc.disable()  # a short life: no need to look for cycles
    if warm_up is not None:
        with contextlib.suppress(Exception):  # prepare() meets the same error, and reports it
            warm_up()


class Early:
    """A Deferred's child forked at the start of a process, before its large imports: it runs
    warm_up() on another core while this process imports the rest, then waits, using no CPU,
    for the Deferred that adopts it (see Deferred's `early`) to say what to compute. That
    Deferred's func, prepare and after go to it pickled, so they must be module-level
    functions (or partials of them) of modules that are quick to import; if they cannot be
    pickled, the Deferred forks a child of its own. Use as a context manager: a child not
    adopted is stopped (it would leave by itself once this process ends)."""

    def __init__(self, warm_up: Callable[[], object] | None = None, jobs: int | None = None) -> None:
        self.pid, self.fd, self.to_child = 0, -1, -1
        self.spill: IO[bytes] | None = None
        if (default_jobs() if jobs is None else jobs) <= 1 or not forkable():
            return
        forked = _fork_with_pipes(lambda pipes, spill, parent: _early_child(pipes, spill, parent, warm_up))
        if forked is not None:  # else the Deferred forks its own child later
            self.pid, self.fd, self.to_child, self.spill = forked

    def adopt(self, func: Callable, prepare: Callable, after: Callable | None) -> tuple | None:
        """Give the child its work: (pid, result pipe, message pipe, spill file) for the
        Deferred to use, or None (no child, or work that cannot be pickled)."""
        if not self.pid:
            return None
        try:
            program = pickle.dumps((func, prepare, after), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError) as error:
            log.debug("the early child cannot take this work (%s)", error)
            self.close()
            return None
        _write_all(self.to_child, _message(program))
        adopted = (self.pid, self.fd, self.to_child, self.spill)
        self.pid, self.fd, self.to_child, self.spill = 0, -1, -1, None
        return adopted

    def close(self) -> None:
        """Stop the child if no Deferred adopted it."""
        _release(self)

    def __enter__(self) -> Early:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _early_child(pipes: tuple[int, ...], spill: IO[bytes], parent: int, warm_up) -> None:
    """Early's child: warm up, learn the work, then do what a Deferred's child does."""
    _child_start(pipes, warm_up)
    messages = _Messages(pipes[2], parent)
    program = messages.next()
    if not program:  # not adopted: this process ended, or stopped us
        return
    try:
        func, prepare, after = pickle.loads(program)
    except Exception as exc:  # noqa: BLE001  e.g. a module that fails to import: as prepare()'s
        func, prepare, after = None, functools.partial(_raise, exc), None  # error, in result()
    _compute_in_child(func, prepare, after, pipes, spill, messages)


def _raise(error: BaseException):
    raise error


def _write_at(fd: int, data: bytes, start: int = 0) -> None:
    """All of `data` into a file, from `start` (as _read_at reads it back)."""
    view = memoryview(data)
    while view:
        view = view[os.pwrite(fd, view, start + len(data) - len(view)) :]


def _read_at(fd: int, size: int, start: int = 0) -> bytes:
    """`size` bytes of a file, from `start`."""
    data = bytearray()
    while len(data) < size:
        chunk = os.pread(fd, size - len(data), start + len(data))
        if not chunk:
            raise EOFError(f"a value of {size} bytes ends after {len(data)}")
        data += chunk
    return bytes(data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    with contextlib.suppress(BrokenPipeError):  # a dead child: result() says so
        while view:
            view = view[os.write(fd, view) :]


class HelperLost(Exception):
    """The helper process is gone (killed, or out of memory): compute elsewhere."""


class Helper:
    """A process forked now, while this one is small, that computes for it as long as it
    lives: for a long-lived process (serve's builder), which is big once it has built, and
    whose every fork would cost it a page fault for each page it writes afterwards (about
    0.3 s a rebuild at 10,000 papers).

    Each value `submit`ted is computed as func(value, kept) -> (result, kept, after): `kept`
    is what the last call handed on (None at first, and after an error), `after` (or None)
    runs once the result is sent, as `result()` takes it. One value at a time; a result not
    taken is dropped at the next submit. Where forking is not possible, `submit` says so.
    """

    def __init__(self, func: Callable) -> None:
        self.func, self.pid, self.conn, self.owed = func, 0, None, 0
        if not forkable():
            return
        ours, theirs = multiprocessing.Pipe()
        parent = os.getpid()

        def child() -> None:
            ours.close()
            self._serve(theirs, parent)

        try:
            pid = _fork(child)
        except BaseException as error:
            ours.close()
            theirs.close()
            if not isinstance(error, OSError):
                raise
            log.debug("cannot fork a helper (%s): computing elsewhere", error)
            return
        theirs.close()
        self.pid, self.conn = pid, ours
        self._finalizer = weakref.finalize(self, _end_helper, pid, ours, parent)

    def _serve(self, conn, parent: int) -> None:
        """In the helper: compute each value sent, until the pipe closes or the parent is gone."""
        kept = None
        while True:
            while not conn.poll(1.0):
                if os.getppid() != parent:
                    return
            try:
                value = conn.recv()
            except (EOFError, OSError):
                return
            after = None
            try:
                result, kept, after = self.func(value, kept)
                reply = (True, result)
            except BaseException as exc:  # noqa: BLE001  the parent raises it
                reply, kept = (False, RuntimeError(f"{type(exc).__name__}: {exc}")), None
            try:
                conn.send(reply)
            except (OSError, ValueError):
                return
            if after is not None:
                after()

    def submit(self, value) -> bool:
        """Hand `value` to the helper; False if there is none (or no longer one)."""
        if self.conn is None:
            return False
        try:
            while self.owed:  # a result never asked for (that build failed)
                self._reply()
            self.conn.send(value)
        except HelperLost:
            return False
        except OSError:
            self._lose()
            return False
        self.owed = 1
        return True

    def result(self):
        """The result for the value submitted last; HelperLost if the helper died meanwhile."""
        ok, value = self._reply()
        if not ok:
            raise value
        return value

    def _reply(self) -> tuple[bool, object]:
        try:
            reply = self.conn.recv()
        except (EOFError, OSError) as error:
            self._lose()
            raise HelperLost(str(error) or "the helper process ended") from None
        self.owed = 0
        return reply

    def _lose(self) -> None:
        log.warning("a helper process ended unexpectedly; its work is done elsewhere from now on")
        self._finalizer()
        self.conn, self.pid, self.owed = None, 0, 0

    def close(self) -> None:
        """Stop the helper (a computation it is running is abandoned)."""
        if self.conn is not None:
            self._finalizer()
            self.conn, self.pid = None, 0


def _end_helper(pid: int, conn, owner: int) -> None:
    """Close the helper's pipe, which ends it once it is done with what it is doing (a second
    at most is waited for: then it is stopped); reap it."""
    if os.getpid() != owner:  # a forked copy of the owner: not its helper
        return
    conn.close()
    for _ in range(100):
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:  # reaped already
            return
        time.sleep(0.01)
    _stop(pid)


def _message(payload: bytes) -> bytes:
    """A message as _Messages reads it: its length, then itself."""
    return len(payload).to_bytes(8, "big") + payload


class _Messages:
    """Length-prefixed messages from a pipe (not read up to end of file: processes forked
    since hold its other end too)."""

    def __init__(self, fd: int, parent: int) -> None:
        self.fd, self.parent, self.data = fd, parent, bytearray()
        self.poller = select.poll()
        self.poller.register(fd, select.POLLIN)

    def next(self) -> bytes | None:
        """The next message; None once the pipe is closed or the parent is gone."""
        while len(self.data) < 8 or len(self.data) - 8 < int.from_bytes(self.data[:8], "big"):
            if not self.poller.poll(1000):
                if os.getppid() != self.parent:
                    return None
                continue
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return None
            self.data += chunk
        end = 8 + int.from_bytes(self.data[:8], "big")
        message, self.data = bytes(self.data[8:end]), self.data[end:]
        return message


def forkable() -> bool:
    """Whether this process may fork workers: it can, and it runs no other thread."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


_HELD = {signal.SIGINT, signal.SIGTERM}


def _quiet_child() -> None:
    """In a forked process: Ctrl-C is the parent's to handle (it stops its children), and
    SIGTERM ends the process without a traceback; then the signals held back across the
    fork (see _forking) arrive."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)


@contextlib.contextmanager
def _forking():
    """Hold SIGINT and SIGTERM back while forking, until the child has its own handlers (see
    _quiet_child): the CLI's turn them into KeyboardInterrupt, which a child must never raise.
    A signal held back arrives in the parent as the block ends, which may raise there: so
    a caller records its child inside the block, and stops it if the block raises."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, ())  # the mask as it is
    parent = os.getpid()
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
        yield
    finally:
        if os.getpid() == parent:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _claim(i: int) -> bool:
    """Take chunk i of the map running now, unless another process took it first."""
    assert _claims is not None
    with _claims.get_lock():
        if _claims[i]:
            return False
        _claims[i] = 1
        return True


def _run_claimed(i: int) -> tuple[int, int, int]:
    """In a worker: chunk i's results, pickled into the spill file: (i, where, size), or
    (i, -1, 0) if the parent took the chunk. Sent back through the pool's pipe (64 KiB), a
    chunk's results (about 1.3 MB of papers) would hold the worker until the parent's thread
    that reads them got the parent's lock again and again: the papers' Markdown at 10,000
    papers took 2.0 s instead of 1.7."""
    assert _work is not None and _chunks is not None and _spill is not None and _spill_end is not None
    if not _claim(i):
        return i, -1, 0
    data = pickle.dumps([_work(item) for item in _chunks[i]], protocol=pickle.HIGHEST_PROTOCOL)
    with _spill_end.get_lock():
        where = _spill_end.value
        _spill_end.value += len(data)
    _write_at(_spill.fileno(), data, where)
    return i, where, len(data)


def map_ordered(
    func: Callable[[T], R],
    items: Sequence[T],
    jobs: int | None = None,
    report: Callable[[int, int], None] | None = None,
    before_forking: Callable[[], None] | None = None,
    beside_workers: Callable[[], None] | None = None,
) -> list[R]:
    """[func(x) for x in items], spread over `jobs` processes when that pays: this one and
    jobs - 1 forked workers. If they are, `before_forking()` is called first, and
    `beside_workers()` once they are started, before this process takes its first chunk.

    This process takes chunks of items from the first on, the workers from the last down,
    until they meet. Working here costs this process nothing more, where a worker copies
    each page of memory it touches: the paper pages of a cold build of 10,000 papers took
    about 0.2 s less than with two workers, and about half a second less of kernel time.
    `report(done, total)` is called as chunks of items finish.
    """
    global _work, _chunks, _claims, _spill, _spill_end
    jobs = default_jobs() if jobs is None else jobs
    chunks = [list(items[i : i + CHUNK]) for i in range(0, len(items), CHUNK)]
    results: list[list[R] | None] = [None] * len(chunks)
    done = 0

    def finished(i: int, chunk_results: list[R]) -> None:
        nonlocal done
        results[i] = chunk_results
        done += len(chunk_results)
        if report:
            report(done, len(items))

    spill = None
    if jobs > 1 and len(items) >= MIN_ITEMS and len(chunks) >= 2 and forkable():
        try:
            spill = tempfile.TemporaryFile()
        except OSError as error:  # nowhere for the workers' results: all here
            log.debug("no temporary file (%s): no workers forked", error)
    if spill is None:
        for i, chunk in enumerate(chunks):
            finished(i, [func(x) for x in chunk])
        return [r for chunk_results in results for r in chunk_results or ()]
    if before_forking is not None:
        try:
            before_forking()
        except BaseException:
            spill.close()
            raise
    context = multiprocessing.get_context("fork")
    _work, _chunks, _claims = func, chunks, context.Array("b", len(chunks))
    _spill, _spill_end = spill, context.Value("q", 0)
    try:
        pool = None
        try:
            with _forking():
                pool = context.Pool(min(jobs - 1, len(chunks) - 1), _quiet_child)
        except BaseException:
            if pool is not None:
                pool.terminate()
            raise
        with pool:
            theirs = pool.imap(_run_claimed, range(len(chunks) - 1, -1, -1), chunksize=1)
            if beside_workers is not None:
                beside_workers()

            def collect(wait: bool) -> bool:
                """Take the workers' next result; False if there is none (yet)."""
                try:
                    i, where, size = theirs.next(None if wait else 0)
                except (StopIteration, multiprocessing.TimeoutError):
                    return False
                if where >= 0:
                    finished(i, pickle.loads(_read_at(_spill.fileno(), size, where)))
                return True

            for i, chunk in enumerate(chunks):
                if not _claim(i):
                    break
                finished(i, [func(x) for x in chunk])
                while collect(wait=False):
                    pass
            while collect(wait=True):
                pass
    finally:
        _spill.close()
        _work = _chunks = _claims = _spill = _spill_end = None
    return [r for chunk_results in results for r in chunk_results or ()]
