"""`serve`: rebuilds after a file edit and tells the open page; errors keep the last good site."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
import urllib.error
import urllib.request

import pytest

from generator.serve import EVENTS, RELOAD_JS

from .conftest import paper_text, serving, write_tree


@pytest.fixture
def served(make_project):
    project = make_project({"a-paper": paper_text("First Title")})
    with serving(project) as url:
        yield project, url


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def events(url: str) -> queue.Queue:
    """Read the server-sent event stream in the background; yields (event, data) pairs."""
    out: queue.Queue = queue.Queue()

    def read():
        with urllib.request.urlopen(url + EVENTS, timeout=60) as stream:
            name = None
            for raw in stream:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    out.put((name, json.loads(line[6:])))

    threading.Thread(target=read, daemon=True).start()
    return out


def test_pages_get_the_reload_script_and_it_is_served(served):
    _, url = served
    assert f'<script src="{RELOAD_JS}"></script>' in get(url + "/")
    assert "EventSource" in get(url + RELOAD_JS)
    assert "First Title" in get(url + "/papers/a-paper/")


def test_a_missing_page_gets_the_site_s_404_page_with_working_links(served):
    """As a host does: the site's own 404 page, whose links (to base_url's path) are made to
    start at the server's root, where serve has the site."""
    _, url = served
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url + "/no/such/page/", timeout=10)
    assert caught.value.code == 404
    page = caught.value.read().decode()
    assert "Page not found" in page and f'<script src="{RELOAD_JS}"></script>' in page
    assert 'href="/static/style.css"' in page and 'action="/search/"' in page
    assert "body" in get(url + "/static/style.css")  # the stylesheet it links to is there
    assert "First Title" in get(url + "/papers/a-paper/")


def test_edit_rebuilds_and_reloads_then_errors_keep_last_good_site(served):
    project, url = served
    stream = events(url)
    paper = project.content / "papers" / "a-paper.md"
    paper.write_text(paper_text("Second Title"))
    assert stream.get(timeout=20) == ("reload", "")
    assert "Second Title" in get(url + "/papers/a-paper/")
    write_tree(project.root, {"content/papers/broken.md": "---\ntitle: 1984\n---\n"})
    name, report = stream.get(timeout=20)
    assert name == "error-report"
    assert "content/papers/broken.md:2:8: 'title' must be a string" in report
    assert "Second Title" in get(url + "/papers/a-paper/")  # last good site still served
    (project.content / "papers" / "broken.md").unlink()
    assert stream.get(timeout=20) == ("reload", "")


def test_a_template_error_is_shown_and_the_next_save_rebuilds(make_project, tmp_path):
    import shutil

    from generator.build import Project

    from .conftest import REPO

    base = make_project({"a-paper": paper_text("First Title")})
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    project = Project(base.root, base.content, tmp_path / "templates", base.output)
    page = project.templates / "paper.html"
    good = page.read_text()
    with serving(project) as url:
        stream = events(url)
        page.write_text(good.replace("</article>", "{{ oops </article>", 1))
        name, report = stream.get(timeout=20)
        assert name == "error-report" and "paper.html" in report and "template error" in report
        page.write_text(good.replace("</article>", "{{ no_such_value }}</article>", 1))
        name, report = stream.get(timeout=20)
        assert name == "error-report" and "no_such_value" in report  # an undefined name, at render
        page.write_text(good)
        assert stream.get(timeout=20) == ("reload", "")
        paper = project.content / "papers" / "a-paper.md"
        paper.write_text(paper_text("Second Title"))
        assert stream.get(timeout=20) == ("reload", "")  # the watcher still runs
        assert "Second Title" in get(url + "/papers/a-paper/")


