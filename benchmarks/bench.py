#!/usr/bin/env python3
"""Build-speed benchmark: papercat against Hugo on the same synthetic catalogues.

    python benchmarks/bench.py [--sizes 1000 10000] [--runs 3] [--work DIR] [--no-hugo]

For each size it generates a catalogue (benchmarks/make_catalogue.py), then times, as whole
processes, after one warm-up run each:
  cold build         no site/ and no .cache/ (what CI and a fresh clone do)
  no-change rebuild  build again with nothing changed
  one-edit rebuild   change one paper's abstract, then build
  hugo               a plain Hugo build of the same papers (benchmarks/hugo/), if `hugo` is installed,
                     each right after one of papercat's cold builds (their warm-ups too)
It prints medians (min and max too), peak RSS, output size and the per-stage times of the build's
own `--profile`, and the ratio against Hugo measured in the same run (machines are noisy:
compare ratios, not seconds): of the medians, and round by round, each cold build against the
Hugo build that followed it, so that a slow spell weighs on both sides of a ratio. After the
edits it checks that the incremental site is byte-identical to a clean build of the same
content. Figures also go to WORK/results.json.

Before each cold build the last output (papercat's or Hugo's) is moved aside, not deleted, and
deleted only when the benchmark ends: on an ext4 file system without a journal (this machine's)
new files cost 3-18x more kernel time while many were deleted in the last seconds to
minutes, since ext4 steps over recently freed inodes; deleting the last site just before each
cold build made both tools' cold times grow from run to run (see set_aside).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import make_catalogue  # noqa: E402

STAGE = re.compile(r"^  (\S.*?)\s+([\d.]+) s$", re.M)
RENDERED = re.compile(r"in [\d.]+ s(?: \((\d+) rendered)?")
WRITTEN = re.compile(r"wrote (\d+) files")


TRASH = ".bench-trash"  # beside the catalogues, under --work; emptied when the benchmark ends


def set_aside(folder: Path, work: Path) -> None:
    """Move `folder` (if any) into the trash under `work`, to be deleted when the benchmark
    ends. ext4 without a journal steps over inodes freed in the last seconds (minutes, while
    their table blocks are dirty) when it allocates new ones. Creating 10,000 folders and 20,000
    files right after deleting as many cost 0.13-0.36 ms of kernel time per inode, growing with
    each round, against 0.02-0.04 ms after moving the old ones aside (2026-12-03, this machine).
    A fresh clone, as in CI, has deleted nothing."""
    if not folder.exists():
        return
    trash = work / TRASH
    trash.mkdir(exist_ok=True)
    folder.rename(Path(tempfile.mkdtemp(prefix=folder.name + "-", dir=trash)))


def empty_trash(work: Path) -> None:
    shutil.rmtree(work / TRASH, ignore_errors=True)


# Python keeps each module's compiled bytecode (__pycache__), as it does by default, so the
# warm-up compiles and the timed runs load it, as a user's second build does. Machines that
# set PYTHONDONTWRITEBYTECODE would otherwise compile every changed module in every run.
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str], cwd: Path | None = None) -> dict:
    """Run a whole process: wall seconds, CPU seconds, peak RSS (MiB) and its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{err.read().decode(errors='replace')[-3000:]}")
        return {
            "wall": wall,
            "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mib": usage.ru_maxrss / 1024,
            "stdout": out.read().decode(errors="replace"),
        }


def summarise(runs: list[dict]) -> dict:
    walls = [r["wall"] for r in runs]
    stages: dict[str, list[float]] = {}
    for r in runs:
        for name, seconds in STAGE.findall(r.get("stdout", "")):
            if name == "total":
                continue
            stages.setdefault(name, []).append(float(seconds))
    last = runs[-1].get("stdout", "")
    rendered, written = RENDERED.search(last), WRITTEN.search(last)
    return {
        "rendered": int(rendered.group(1)) if rendered and rendered.group(1) else None,  # None: all
        "written": int(written.group(1)) if written else None,
        **spread(walls),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "peak_mib": max(r["peak_mib"] for r in runs),
        "stages": {name: statistics.median(xs) for name, xs in stages.items()},
    }


