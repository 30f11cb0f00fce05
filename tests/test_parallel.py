"""Builds spread over processes give the same site as builds in one process."""

from __future__ import annotations

import functools
import gc
import io
import multiprocessing
import os
import platform
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from generator import parallel
from generator.build import Project, build
from generator.progress import Progress

from .conftest import REPO, paper_text
from .test_build import PAPERS, tree_digest
from .test_cache import MORE


@pytest.fixture
def fork_everything(monkeypatch):
    """Fork for any batch, however small, so that small test catalogues take the parallel path."""
    monkeypatch.setattr(parallel, "MIN_ITEMS", 1)
    monkeypatch.setattr(parallel, "CHUNK", 2)


def test_a_parallel_build_equals_a_serial_one(make_project, tmp_path, fork_everything, monkeypatch):
    forked = []
    forkable = parallel.forkable
    monkeypatch.setattr(parallel, "forkable", lambda: forked.append(forkable()) or forked[-1])
    project = make_project({**PAPERS, **MORE})
    build(project, use_cache=False, jobs=2)
    # papers; related papers, search index (in the background); paper pages. The other pages
    # render here: the two background processes have the cores.
    assert forked == [True] * 4
    serial = Project(project.root, project.content, project.templates, tmp_path / "serial")
    build(serial, use_cache=False, jobs=1)
    assert tree_digest(project.output) == tree_digest(serial.output)
    assert (project.output / "papers/lora-paper/index.html").is_file()


def test_the_search_index_process_keeps_its_parts_for_the_next_build(make_project, fork_everything):
    """The search index's process saves the parts of the abstracts tier and papers.json to the
    cache after it has sent the files, and the build waits for that: the next build (another
    process) updates them in place, with the bytes of a clean build."""
    from generator import in_place
    from generator.cache import Cache, code_version

    project = make_project({**PAPERS, **MORE})
    build(project, jobs=2)
    cache = Cache(project.root / ".cache", code_version())
    tier, records = cache.load_file("in-place-AbstractsTier"), cache.load_file("in-place-PapersJson")
    assert isinstance(tier, in_place.AbstractsTier) and len(tier.texts) == len(PAPERS) + len(MORE)
    assert isinstance(records, in_place.PapersJson) and len(records.records) == len(PAPERS) + len(MORE)
    paper = project.content / "papers" / "lora-paper.md"
    paper.write_text(paper.read_text(encoding="utf-8") + "\nA sentence about tokenizers.\n", encoding="utf-8")
    build(project, jobs=2)
    clean = Project(project.root, project.content, project.templates, project.root / "clean")
    build(clean, use_cache=False, jobs=1)
    assert tree_digest(project.output) == tree_digest(clean.output)
    fresh = Cache(project.root / ".cache", code_version()).load_file("in-place-AbstractsTier")
    assert any("tokenizers" in text for text in fresh.texts)  # saved again, after the edit


def test_map_ordered_keeps_order_and_shares_the_items_with_other_processes(fork_everything):
    items = list(range(25))

    def slowly(x: int) -> tuple[int, int]:  # 1.25 s for all: time enough for a worker to start
        time.sleep(0.05)
        return x, os.getpid()

    for jobs in (2, 3):
        done = parallel.map_ordered(slowly, items, jobs=jobs)
        assert [x for x, _ in done] == items  # each item once, in order
        pids = [pid for _, pid in done]
        # this process takes chunks from the first on, the workers from the last down
        assert pids[0] == os.getpid() != pids[-1]
        here = pids.count(os.getpid())
        assert pids[:here] == [os.getpid()] * here and 0 < here < len(items)
        assert len(set(pids)) <= jobs
    assert parallel.map_ordered(lambda x: x * x, items, jobs=2) == [x * x for x in items]
    assert parallel.map_ordered(lambda _: os.getpid(), items, jobs=1) == [os.getpid()] * 25