def test_editor_files_and_saves_that_change_nothing_do_not_reload_the_page(served, monkeypatch):
    import generator.serve

    project, url = served
    stream, rebuilt = events(url), queue.Queue()
    real = generator.serve.rebuild
    monkeypatch.setattr(generator.serve, "rebuild", lambda *a: rebuilt.put(real(*a)))
    papers = project.content / "papers"
    (papers / "#a-paper.md#").write_text("emacs autosave")  # ignored by the watcher and the build
    paper = papers / "a-paper.md"
    paper.write_text(paper.read_text())  # saved unchanged: rebuilt, nothing written
    assert rebuilt.get(timeout=20) is True  # rebuilt: any reload was sent before this
    with pytest.raises(queue.Empty):
        stream.get(timeout=0.5)
    paper.write_text(paper_text("Third Title"))
    assert stream.get(timeout=20) == ("reload", "")  # one reload, for the real change
    assert "Third Title" in get(url + "/papers/a-paper/")
    assert rebuilt.get(timeout=20) is True
    with pytest.raises(queue.Empty):  # and no other: a second rebuild would come within a second
        stream.get(timeout=1)
    assert rebuilt.empty()


def test_the_watcher_ignores_what_the_build_ignores():
    from watchfiles import Change

    from generator.serve import _WatchFilter

    watch = _WatchFilter()
    for name in ("#a.md#", ".a.md.swp", "a.md~", ".#a.md"):
        assert not watch(Change.added, f"/p/content/papers/{name}"), name
    assert watch(Change.modified, "/p/content/papers/a.md") and watch(Change.added, "/p/templates/x.html")


def test_serve_from_the_command_line_builds_in_a_process_of_its_own(make_project):
    """The CLI's serve forks a builder before its threads start, so that rebuilds can use
    worker processes; an edit is rebuilt and served, and Ctrl-C stops both processes."""
    import re
    import shutil
    import signal
    from pathlib import Path

    from .conftest import REPO

    project = make_project({"a-paper": paper_text("First Title")})
    shutil.copytree(REPO / "templates", project.root / "templates")
    with serve_process(project.root) as (proc, lines, _):
        url = None
        while url is None:
            found = re.search(r"at (http://127\.0\.0\.1:\d+)/", lines.get(timeout=60))
            url = found and found.group(1)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) == 1  # the builder
        assert "First Title" in get(url + "/papers/a-paper/")
        paper = project.content / "papers" / "a-paper.md"
        paper.write_text(paper_text("Second Title"))
        deadline = time.monotonic() + 30
        while "Second Title" not in get(url + "/papers/a-paper/"):
            assert time.monotonic() < deadline, "the edit was not rebuilt; serve said:\n" + "".join(
                lines.queue
            )
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) in (0, 130)
        assert not _running(int(children[0]))


@contextlib.contextmanager
def serve_process(root):
    """`generator serve` on a free port in a process of its own (two jobs, so that it forks its
    builder); yields the process, a queue of the lines it logs and the thread that reads them.
    Killed afterwards if still alive."""
    import os
    import subprocess
    import sys

    from .conftest import REPO

    command = [sys.executable, "-m", "generator", "--root", str(root), "serve", "--port", "0"]
    env = {**os.environ, "PAPERCAT_JOBS": "2"}
    proc = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True)
    reader.start()
    try:
        yield proc, lines, reader
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        reader.join(timeout=10)
        proc.stderr.close()


def test_a_builder_that_dies_is_reported_and_builds_go_on_in_serve(make_project, caplog, monkeypatch):
    import os
    import signal

    from generator.builder import Builder

    monkeypatch.setenv("PAPERCAT_JOBS", "2")
    project = make_project({"a-paper": paper_text("First Title")})
    builder = Builder(project)
    try:
        assert builder.conn is not None  # forked: this test process runs no other thread
        assert builder.build()[0] is None
        os.kill(builder.pid, signal.SIGKILL)
        paper = project.content / "papers" / "a-paper.md"
        paper.write_text(paper_text("Second Title"))
        with caplog.at_level("ERROR", logger="generator.builder"):
            report, written = builder.build([str(paper)])
        assert report is None and written > 0  # built here instead
        assert "Second Title" in (project.output / "papers" / "a-paper" / "index.html").read_text()
        assert "killed by signal 9" in caplog.text and "restart serve" in caplog.text
    finally:
        builder.close()