def tree_digest(root: Path) -> tuple[str, int, int]:
    """(sha256 over every path and its bytes, file count, total bytes) of a folder."""
    digest, files, size = hashlib.sha256(), 0, 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        digest.update(str(path.relative_to(root)).encode() + b"\0" + hashlib.sha256(data).digest())
        files, size = files + 1, size + len(data)
    return digest.hexdigest(), files, size


def prepare(n: int, work: Path) -> Path:
    """A project folder with the synthetic content and this repository's templates."""
    root = work / f"catalogue-{n}"
    stamp = root / ".generated"
    if not stamp.exists() or stamp.read_text() != str(n):
        make_catalogue.generate(n, root)
        stamp.write_text(str(n))
    for stale in root.glob("tmp*"):  # a clean reference build's, left by an interrupted run
        set_aside(stale, work)
    if (root / "templates").is_symlink():
        (root / "templates").unlink()
    shutil.rmtree(root / "templates", ignore_errors=True)
    shutil.copytree(REPO / "templates", root / "templates")
    return root


EDIT_WORDS = ("retrieval", "alignment", "quantization", "reasoning", "distillation")


def edit(paper: Path, original: str, k: int) -> None:
    """Change one paper's abstract: a sentence with a different common word each time, so
    that the words the related papers and the search index count change too."""
    sentence = f" Benchmark edit: {EDIT_WORDS[k % len(EDIT_WORDS)]} {k}.\n"
    paper.write_text(original.rstrip("\n") + sentence, encoding="utf-8")


def bench_papercat(
    root: Path, runs: int, reference: Callable[[], dict] | None = None
) -> tuple[dict, list[dict]]:
    """papercat's figures, and the runs of `reference` (another tool's build, run after each
    cold build, the warm-up's too); with it, the figures hold each cold build's time over that
    of the reference build that followed it ("cold_ratios")."""
    build = [sys.executable, "-m", "generator", "--root", str(root), "build", "--profile"]
    env_site, cache, spare = root / "site", root / ".cache", root / ".site.spare"

    def cold() -> dict:
        for folder in (env_site, cache, spare):
            set_aside(folder, root.parent)
        return run(build, cwd=REPO)

    def cold_then_reference() -> tuple[dict, dict | None]:
        ours = cold()
        return ours, reference() if reference else None

    cold_then_reference()  # warm-up
    rounds = [cold_then_reference() for _ in range(runs)]
    cold_runs = [ours for ours, _ in rounds]
    theirs = [reference_run for _, reference_run in rounds if reference_run is not None]
    run(build, cwd=REPO)
    same_runs = [run(build, cwd=REPO) for _ in range(runs + 1)][1:]
    paper = edited_paper(root)
    serve = run([sys.executable, str(HERE / "serve_edits.py"), str(root), str(paper), str(runs)], cwd=REPO)
    served = json.loads(serve["stdout"])
    serve_runs, serve_site = served["runs"], served["site_digest"]
    original = paper.read_text(encoding="utf-8")
    edit_runs = []
    try:
        for k in range(runs + 1):
            edit(paper, original, k)
            result = run(build, cwd=REPO)
            if k:  # the first edit is the warm-up
                edit_runs.append(result)
        incremental = tree_digest(env_site)
        clean = Path(tempfile.mkdtemp(dir=root))
        run([*build[:-2], "build", "--no-cache", "--output", f"{clean}/site"], cwd=REPO)
        clean_digest = tree_digest(clean / "site")[0]  # both end with the same last edit
        identical, serve_identical = clean_digest == incremental[0], clean_digest == serve_site
        set_aside(clean, root.parent)  # deleted now, it would slow the builds that follow
    finally:
        paper.write_text(original, encoding="utf-8")
    run(build, cwd=REPO)  # the site and cache left behind are those of the content as it is
    figures = {
        "cold": summarise(cold_runs),
        "no_change": summarise(same_runs),
        "one_edit": summarise(edit_runs),
        "serve_edit": {
            **spread([r["seconds"] for r in serve_runs]),
            "stages": {
                name: statistics.median(r["stages"][name] for r in serve_runs)
                for name in serve_runs[0]["stages"]
            },
        },
        "output_files": incremental[1],
        "output_bytes": incremental[2],
        "edit_identical_to_clean": identical,
        "serve_edit_identical_to_clean": serve_identical,
    }
    if theirs:
        figures["cold_ratios"] = [ours["wall"] / other["wall"] for ours, other in rounds]
    return figures, theirs


