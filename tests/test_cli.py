"""The command line: exit codes, located reports, no tracebacks."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, SEED, paper_text, write_tree


def run(*args, cwd=REPO):
    return subprocess.run(
        [sys.executable, "-m", "generator", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


def test_build_prints_a_summary_line(make_project):
    project = make_project({"a-paper": paper_text()})
    shutil.copytree(REPO / "templates", project.root / "templates")
    done = run("--root", str(project.root), "build")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("built 1 paper, 3 topics, 0 tags:")
    assert "pages in" in done.stdout


def test_build_shows_live_progress_on_a_terminal_and_none_when_piped(make_project):
    """On a terminal, stderr carries one status line redrawn in place (counts of the papers
    read, the pages, then the paper pages and other files, and the last stage's time), cleared
    before the summary; piped, nothing. A narrow terminal drops what does not fit from the
    end, whole parts: the counts stay whole."""
    import os
    import pty

    project = make_project({f"paper-{i}": paper_text(f"Paper {i}") for i in range(3)})
    shutil.copytree(REPO / "templates", project.root / "templates")
    command = [sys.executable, "-m", "generator", "--root", str(project.root), "build"]
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "COLUMNS": "45"}
    leader, follower = pty.openpty()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, env=env) as proc:
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the build ended: the terminal's other end is closed
                break
            if not chunk:
                break
            shown += chunk
        out = proc.stdout.read().decode()
    os.close(leader)
    assert proc.returncode == 0
    line = shown.decode()
    assert line.startswith("\rbuilding"), line
    drawn = [part.rstrip() for part in line.split("\r")]
    assert "building · new or changed papers 3/3" in drawn
    assert any(
        re.fullmatch(r"building · taxonomy \+ bibtex took \d+\.\d s", d) for d in drawn
    )  # whole, or not at all:
    assert "building" in drawn  # "load + check + markdown took 0.0 s" is too wide for 45 columns
    pages = [
        re.fullmatch(r"building · (paper pages and other files|pages) (\d+)/(\d+)( · .*)?", d) for d in drawn
    ]
    assert {m[1] for m in pages if m} == {"pages", "paper pages and other files"}
    # 3 pages, 3 .bib files, the feeds, papers.bib, papers.schema.json, sitemap.xml, robots.txt
    others = str(3 + 3 + len(list((project.root / "site").rglob("feed.xml"))) + 4)
    assert ("paper pages and other files", others, others) in {m.groups()[:3] for m in pages if m}
    assert max(len(part) for part in drawn) <= 44 and not any(part.endswith(" ·") for part in drawn)
    assert line.endswith("\r"), line  # cleared: the summary starts on a clean line
    assert out.startswith("built 3 papers")
    piped = run("--root", str(project.root), "build")
    assert piped.returncode == 0 and piped.stderr == "" and piped.stdout.startswith("built 3 papers")


def test_bad_content_reports_every_error_and_exits_1(make_project):
    project = make_project(
        {
            "good": paper_text(),
            "bad-one": paper_text(topics='["nope"]', added="2024-05-01"),
            "bad-two": '---\ntitle: 1984\ntopics: [fine-tuning]\nadded: "2024-01-01"\n---\n',
        }
    )
    shutil.copytree(REPO / "templates", project.root / "templates")
    write_tree(project.root, {"site/index.html": "previous site", "site/.papercat-site": ""})
    done = run("--root", str(project.root), "build")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert "content/papers/bad-one.md:4:8: 'added' must be a string, but YAML reads a date here" in lines
    assert "content/papers/bad-one.md:5:10: unknown topic 'nope'" in lines
    assert "content/papers/bad-two.md:2:8: 'title' must be a string, but YAML reads a number here" in lines
    assert '  hint: put the value in double quotes: title: "1984"' in lines
    assert "3 errors in 2 files" in lines
    assert (project.root / "site/index.html").read_text() == "previous site"


def test_import_command_reports_and_refuses_garbage(tmp_path, make_project):
    project = make_project({})
    write_tree(project.root, {"junk.txt": "no listing here\n"})
    done = run("--root", str(project.root), "import", str(project.root / "junk.txt"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "junk.txt:1: no date line found" in done.stderr


def test_missing_listing_is_a_clear_error(make_project):
    project = make_project({})
    done = run("--root", str(project.root), "import", "nowhere.txt")
    assert (
        done.returncode == 1
        and "file not found: nowhere.txt" in done.stderr
        and "Traceback" not in done.stderr
    )


def test_missing_templates_is_a_clear_error(make_project):
    project = make_project({"a-paper": paper_text()})
    done = run("--root", str(project.root), "build")
    assert done.returncode == 1 and "no templates in" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["build", "check", "serve", "import listing.txt", "new --title T"])
def test_a_folder_that_is_no_project_names_the_project_instead(make_project, tmp_path_factory, command):
    """Run from inside content/papers, every command names the project folder instead of
    reporting its files missing (which hinted at making them there); nothing is written."""
    project = make_project({"a-paper": paper_text()})
    inside = project.content / "papers"
    before = sorted(p.name for p in inside.iterdir())
    done = run(*command.split(), cwd=inside)
    first = command.split()[0]
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert (
        "error: this folder is not a papercat project (it has neither content/ nor templates/); the project"
        f" is ../..: run `{first}` there (cd ../..), or give --root ../.. before `{first}`"
    ) in done.stderr
    assert "missing" not in done.stderr
    assert sorted(p.name for p in inside.iterdir()) == before
    nowhere = tmp_path_factory.mktemp("nowhere")  # no project in it, nor around it
    done = run("--root", str(nowhere), *command.split())
    assert done.returncode == 1
    assert f"error: {nowhere} is not a papercat project" in done.stderr
    assert f"run `{first}` in the project folder, or give --root PATH before `{first}`" in done.stderr
    assert not any(nowhere.iterdir())
    done = run("--root", str(nowhere / "gone"), *command.split())
    assert done.returncode == 1 and f"error: --root {nowhere / 'gone'}: no such folder" in done.stderr


def test_an_unwritable_output_folder_is_a_clear_error(make_project, tmp_path):
    project = make_project({"one": paper_text()})
    shutil.copytree(REPO / "templates", project.root / "templates")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output's parent should be")
    result = run("--root", str(project.root), "build", "--output", str(blocker / "site"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "error:" in result.stderr and "previous site/ is unchanged" in result.stderr


def test_jobs_must_be_positive_and_bad_settings_are_named(make_project):
    project = make_project({"one": paper_text()})
    shutil.copytree(REPO / "templates", project.root / "templates")
    result = run("--root", str(project.root), "build", "--jobs", "0")
    assert result.returncode == 1 and "--jobs must be at least 1" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "generator", "--root", str(project.root), "build", "--profile"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "PAPERCAT_JOBS": "lots"},
    )
    assert result.returncode == 0
    assert "ignoring PAPERCAT_JOBS='lots'" in result.stderr
    assert "total" in result.stdout.splitlines()[-1]


def test_serve_on_a_busy_port_says_so_at_once_without_building(make_project):
    import socket

    project = make_project({"a-paper": paper_text()})
    shutil.copytree(REPO / "templates", project.root / "templates")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run("--root", str(project.root), "serve", "--port", str(port))
    assert done.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "--port 0" in done.stderr and "Traceback" not in done.stderr
    assert not (project.output / "index.html").exists()


def test_ctrl_c_while_the_command_line_loads_leaves_without_a_traceback():
    """Ctrl-C as `python -m generator` imports its first modules (as it imports argparse,
    here), before main() handles it: the same word and exit status, no traceback."""
    script = (
        "import builtins, os, runpy, signal, sys\n"
        "real, armed = builtins.__import__, False\n"
        "def hooked(name, *args, **kwargs):\n"
        "    if name == 'argparse' and armed:\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = hooked\n"
        "sys.argv, armed = ['generator', 'build'], True\n"
        "runpy.run_module('generator', run_name='__main__', alter_sys=True)\n"
        "print('went on')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr == "interrupted\n" and done.stdout == ""


@pytest.mark.parametrize(
    "signal_name, word, status", [("SIGINT", "interrupted", 130), ("SIGTERM", "terminated", 143)]
)
def test_an_interrupt_that_threading_turned_into_an_error_still_reads_as_one(
    make_project, monkeypatch, capsys, signal_name, word, status
):
    """Python's threading raises "RuntimeError: release unlocked lock" when a Ctrl-C lands at
    the wrong moment of a Condition's wait (as in Thread.start; once in CI, in `make serve`):
    it is still a Ctrl-C (or SIGTERM), with its word and exit status and no traceback; a
    RuntimeError of another kind is not taken for one."""
    import generator.__main__ as cli

    project = make_project({"a-paper": paper_text("A Paper")})
    interrupt = cli.Terminated if signal_name == "SIGTERM" else KeyboardInterrupt

    def interrupted_in_a_wait(args):
        try:
            raise interrupt
        except KeyboardInterrupt:
            raise RuntimeError("release unlocked lock")  # noqa: B904  (as threading raises it)

    monkeypatch.setattr(cli, "_cmd_build", interrupted_in_a_wait)
    assert cli.main(["--root", str(project.root), "build"]) == status
    assert capsys.readouterr().err == f"{word}\n"

    def failed(args):
        raise RuntimeError("something else")

    monkeypatch.setattr(cli, "_cmd_build", failed)
    with pytest.raises(RuntimeError, match="something else"):
        cli.main(["--root", str(project.root), "build"])


def test_sigterm_stops_a_build_as_ctrl_c_does(tmp_path):
    """CI cancelling a job sends SIGTERM to the build alone: it stops its workers and
    background processes, leaves no half-written tree and no traceback, and says so."""
    import os
    import signal
    import time

    root = tmp_path / "big"
    subprocess.run([sys.executable, "benchmarks/make_catalogue.py", "1000", str(root)], cwd=REPO, check=True)
    shutil.copytree(REPO / "templates", root / "templates")
    for sign, code, said in [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "generator", "--root", str(root), "build", "--jobs", "2"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: what is left of it can be found
        )
        deadline = time.monotonic() + 60
        # paper pages are being written (the build's last pass, about 0.3 s here): a worker
        # runs, and the new tree is half-written
        while not list(root.glob("site.tmp-*/papers")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.01)
        proc.send_signal(sign)  # to the build process only, as `kill` does
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == code, err
        assert said in err and "Traceback" not in err, err
        deadline = time.monotonic() + 10
        while True:  # every worker and background process has gone
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            assert time.monotonic() < deadline, "a process of the build outlived it"
            time.sleep(0.1)
        assert not list(root.glob("site.tmp-*")) and not (root / "site").exists()


def build_in_a_new_interpreter(tmp_path, report: str, imports: str, **options) -> tuple[Path, str, str]:
    """Copy the repository's catalogue, build it with main(..., **options) in a new Python,
    then print `report`, an expression (with `imports` imported): (the project, what it printed
    last, with the exit code before it, and its standard error). The build runs in that
    interpreter's own process."""
    root = tmp_path / "project"
    shutil.copytree(SEED / "content", root / "content")
    shutil.copytree(REPO / "templates", root / "templates")
    script = (
        f"import {imports}\n"
        "from generator.__main__ import main\n"
        f"code = main(['--root', {str(root)!r}, 'build'], **{options!r})\n"
        f"print(code, {report})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    return root, (result.stdout.splitlines() or [""])[-1], result.stderr


@pytest.mark.parametrize("exiting", [False, True])
def test_a_build_collects_cycles_afterwards_unless_its_process_exits_then(tmp_path, exiting):
    _, printed, errors = build_in_a_new_interpreter(tmp_path, "gc.isenabled()", "gc", exiting=exiting)
    assert printed == f"0 {not exiting}", errors


def test_a_small_build_keeps_numpy_and_scipy_out_of_the_build_process(tmp_path):
    """numpy and scipy (0.05 s and 0.2 s to import) are the related papers' child's: the
    process that builds a small catalogue, where they would weigh most, never imports them."""
    modules = "sorted(m for m in ('numpy', 'scipy', 'numba') if m in sys.modules)"
    root, printed, errors = build_in_a_new_interpreter(tmp_path, modules, "sys")
    assert printed == "0 []", errors
    assert (root / "site" / "search" / "abstracts.json").is_file()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc (Linux)")
def test_the_command_line_keeps_openblas_from_starting_threads():
    """The build makes no BLAS calls, but numpy and scipy load OpenBLAS, which starts a
    thread per core that spins for about 0.1 s of CPU: `python -m generator` asks it for
    none, in its own process and those it forks. Without it, numpy alone starts them."""
    count = "import numpy, os; print(len(os.listdir('/proc/self/task')))"
    script = (
        "import os, runpy, sys\n"
        "sys.argv = ['generator', '--help']\n"
        "try:\n"
        "    runpy.run_module('generator', run_name='__main__', alter_sys=True)\n"
        "except SystemExit:\n"
        "    pass\n"
        "if os.fork() == 0:\n"
        f"    {count}\n"
        "    os._exit(0)\n"
        "os.wait()\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.endswith("_NUM_THREADS")}
    threads = {}
    for name, code in [("cli", script), ("plain", count)]:
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, env=env
        )
        assert done.returncode == 0, done.stderr
        threads[name] = int(done.stdout.splitlines()[-1])
    assert threads["cli"] == 1
    if len(os.sched_getaffinity(0)) > 1:  # with one core OpenBLAS starts no threads anyway
        assert threads["plain"] > 1


def test_a_template_error_names_the_template_line_without_a_traceback(make_project):
    """A value a template reads that is not there, or a paper_item macro renamed away: the
    build fails with the template's file and line (where Jinja tells it) and one message."""
    project = make_project({"a-paper": paper_text()})
    templates = project.root / "templates"
    shutil.copytree(REPO / "templates", templates)
    page = templates / "paper.html"
    lines = page.read_text().split("\n")
    at = next(i for i, line in enumerate(lines) if "{% block head %}" in line)
    lines[at] = lines[at].replace("{% block head %}", "{% block head %}{{ no_such_value.x }}")
    page.write_text("\n".join(lines))
    done = run("--root", str(project.root), "build")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"paper.html:{at + 1}: template error: 'no_such_value' is undefined" in done.stderr
    assert "\n  hint: fix the template at that line" in done.stderr
    assert done.stderr.rstrip().endswith("build failed: nothing was written; the previous site/ is unchanged")
    assert not (project.root / "site" / "index.html").exists()
    page.write_text(page.read_text().replace("{{ no_such_value.x }}", "{{ paper.subtitle }}"))
    done = run("--root", str(project.root), "build")
    assert f"paper.html:{at + 1}: template error: a paper has no field 'subtitle'" in done.stderr
    page.write_text(page.read_text().replace("{{ paper.subtitle }}", "{{ site.titl }}"))
    done = run("--root", str(project.root), "build")
    assert (
        f"paper.html:{at + 1}: template error: site has no field 'titl' (the README's Templates"
        in done.stderr
    )
    page.write_text(
        page.read_text().replace("{{ site.titl }}", "{% if paper.subtitle is defined %}x{% endif %}")
    )
    assert run("--root", str(project.root), "build").returncode == 0
    shutil.rmtree(templates)
    shutil.copytree(REPO / "templates", templates)
    macros = templates / "_macros.html"
    macros.write_text(macros.read_text().replace("macro paper_item(", "macro entry("))
    done = run("--root", str(project.root), "build")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "template error: templates/_macros.html has no paper_item macro" in done.stderr


def test_a_page_s_template_error_keeps_its_line_across_processes(tmp_path):
    """A page rendered by a forked worker fails there: the error it sends back (pickled: no
    traceback) still names the template's file and line."""
    import pickle

    from generator.errors import describe_failure
    from generator.render import LocatedTemplateError, _render_page, make_environment

    (tmp_path / "page.html").write_text("<p>\n{{ paper.title }}\n{{ paper.missing.x }}</p>\n")
    env = make_environment(tmp_path)
    with pytest.raises(LocatedTemplateError) as caught:
        _render_page(env, "page.html", {"paper": {"title": "T"}})
    sent = pickle.loads(pickle.dumps(caught.value))
    assert (
        describe_failure(sent)
        == f"{tmp_path / 'page.html'}:3: template error: 'dict object' has no attribute 'missing'"
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["import", "--date", "2026-03-19", "day.txt"], "error: no option --date (did you mean --added?)"),
        (["build", "--strickt"], "error: no option --strickt (did you mean --strict?)"),
        (["import", "a.txt", "b.txt"], "error: b.txt: import takes one file at a time"),
        (["build", "extra"], "error: unrecognized arguments: extra"),
    ],
)
def test_an_argument_not_understood_is_named_with_what_was_meant(make_project, args, said):
    project = make_project({})
    done = run("--root", str(project.root), *args)
    assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"usage: python -m generator {args[0]}")