def test_a_closed_builder_builds_nothing_here_or_elsewhere(make_project, monkeypatch):
    """Once serve has stopped its builder, a build its watcher still asks for is not made in
    serve's own process (as it would be after the builder died unexpectedly)."""
    from generator.builder import Builder

    monkeypatch.setenv("PAPERCAT_JOBS", "2")
    project = make_project({"a-paper": paper_text("First Title")})
    builder = Builder(project)
    assert builder.conn is not None
    builder.close()
    assert builder.build() == ("serve stopped", 0)
    assert not (project.output / "index.html").exists()


def test_a_save_during_the_first_build_is_built_after_it(make_project, monkeypatch):
    """The watcher is watching before serve's first build starts: a save the first build did not
    see is rebuilt at once, not at the next save; and builds never overlap."""
    import generator.builder

    project = make_project({"a-paper": paper_text("First Title")})
    paper = project.content / "papers" / "a-paper.md"
    real, running, overlapped = generator.builder.build_once, [], []

    def build_once(*args, **kwargs):
        overlapped.append(bool(running))
        running.append(1)
        try:
            return real(*args, **kwargs)
        finally:
            running.pop()
            if len(overlapped) == 1:  # saved as the first build ends, after it read the file
                paper.write_text(paper_text("Second Title"))

    monkeypatch.setattr(generator.builder, "build_once", build_once)
    with serving(project) as url:
        deadline = time.monotonic() + 20
        while "Second Title" not in get(url + "/papers/a-paper/"):
            assert time.monotonic() < deadline, "the save made during the first build was not built"
            time.sleep(0.1)
    assert len(overlapped) >= 2 and not any(overlapped)


def test_sigterm_during_a_build_stops_serve_and_its_builder_and_abandons_the_build(tmp_path):
    """SIGTERM stops serve as Ctrl-C does: the builder stops too, and the build it was running
    is abandoned (no site appears afterwards), instead of an orphan finishing it."""
    import re
    import shutil
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from .conftest import REPO

    root = tmp_path / "big"
    subprocess.run([sys.executable, "benchmarks/make_catalogue.py", "1000", str(root)], cwd=REPO, check=True)
    shutil.rmtree(root / "templates", ignore_errors=True)
    shutil.copytree(REPO / "templates", root / "templates")
    # Paper pages made seconds slower: the build is still running when serve stops, however
    # busy the machine (once, in a loaded suite, the builder finished before it was stopped).
    page = root / "templates" / "paper.html"
    slowed = "{% block head %}{% for _ in range(300000) %}{% endfor %}"
    page.write_text(page.read_text().replace("{% block head %}", slowed, 1))
    with serve_process(root) as (proc, lines, reader):
        while "building" not in lines.get(timeout=60):  # the first build has started
            pass
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert children  # the builder, busy with the first build of 1,000 papers
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) != 0
        reader.join(timeout=10)  # every line logged (the builder holds the pipe too)
        said = "".join(lines.queue)
        assert "Traceback" not in said and not re.search(r"serving .* at http", said), said
        deadline = time.monotonic() + 60
        while _running(int(children[0])):
            assert time.monotonic() < deadline, "the builder outlived serve"
            time.sleep(0.2)
        assert not (root / "site" / "index.html").exists()  # abandoned, not finished by an orphan