def edited_paper(root: Path) -> Path:
    """The paper whose abstract the edits change: the middle one by name."""
    papers = sorted((root / "content" / "papers").glob("*.md"))
    return papers[len(papers) // 2]


def bench_hugo_server(hugo: str, site: Path, root: Path, runs: int) -> dict | None:
    """`hugo server` (its defaults: pages in memory, re-rendering those a browser shows) after the
    same edits: the "Total in N ms" it prints per rebuild. None if it does not start."""
    paper = site / "content" / "papers" / edited_paper(root).name
    original = paper.read_text(encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryFile("w+") as out:
        server = subprocess.Popen(
            [hugo, "server", "--bind", "127.0.0.1", "--port", str(port)],
            cwd=site,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

        def output() -> str:
            out.seek(0)
            return out.read()

        def totals() -> list[float]:  # one per rebuild
            return [int(ms) / 1000 for ms in re.findall(r"Total in (\d+) ms", output())]

        def wait_until(done) -> bool:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and server.poll() is None:
                if done():
                    return True
                time.sleep(0.2)
            return False

        try:
            if not wait_until(lambda: "Web Server is available" in output()):  # built and serving
                return None
            for k in range(runs + 1):
                time.sleep(1)  # past the watcher's batching
                edit(paper, original, k)
                if not wait_until(lambda k=k: len(totals()) > k):
                    return None
            seconds = totals()[1:]  # after the warm-up edit
        finally:
            server.terminate()
            server.wait()
            paper.write_text(original, encoding="utf-8")
    return spread(seconds)


def hugo_site(root: Path) -> Path:
    """The Hugo site of the catalogue at `root`: benchmarks/hugo/ with its papers."""
    site = root / "hugo"
    if not (site / "content" / "papers").is_dir():
        shutil.rmtree(site, ignore_errors=True)
        shutil.copytree(HERE / "hugo", site)
        shutil.copytree(root / "content" / "papers", site / "content" / "papers")
    return site


def hugo_build(hugo: str, site: Path, root: Path) -> dict:
    """One plain Hugo build from nothing (its last output set aside, as papercat's)."""
    set_aside(site / "public", root.parent)
    set_aside(site / "resources", root.parent)
    return run([hugo, "--quiet"], cwd=site)


def bench_hugo(hugo: str, site: Path, root: Path, builds: list[dict], runs: int) -> dict:
    """Hugo's figures: its `builds` (made between papercat's cold builds), then `hugo server`."""
    result = summarise(builds)
    result["server_edit"] = bench_hugo_server(hugo, site, root, runs)
    result["version"] = subprocess.run([hugo, "version"], capture_output=True, text=True).stdout.strip()
    return result


def spread(seconds: list[float]) -> dict:
    """Median, min and max of some timings."""
    return {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds)}


def line(label: str, s: dict, note: str = "") -> str:
    text = f"  {label:<20} {s['median']:8.2f} s   (min {s['min']:.2f}, max {s['max']:.2f})"
    if note:  # timed inside a process: no CPU or memory figures
        return f"{text}   {note}"
    text += f"   cpu {s['cpu']:6.2f} s   peak {s['peak_mib']:6.0f} MiB"
    if s.get("written") is not None:
        rendered = "all" if s["rendered"] is None else s["rendered"]
        text += f"   {rendered} pages rendered, {s['written']} files written"
    return text


def report(n: int, ours: dict, hugo: dict | None, skipped: bool = False) -> str:
    out = [
        f"{n:,} papers: {ours['output_files']:,} files (the site's, and the build's marker and manifest),"
        f" {ours['output_bytes'] / 2**20:.1f} MiB of output"
    ]
    out.append(line("cold build", ours["cold"]))
    out.append(line("no-change rebuild", ours["no_change"]))
    out.append(line("one-edit rebuild", ours["one_edit"]))
    warm = ours["serve_edit"]
    out.append(line("one edit, in serve", warm, "the rebuild in a long-lived process, as `serve` does it"))
    if hugo:
        out.append(line("hugo (plain build)", hugo))
        server = hugo.get("server_edit")
        if server:
            out.append(
                line(
                    "hugo server, 1 edit", server, "its defaults: pages kept in memory, none rendered to disk"
                )
            )
        cold = ours["cold"]
        paired = ours.get("cold_ratios")
        by_round = (
            f" (round by round {min(paired):.2f}-{max(paired):.2f}x, median {statistics.median(paired):.2f}x)"
            if paired
            else ""
        )
        out.append(
            f"  ratio to hugo's build: cold {cold['median'] / hugo['median']:.2f}x (of the medians){by_round}, "
            f"one-edit {ours['one_edit']['median'] / hugo['median']:.2f}x, "
            f"one edit in serve {warm['median'] / hugo['median']:.2f}x, "
            f"peak memory {cold['peak_mib'] / hugo['peak_mib']:.2f}x"
        )
        if server:
            out.append(f"  ratio to hugo server's edit: one edit in serve {warm['median'] / server['median']:.1f}x")
    elif skipped:
        out.append("  hugo: skipped (--no-hugo), no ratio")
    else:
        out.append("  hugo: not installed (apt-get install -y hugo), no ratio")
    out.append(
        "  edited site byte-identical to a clean build: "
        + ("yes" if ours["edit_identical_to_clean"] else "NO")
        + ", after the edits in serve: "
        + ("yes" if ours["serve_edit_identical_to_clean"] else "NO")
    )
    for label, key in (("cold", "cold"), ("one-edit", "one_edit"), ("one edit in serve", "serve_edit")):
        stages = ours[key]["stages"]
        out.append(f"  stages, {label} (median):  " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()))
    return "\n".join(out)


def load_average() -> float | None:
    """The machine's load average over the last minute (None where the system gives none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def commit() -> str:
    """The repository's commit (short), marked "+changes" if files differ from it; "-" if unknown."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "-"
    return head + ("+changes" if changed else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 10000], help="catalogue sizes (default: 1000 10000)"
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="counted runs per figure, after a warm-up (median; default: 3)"
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=make_catalogue.default_work(),
        help="scratch folder for the catalogues, kept for the next run, and results.json "
        "(default: $BENCH_WORK, or papercat-bench in $TMPDIR: %(default)s)",
    )
    parser.add_argument("--no-hugo", action="store_true", help="skip the Hugo reference")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    now = time.gmtime()
    results = {
        "date": time.strftime("%Y-%m-%d", now),
        "started": time.strftime("%H:%M UTC", now),
        "commit": commit(),
        "runs": args.runs,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": load_average(),
        "sizes": {},
    }
    print(
        f"papercat build benchmark, {results['date']} {results['started']}, commit {results['commit']},"
        f" {results['machine']}, {args.runs} counted run{'s' if args.runs != 1 else ''} each"
    )
    if results["load_average"] is not None:
        busy = results["load_average"]
        print(
            f"load average at the start: {busy:.2f}"
            + (" (other work is running: expect slower, noisier figures)" if busy >= 0.5 else "")
        )
    try:  # a killed run's trash too is emptied at the end, not now, just before the timings
        hugo = None if args.no_hugo else shutil.which("hugo")
        for n in args.sizes:
            root = prepare(n, args.work)
            site = hugo_site(root) if hugo else None
            reference = functools.partial(hugo_build, hugo, site, root) if site else None
            ours, theirs = bench_papercat(root, args.runs, reference)
            hugo_figures = bench_hugo(hugo, site, root, theirs, args.runs) if theirs else None
            results["sizes"][n] = {"papercat": ours, "hugo": hugo_figures}
            print(report(n, ours, hugo_figures, args.no_hugo), flush=True)
    except KeyboardInterrupt:
        message = "interrupted: the edited paper is restored and the outputs set aside are deleted"
        raise SystemExit("\n" + message) from None
    finally:
        empty_trash(args.work)
    (args.work / "results.json").write_text(json.dumps(results, indent=2))
    print(f"figures: {args.work / 'results.json'}")


if __name__ == "__main__":
    main()