def test_map_ordered_brings_back_large_results_whole_from_every_process(fork_everything):
    """Workers put their results in a file, not the pool's pipe: chunks of megabytes arrive
    whole and in order, whichever process made them."""
    items = list(range(450))  # three chunks: this process takes the first, a worker the last

    def big(x: int) -> tuple[int, bytes]:
        time.sleep(0.004)  # 1.8 s in all: time for the worker to start and take its chunks
        return os.getpid(), bytes([x % 256]) * 20_000  # 4 MB a chunk

    done = parallel.map_ordered(big, items, jobs=2)
    assert [data for _, data in done] == [bytes([x % 256]) * 20_000 for x in items]
    assert {pid for pid, _ in done} - {os.getpid()}  # a worker made some


def test_map_ordered_without_a_temporary_file_works_here_alone(fork_everything, monkeypatch):
    """No temporary folder to write in: the workers' results would have nowhere to go, so
    every item is worked here."""
    import tempfile

    def nowhere():
        raise FileNotFoundError("No usable temporary directory found")

    monkeypatch.setattr(tempfile, "TemporaryFile", nowhere)
    done = parallel.map_ordered(lambda x: (x, os.getpid()), list(range(450)), jobs=2)
    assert done == [(x, os.getpid()) for x in range(450)]


def test_background_work_runs_elsewhere_and_reports_failures():
    with parallel.Background(lambda: os.getpid(), jobs=2) as job:
        assert job.result() != os.getpid()
    with (
        parallel.Background(lambda: 1 / 0, jobs=2) as job,
        pytest.raises(RuntimeError, match="ZeroDivisionError"),
    ):
        job.result()
    with parallel.Background(lambda: os.getpid(), jobs=1) as job:
        assert job.result() == os.getpid()


def test_deferred_work_is_forked_first_and_given_its_value_later():
    before = os.getpid()
    big = "x" * 3_000_000  # more than a pipe holds: the child reads while the parent writes
    with parallel.Deferred(
        lambda value, _: (os.getpid(), os.getppid(), len(value[0]), value[1]), jobs=2
    ) as job:
        assert job.pid
        later = [0] * 10**6  # made after the fork: the child never holds it
        keeper = os.fork()  # a process forked meanwhile holds the pipes' ends, which must not matter
        if keeper == 0:
            __import__("time").sleep(5)
            os._exit(0)
        try:
            job.send((big, len(later)))
            pid, parent, size, count = job.result()
        finally:
            os.kill(keeper, 9)
            os.waitpid(keeper, 0)
    assert pid != before and parent == before and size == len(big) and count == 10**6
    with parallel.Deferred(lambda value, ready: (os.getpid(), ready), jobs=2, prepare=os.getpid) as job:
        job.send(None)
        child, prepared_in = job.result()
    assert prepared_in == child != before  # prepared in the child, while it waited
    with parallel.Deferred(lambda value, _: value, jobs=2, prepare=lambda: 1 / 0) as job:
        job.send(1)
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            job.result()
    with parallel.Deferred(lambda value, _: 1 / value, jobs=2) as job:
        job.send(0)
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            job.result()
    with parallel.Deferred(lambda value, _: (os.getpid(), value), jobs=1) as job:
        assert not job.pid
        job.send("here")
        assert job.result() == (os.getpid(), "here")


def test_deferred_work_prepares_when_told_or_else_with_its_value():
    import time

    for early in (True, False):
        with parallel.Deferred(lambda value, ready: ready, jobs=2, prepare=time.monotonic) as job:
            if early:
                job.prepare_now()
                job.prepare_now()  # once is enough
            time.sleep(0.5)
            sent = time.monotonic()
            job.send(None)
            prepared = job.result()
        assert (prepared < sent) == early  # a no-change rebuild never prepares: it cancels