def _running(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    from pathlib import Path

    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_builder_whose_serve_left_during_a_build_ends_quietly(make_project, monkeypatch):
    """serve stopping while its builder finishes a build closes the pipe the answer goes to:
    the builder just ends (it logged a BrokenPipeError traceback, which CI caught once)."""
    import multiprocessing
    import os
    import signal

    import generator.builder

    project = make_project({"a-paper": paper_text("A Paper")})

    def slow_build(project, warm, changed):
        time.sleep(0.5)  # serve leaves meanwhile
        return None, 0

    monkeypatch.setattr(generator.builder, "build_once", slow_build)
    monkeypatch.setattr(generator.builder, "Warm", lambda: None)
    ours, theirs = multiprocessing.Pipe()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    pid = os.fork()
    if pid == 0:
        ours.close()
        generator.builder._serve_builds(project, theirs, mask)  # ends with os._exit
    theirs.close()
    ours.send([])
    ours.close()  # serve is gone before the answer
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # not "the build process failed"


def _make_serve(tmp_path, port: int):
    """`make serve` in a copy of the project (this checkout's environment), on a terminal of
    its own: (make's process number, the terminal's file descriptor)."""
    import os
    import pty
    import shutil
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    project = tmp_path / "project"
    shutil.copytree(repo / "tests" / "fixtures" / "seed" / "content", project / "content")
    shutil.copytree(repo / "templates", project / "templates")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(repo / name, project / name)  # its times: older than the environment's stamp
    venv = Path(sys.executable).parent.parent
    if not (venv / ".installed").is_file():
        pytest.skip("needs the environment `make` set up")  # never in CI: `make test` sets it up
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(project)
        os.execvp("make", ["make", "--no-print-directory", "serve", f"PORT={port}", f"VENV={venv}"])
    return pid, fd


def _read_until(fd: int, text: bytes, seconds: float = 60) -> bytes:
    """What the terminal shows until `text` appears, it closes, or `seconds` pass."""
    import os
    import select

    out, deadline = b"", time.monotonic() + seconds
    while text not in out and time.monotonic() < deadline:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            break  # nothing more within the time
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the terminal closed: everything on it has ended
            break
        out += chunk
    return out


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm to make"])
def test_make_serve_stops_with_everything_it_started(tmp_path, stop):
    import os
    import signal
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pid, fd = _make_serve(tmp_path, port)
    ended = False
    try:
        assert b"serving" in _read_until(fd, b"serving")
        if stop == "ctrl-c":
            os.write(fd, b"\x03")  # as a terminal sends it: SIGINT to make, its shell and serve
        else:
            os.kill(pid, signal.SIGTERM)  # as `kill %1`, a supervisor or an editor's stop button
        out = _read_until(fd, b"never printed", 30)
        ended = _reaped(pid, 10)
    finally:
        if not ended:  # clean up before failing: a test that hangs reports nothing
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert ended, f"make serve did not stop; it said:\n{out.decode(errors='replace')}"
    assert (b"terminated" in out or b"interrupted" in out) and b"Traceback" not in out, out
    deadline = time.monotonic() + 10
    while _running_command(f"serve --port {port}"):
        assert time.monotonic() < deadline, "serve, its builder or its helper outlived make"
        time.sleep(0.1)


def _reaped(pid: int, seconds: float) -> bool:
    """Wait up to `seconds` for child `pid` to end; whether it did."""
    import os

    deadline = time.monotonic() + seconds
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _running_command(command: str) -> bool:
    """Whether a process whose command line holds `command` is running (zombies aside)."""
    from pathlib import Path

    for proc in Path("/proc").glob("[0-9]*"):
        try:
            line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if command in line and state not in "ZX":
            return True
    return False


def test_a_rebuild_shows_the_warnings_of_the_files_just_saved(make_project, caplog):
    from generator.build import Warm
    from generator.builder import build_once

    long = "An abstract long enough to raise no warning about its length. " * 5
    project = make_project(
        {
            "saved": paper_text(
                "Saved Paper", tags='["shared"]', extra='date: "2024"\narxiv: "2106.09685"', body=long
            ),
            "other": paper_text("Other Paper", tags='["shared"]', body="Short."),  # warned, not saved
        }
    )
    saved = project.content / "papers" / "saved.md"
    warm = Warm()
    try:
        build_once(project, warm)
        saved.write_text(saved.read_text().replace(long, "Now short."))
        with caplog.at_level("WARNING", logger="generator.builder"):
            assert build_once(project, warm, [str(saved)])[0] is None
        shown = [r.getMessage() for r in caplog.records if r.name == "generator.builder"]
        assert len(shown) == 1
        assert "content/papers/saved.md:" in shown[0] and "abstract is only 10 characters" in shown[0]
        assert "hint: paste the paper's full abstract" in shown[0] and "other.md" not in shown[0]
        caplog.clear()
        saved.write_text(saved.read_text().replace("Now short.", long))
        with caplog.at_level("WARNING", logger="generator.builder"):
            build_once(project, warm, [str(saved)])
        assert not [r for r in caplog.records if r.name == "generator.builder"]  # fixed: nothing to show
    finally:
        warm.close()