def test_deferred_work_warms_up_at_once_and_a_failed_warm_up_changes_nothing(tmp_path):
    import time

    mark = tmp_path / "warmed"
    with parallel.Deferred(
        lambda value, ready: value + ready, jobs=2, prepare=lambda: 1, warm_up=lambda: mark.write_text("up")
    ) as job:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (mark.exists() and mark.read_text()):  # no message sent yet
            time.sleep(0.01)  # (the file exists a moment before its text: wait for the text)
        assert mark.read_text() == "up"
        job.send(41)
        assert job.result() == 42
    with parallel.Deferred(
        lambda value, ready: value + ready, jobs=2, prepare=lambda: 1, warm_up=lambda: 1 / 0
    ) as job:
        job.send(1)
        assert job.result() == 2


def _double_and_keep(value, ready):  # module-level: an early child gets its work pickled
    return value * 2 + ready, f"kept {value}"


def _one():
    return 1


def _note(path, rest):
    path.write_text(rest)


def _wait_for(path):
    """Until the file has its text (it exists a moment before it has)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (path.exists() and path.read_text()):
        time.sleep(0.01)


def test_an_early_child_warms_up_before_its_work_is_known_then_does_it(tmp_path):
    import functools
    from pathlib import Path

    mark, noted = tmp_path / "warmed", tmp_path / "after"
    with parallel.Early(functools.partial(Path.write_text, mark, "up"), jobs=2) as early:
        pid = early.pid
        assert pid
        _wait_for(mark)
        assert mark.read_text() == "up"  # before any Deferred existed
        after = functools.partial(_note, noted)
        with parallel.Deferred(_double_and_keep, jobs=2, prepare=_one, after=after, early=early) as job:
            assert job.pid == pid and early.pid == 0  # adopted: no other child forked
            job.send(20)
            assert job.result() == 41
    assert noted.read_text() == "kept 20"
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped


def test_an_early_child_not_adopted_is_stopped_and_work_it_cannot_take_forks_its_own():
    with parallel.Early(jobs=2) as early:
        pid = early.pid
        with parallel.Deferred(
            lambda value, ready: value + 1, jobs=2, early=early
        ) as job:  # no pickling a lambda
            assert job.pid not in (0, pid) and early.pid == 0
            with pytest.raises(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # the early child was stopped and reaped
            job.send(1)
            assert job.result() == 2
    with parallel.Early(jobs=2) as early:
        pid = early.pid
        with parallel.Deferred(lambda value, ready: value + 1, jobs=1, early=early) as job:  # here
            assert job.pid == 0 and early.pid == pid
            job.send(2)
            assert job.result() == 3
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # not adopted: stopped on leaving
    assert parallel.Early(jobs=1).pid == 0


def test_an_early_child_that_cannot_load_its_work_says_so_in_the_result(monkeypatch):
    import types

    with parallel.Early(jobs=2) as early:  # forked before the work's module exists
        pid = early.pid
        late = types.ModuleType("papercat_late_module")
        exec("def add(value, ready):\n    return value + 1\n", late.__dict__)
        monkeypatch.setitem(sys.modules, late.__name__, late)
        with parallel.Deferred(late.add, jobs=2, early=early) as job:
            assert job.pid == pid != 0  # adopted: the work pickles here, with the default prepare()
            job.send(1)
            with pytest.raises(RuntimeError, match="ModuleNotFoundError"):
                job.result()


def test_an_early_child_leaves_once_its_process_cannot_reach_it():
    early = parallel.Early(jobs=2)
    pid = early.pid
    os.close(early.to_child)  # as when this process ends
    early.to_child = -1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.waitpid(pid, os.WNOHANG) == (0, 0):
        time.sleep(0.01)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # it left by itself and was reaped above
    early.pid = 0
    early.close()


def _note_once_parent_has_it(go: Path, done: Path, what: str) -> None:
    """A child's after(): waits for the parent to have the result (it makes `go`; given up
    after 20 s), then notes in `done` what it did and which came first."""
    deadline = time.monotonic() + 20
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    done.write_text(f"{what} after {'the result' if go.exists() else 'waiting in vain'}")


def test_deferred_work_sends_its_result_before_its_after_work_and_is_waited_for(tmp_path):
    import time

    go, done = tmp_path / "go", tmp_path / "done"

    def after(rest):
        _note_once_parent_has_it(go, done, rest)

    with parallel.Deferred(lambda value, _: (value * 2, f"saved {value}"), jobs=2, after=after) as job:
        pid = job.pid
        job.send(21)
        assert job.result() == 42  # sent before after() ends: it waits for `go`
        assert not done.exists()
        go.touch()
    assert done.read_text() == "saved 21 after the result"  # leaving waited for after()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped
    kept = []
    with parallel.Deferred(lambda value, _: (value, value + 1), jobs=1, after=kept.append) as job:
        job.send(1)
        assert job.result() == 1 and kept == [2]  # in this process: after() at once
    with (
        pytest.raises(KeyError),
        parallel.Deferred(lambda value, _: (value, None), jobs=2, after=lambda _: time.sleep(60)) as job,
    ):
        pid = job.pid
        job.send(1)
        job.result()
        raise KeyError("a failing build does not wait for after()")
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # stopped and reaped
    with (
        pytest.raises(RuntimeError, match="died"),
        parallel.Deferred(lambda value, _: os._exit(3), jobs=2, after=kept.append) as job,
    ):
        pid = job.pid
        job.send(1)
        job.result()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped too
    assert kept == [2]


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_deferred_work_ignores_ctrl_c_leaks_nothing_and_is_used_once():
    before = open_fds()
    with parallel.Deferred(lambda value, ready: value * ready, jobs=2, prepare=lambda: 2) as job:
        os.kill(job.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group: the parent decides
        __import__("time").sleep(0.2)
        assert os.waitpid(job.pid, os.WNOHANG) == (0, 0)  # still waiting for its value
        with pytest.raises(RuntimeError, match="nothing was sent"):
            job.result()
        job.send(21)
        with pytest.raises(RuntimeError, match="sent already"):
            job.send(1)
        assert job.result() == 42
    for cancelled in (False, True):
        with parallel.Deferred(lambda value, _: value, jobs=2) as job:
            if cancelled:
                job.cancel()
    assert open_fds() == before


def test_deferred_work_waiting_for_a_parent_that_died_leaves():
    read, write = os.pipe()
    middle = os.fork()
    if middle == 0:  # a parent that forks the work, then dies without sending anything
        job = parallel.Deferred(lambda value, _: value, jobs=2)
        os.write(write, str(job.pid).encode())
        os._exit(0)
    os.close(write)
    child = int(os.read(read, 64))
    os.close(read)
    os.waitpid(middle, 0)
    deadline = __import__("time").monotonic() + 10
    while __import__("time").monotonic() < deadline:
        try:
            with open(f"/proc/{child}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    break  # exited (a zombie until its new parent reaps it)
        except FileNotFoundError:
            break
        __import__("time").sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the child outlived its parent")


def test_cancelled_or_unwanted_deferred_work_leaves_no_child():
    with parallel.Deferred(lambda value, _: (os.getpid(), value), jobs=2) as job:
        pid = job.pid
        job.cancel()  # the child leaves; the work, if still asked for, is done here
        job.send(7)
        assert job.result() == (os.getpid(), 7)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    with parallel.Deferred(lambda value, _: value, jobs=2) as job:  # never sent anything
        pid = job.pid
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_abandoned_deferred_work_stops_its_child_even_in_its_after_work(tmp_path):
    marker = tmp_path / "after-ran"
    with parallel.Deferred(_sleepy, jobs=2, after=functools.partial(_mark_after, marker)) as job:
        pid = job.pid
        job.send(0.01)
        time.sleep(0.3)  # the child computed, and is in its slow after-work
        job.abandon()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: nothing left running
    assert not marker.exists()


def _sleepy(value, _):
    time.sleep(value)
    return value, value


def _mark_after(marker, rest) -> None:
    time.sleep(5)
    marker.write_text("after ran")


def test_background_work_sends_its_result_before_its_after_work_and_is_waited_for(tmp_path):
    import time

    go, done = tmp_path / "go", tmp_path / "done"

    def after():
        _note_once_parent_has_it(go, done, "made")

    with parallel.Background(lambda: 42, jobs=2, after=after) as job:
        pid = job.pid
        assert job.result() == 42  # sent before after() ends: it waits for `go`
        assert not done.exists()
        go.touch()
    assert done.read_text() == "made after the result"  # leaving waited for after()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped
    kept = []
    with parallel.Background(lambda: 1, jobs=1, after=lambda: kept.append("here")) as job:
        assert job.result() == 1 and kept == ["here"]  # in this process: after() at once
    with (
        pytest.raises(KeyError),
        parallel.Background(lambda: 1, jobs=2, after=lambda: time.sleep(60)) as job,
    ):
        pid = job.pid
        job.result()
        raise KeyError("a failing build does not wait for after()")
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # stopped and reaped
    with (
        pytest.raises(RuntimeError, match="ZeroDivisionError"),
        parallel.Background(lambda: 1 / 0, jobs=2, after=lambda: done.write_text("after a failure")) as job,
    ):
        pid = job.pid
        job.result()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped too
    assert done.read_text() == "made after the result"  # no after() once the work failed


def test_an_unwanted_background_child_is_stopped():
    with parallel.Background(lambda: __import__("time").sleep(60), jobs=2) as job:
        pid = job.pid
        assert pid
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: nothing left running


def test_a_failed_parallel_build_reports_every_error(make_project, fork_everything):
    from generator.errors import BuildFailed

    bad = {f"bad-{i}": paper_text(f"Broken Paper {i}", topics='["no-such-topic"]') for i in range(5)}
    project = make_project({**PAPERS, **bad})
    with pytest.raises(BuildFailed) as failed:
        build(project, jobs=2)
    assert sorted({e.path for e in failed.value.errors}) == [f"content/papers/bad-{i}.md" for i in range(5)]


def test_jobs_can_be_set_in_the_environment(monkeypatch):
    monkeypatch.setenv("PAPERCAT_JOBS", "3")
    assert parallel.default_jobs() == 3
    monkeypatch.setenv("PAPERCAT_JOBS", "zero")
    assert parallel.default_jobs() >= 1


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_live_on_a_terminal_and_silent_elsewhere(make_project, fork_everything):
    project = make_project({**PAPERS, **MORE})
    terminal = FakeTerminal()
    progress = Progress.on_terminal(terminal)
    progress.interval = 0  # draw every update
    build(project, jobs=2, progress=progress)
    drawn = terminal.getvalue()
    assert "\r" in drawn
    assert f"new or changed papers {len(PAPERS) + len(MORE)}/{len(PAPERS) + len(MORE)}" in drawn
    assert "paper pages and other files" in drawn and "render + write other pages took" in drawn
    progress.clear()
    assert terminal.getvalue().endswith("\r")  # the line is wiped before the summary
    pipe = io.StringIO()
    build(project, progress=Progress.on_terminal(pipe))
    assert pipe.getvalue() == ""


def _number_printed(code: str, mode: str) -> int:
    """What a fresh interpreter prints running `code` with argument `mode` (the allocator's
    settings are the process's own, so each measurement needs a process of its own)."""
    run = subprocess.run(
        [sys.executable, "-c", code, mode], cwd=REPO, capture_output=True, text=True, check=True
    )
    return int(run.stdout)


FAULTS = """
import resource, sys
from generator import allocator
if sys.argv[1] == "kept":
    assert allocator.keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
block = bytearray(16 << 20)  # 16 MiB, zero-filled (every page touched), then freed
del block
before = faults()
block = bytearray(16 << 20)
print(faults() - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc only")
def test_freed_memory_is_kept_for_the_next_large_block_instead_of_faulted_in_again():
    def faults(mode: str) -> int:
        return _number_printed(FAULTS, mode)

    pages = (16 << 20) // resource.getpagesize()
    assert faults("default") > pages // 2  # glibc gave the freed block back: fresh pages again
    assert faults("kept") < pages // 20  # the same memory, reused


def _adding(value, kept):
    """A helper's work for the tests: a running total; `after` writes it to a file."""
    if value == "fail":
        raise ValueError("asked to fail")
    if value == "pid":
        return os.getpid(), kept, None
    path, number = value
    total = (kept or 0) + number
    return total, total, lambda: path.write_text(str(total))


def test_a_helper_computes_elsewhere_keeps_its_state_and_runs_after_work_once_the_result_is_sent(tmp_path):
    helper = parallel.Helper(_adding)
    assert helper.submit("pid") and helper.result() not in (0, os.getpid())
    out = tmp_path / "total"
    for number, total in ((2, 2), (3, 5), (10, 15)):
        assert helper.submit((out, number))
        assert helper.result() == total
    deadline = time.monotonic() + 10
    while not (out.exists() and out.read_text() == "15") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert out.read_text() == "15"
    assert helper.submit("fail")
    with pytest.raises(RuntimeError, match="ValueError: asked to fail"):
        helper.result()
    assert helper.submit((out, 1)) and helper.result() == 1  # after a failure: from nothing
    assert helper.submit((out, 1))  # a result never taken...
    assert helper.submit((out, 5)) and helper.result() == 7  # ...is dropped, its state kept
    pid = helper.pid
    helper.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # ended and reaped
    assert not helper.submit((out, 1))


def test_a_helper_that_died_is_reported_once_and_then_not_used():
    helper = parallel.Helper(_adding)
    assert helper.submit("pid")
    assert helper.result() == helper.pid
    os.kill(helper.pid, signal.SIGKILL)
    assert helper.submit("pid") in (True, False)  # the pipe may not know yet
    with pytest.raises(parallel.HelperLost):
        helper.result()
    assert not helper.submit("pid")


def test_a_helper_ends_with_its_owner_and_is_not_forked_beside_threads():
    helper = parallel.Helper(_adding)
    pid = helper.pid
    del helper
    gc.collect()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        beside = parallel.Helper(_adding)
        assert beside.pid == 0 and not beside.submit("pid")
    finally:
        stop.set()
        thread.join()


GIVE_BACK = """
import os, sys
from generator import allocator
assert allocator.keep_freed_memory()
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
blocks = [bytearray(256 << 10) for _ in range(256)]  # 64 MiB in blocks glibc keeps on its heap
del blocks
kept = resident()
if sys.argv[1] == "give back":
    allocator.give_back_freed_memory()
print(kept - resident())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc only")
def test_freed_memory_kept_can_be_given_back_by_a_process_that_waits():
    def released(mode: str) -> int:
        return _number_printed(GIVE_BACK, mode)

    assert released("keep") < 8 << 20  # freed, but kept for reuse
    assert released("give back") > 48 << 20


def test_map_ordered_gets_ready_for_workers_only_when_it_forks_them():
    """before_forking (the render stage counts the pages' folders as made then) runs once, in
    this process, before workers fork; beside_workers (it makes them) once they are started;
    neither where all items are worked here."""
    import time

    def slow(_):
        time.sleep(0.002)  # a worker is up long before this process could take every chunk
        return os.getpid()

    calls = []
    pids = parallel.map_ordered(
        slow,
        range(parallel.MIN_ITEMS),
        2,
        None,
        lambda: calls.append(("before", os.getpid(), len(multiprocessing.active_children()))),
        lambda: calls.append(("beside", os.getpid(), len(multiprocessing.active_children()))),
    )
    assert calls == [("before", os.getpid(), 0), ("beside", os.getpid(), 1)] and len(set(pids)) == 2
    calls.clear()
    never = (lambda: calls.append(0), lambda: calls.append(0))
    pids = parallel.map_ordered(slow, range(parallel.MIN_ITEMS - 1), 2, None, *never)
    assert set(pids) == {os.getpid()}
    assert parallel.map_ordered(slow, range(10), 1, None, *never) == [os.getpid()] * 10
    assert calls == []
