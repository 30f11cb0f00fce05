"""Command line: `python -m generator build|check|serve|import|new`. The only module that prints."""

from __future__ import annotations

import os
import signal
import sys


def _interrupted_early(*_) -> None:
    """Ctrl-C before main() is ready for it (while the first modules load): leave as main()
    would, without a traceback."""
    print("interrupted", file=sys.stderr)
    raise SystemExit(128 + signal.SIGINT)


if __name__ == "__main__" and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _interrupted_early)  # (not where Ctrl-C is ignored, as by `&`)

if __name__ == "__main__":
    # No BLAS here (scipy's sparse products are its own C++), but OpenBLAS, loaded with numpy
    # and again with scipy, starts a thread per core that spins for about 0.1 s of CPU.
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # set before numpy loads, in the processes forked

# Everything else is imported after that handler. The build's modules (jinja2, YAML, the
# checks: about 0.25 s) are imported by the commands that use them: `build` first forks the
# related papers' child (parallel.Early), which imports numpy and scipy meanwhile.
import argparse  # noqa: E402
import difflib  # noqa: E402
import errno  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import logging  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

from .errors import BuildFailed, UsageError, describe_failure, github_annotation, plural  # noqa: E402
from .progress import Progress  # noqa: E402

log = logging.getLogger("generator")
REPEAT_LIMIT = 3  # the same warning in more files than this is summarised unless -v


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m generator", description="Build the paper catalogue's static site."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each stage")
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        help="project folder holding content/ and templates/ (default: .)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser(
        "build",
        help="validate content and write the site to site/",
        description="Validate all content and write the site to ROOT/site/ (see --root, before the "
        "command). Rebuilds are incremental (.cache/ and the last site); the result is the same as "
        "a clean build. Worker processes: --jobs, or PAPERCAT_JOBS, default one per core.",
    )
    b.add_argument("--output", type=Path, help="output folder (default: ROOT/site)")
    b.add_argument("--base-url", help="override base_url from content/site.yml (e.g. in CI deploys)")
    b.add_argument("--strict", action="store_true", help="treat warnings as errors")
    b.add_argument("--profile", action="store_true", help="print the time each stage took")
    b.add_argument(
        "--jobs", type=int, metavar="N", help="worker processes (default: PAPERCAT_JOBS or one per core)"
    )
    b.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write .cache/ and render every page (the site is the same)",
    )
    c = sub.add_parser(
        "check",
        help="validate all content without writing anything",
        description="Validate the whole catalogue. Errors anywhere are always reported; "
        "with FILEs, warnings (and --strict) apply to those files only.",
    )
    c.add_argument("files", nargs="*", type=Path, metavar="FILE", help="paper files to show warnings for")
    c.add_argument("--strict", action="store_true", help="treat warnings as errors")
    c.add_argument("-v", "--verbose", action="store_true", help="list every repeated warning")
    c.add_argument(
        "--format",
        choices=("text", "github"),
        default=None,
        help="'github' adds ::error annotations for pull requests (default when GITHUB_ACTIONS=true)",
    )
    i = sub.add_parser("import", help="add papers from a daily-papers listing or a BibTeX file")
    i.add_argument(
        "listing",
        type=Path,
        metavar="FILE",
        help="a .bib file (Zotero, Google Scholar) or a daily-papers listing (text dump)",
    )
    i.add_argument("--added", help="the 'added' date for new papers, YYYY-MM-DD (default: today)")
    i.add_argument("--dry-run", action="store_true", help="report what would be written, write nothing")
    i.add_argument(
        "--topic",
        action="append",
        default=[],
        help="topic slug for every new paper (repeatable; default: suggested)",
    )
    i.add_argument(
        "--tag", action="append", default=[], help="tag for every new paper (repeatable; default: suggested)"
    )
    n = sub.add_parser(
        "new",
        help="create a correctly formatted paper file from flags",
        description="Create content/papers/<slug>.md. The abstract comes from "
        "--abstract-file or standard input. Topics and tags are "
        "suggested from content/topics.yml when not given.",
    )
    n.add_argument("--title", required=True)
    n.add_argument(
        "--authors",
        action="append",
        default=[],
        metavar="NAMES",
        help='"First Author; Second Author" (repeatable)',
    )
    n.add_argument("--abstract-file", type=Path, help="file with the abstract ('-' for stdin)")
    n.add_argument("--topic", action="append", default=[], help="topic slug (repeatable)")
    n.add_argument("--tag", action="append", default=[], help="tag slug (repeatable)")
    n.add_argument("--date", help="publication date: YYYY-MM-DD, YYYY-MM or YYYY")
    n.add_argument("--added", help="date it joins the catalogue (default: today)")
    n.add_argument("--arxiv", help="arXiv id, e.g. 2106.09685")
    for name in ("doi", "url", "pdf", "code"):
        n.add_argument(f"--{name}")
    n.add_argument("--journal", help="the journal it was published in")
    n.add_argument("--proceedings", help="the proceedings it was published in (not with --journal)")
    n.add_argument("--dry-run", action="store_true", help="print the file instead of writing it")
    s = sub.add_parser("serve", help="build, serve on localhost, rebuild and reload on save")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.set_defaults(commands=sub.choices)
    return parser


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """The arguments; one not understood is named with the option it may have meant."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if not extra:
        return args
    command = args.commands[args.command]
    options = sorted(o for a in command._actions for o in a.option_strings if o.startswith("--"))
    unknown = [word for word in extra if word.startswith("-")]
    problems = []
    for word in unknown:  # the words after one may be its value: named only if no option is unknown
        close = difflib.get_close_matches(word.split("=", 1)[0], options, n=1, cutoff=0.5)
        problems.append(f"no option {word}" + (f" (did you mean {close[0]}?)" if close else ""))
    if not unknown and args.command == "import":
        problems.append(f"{extra[0]}: import takes one file at a time; run it again for each file")
    elif not unknown:
        problems.append(f"unrecognized arguments: {' '.join(extra)}")
    command.error("; ".join(problems))


class Terminated(KeyboardInterrupt):
    """SIGTERM (from CI cancelling a job, or `kill`): stop as Ctrl-C does."""


def _terminate(*_) -> None:
    raise Terminated


def _cmd_serve(args) -> int:
    from . import build as build_mod
    from . import serve

    logging.getLogger("generator").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        serve.serve(build_mod.Project.at(args.root), host=args.host, port=args.port)
    except OSError as exc:
        hint = (
            " (another server? pick a free port with --port, or --port 0)"
            if exc.errno == errno.EADDRINUSE
            else ""
        )
        raise UsageError(f"cannot serve on {args.host}:{args.port}: {exc.strerror}{hint}") from None
    return 0


def _cmd_new(args) -> int:
    from . import scaffold

    source, unreadable = args.abstract_file, ""
    try:
        if source is None and sys.stdin.isatty():
            abstract = ""  # none: reported with any other problem of the flags
        elif source is None or str(source) == "-":
            abstract = sys.stdin.read()
        else:
            abstract = source.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # reported with the rest
        abstract = ""
        reason = (
            exc.strerror if isinstance(exc, OSError) and exc.strerror else f"not UTF-8 text ({exc.reason})"
        )
        unreadable = f"cannot read the abstract from {source or 'standard input'}: {reason}"
    path, text = scaffold.new_paper(
        args.root,
        title=args.title,
        abstract=abstract,
        authors=args.authors,
        topics=args.topic,
        tags=args.tag,
        date=args.date,
        arxiv=args.arxiv,
        doi=args.doi,
        url=args.url,
        pdf=args.pdf,
        code=args.code,
        journal=args.journal,
        proceedings=args.proceedings,
        added=args.added,
        dry_run=args.dry_run,
        abstract_error=unreadable,
    )
    if args.dry_run:
        print(text, end="")
    print(("would write " if args.dry_run else "") + path)
    if not args.dry_run:
        print("next: review its topics and tags, then run `make check` and `make serve`")
    return 0


def _cmd_build(args) -> int:
    from . import parallel, related_job

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.exiting:  # the process ends after the build: no collection as the build returns either
        gc.disable()  # (turned on again then, the collector went over its young objects: 0.05 s at 10,000)
    warm_up = functools.partial(related_job.warm_up, args.root)
    with parallel.Early(warm_up, args.jobs) as early:  # before the large imports
        from . import build as build_mod

        project = build_mod.Project.at(args.root, args.output)
        progress = Progress.on_terminal(sys.stderr)
        try:
            result = build_mod.build(
                project,
                base_url=args.base_url,
                strict=args.strict,
                use_cache=not args.no_cache,
                jobs=args.jobs,
                progress=progress,
                early=early,
                exiting=args.exiting,
            )
        finally:
            progress.clear()
    print(result.summary())
    if args.profile:
        print(result.profile())
    return 0


def _github(args) -> bool:
    fmt = getattr(args, "format", None)
    return fmt == "github" or (fmt is None and os.environ.get("GITHUB_ACTIONS") == "true")


def _selected(project, files: list[Path]) -> set[str]:
    """The given files as the catalogue names them (content/papers/<slug>.md); each must be one."""
    from .load import display_path

    root = project.root.resolve()
    papers = (project.content / "papers").resolve()
    named = set()
    for given in files:
        path = given.resolve() if given.exists() else (root / given).resolve()
        if path.parent != papers or path.suffix != ".md" or not path.is_file():
            raise UsageError(
                f"check: {given} is not a paper file of this catalogue; name files in "
                f"{display_path(papers, root)}/ (e.g. {display_path(papers, root)}/<slug>.md)"
            )
        named.add(display_path(path, root))
    return named


def _cmd_check(args) -> int:
    from . import build as build_mod
    from .check import escalate

    project = build_mod.Project.at(args.root)
    only = _selected(project, args.files) if args.files else None

    def selected(warnings: list) -> list:  # with FILEs, --strict applies here, to theirs only
        return warnings if only is None else [w for w in warnings if w.path in only]

    try:
        catalogue, warnings = build_mod.load_catalogue(project, strict=args.strict and only is None)
    except BuildFailed as failed:  # errors elsewhere: the given files' warnings still count
        mine = selected(failed.warnings)
        if args.strict and mine:
            raise BuildFailed(failed.errors + escalate(mine), failed.checked) from None
        _print_warnings(args, mine)
        raise
    warnings = selected(warnings)
    if only is not None and args.strict and warnings:
        raise BuildFailed(escalate(warnings))
    _print_warnings(args, warnings)
    files = {w.path for w in warnings}
    tail = (
        f", {plural(len(warnings), 'warning')} in {plural(len(files), 'file')}"
        if warnings
        else ", no warnings"
    )
    print(f"checked {plural(len(catalogue.papers), 'paper')}: no errors{tail}")
    return 0


def _print_warnings(args, warnings: list) -> None:
    """Each warning, but at most REPEAT_LIMIT of one message unless --verbose."""
    repeats = Counter(w.message for w in warnings)
    shown: Counter = Counter()
    for w in warnings:
        if _github(args):
            print(github_annotation(w))
        shown[w.message] += 1
        if args.verbose or repeats[w.message] <= REPEAT_LIMIT or shown[w.message] <= REPEAT_LIMIT:
            print(w.format())
        elif shown[w.message] == repeats[w.message]:
            print(
                f"… and {repeats[w.message] - REPEAT_LIMIT} more files: warning: {w.message} (-v lists them)"
            )


def _cmd_import(args) -> int:
    from . import sources

    report = sources.import_file(
        args.root,
        args.listing,
        added=args.added,
        dry_run=args.dry_run,
        topics=tuple(args.topic),
        tags=tuple(args.tag),
    )
    for line in report.lines():
        print(line)
    return 0


def main(argv: list[str] | None = None, exiting: bool = False) -> int:
    """Run a command; content errors become a located report and exit status 1. `exiting`:
    the process ends right after (see run), and need not free what the command made."""
    for stream in (sys.stdout, sys.stderr):  # odd bytes in file names must not crash a report
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = _parse(argv)
    args.exiting = exiting
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    commands = {
        "build": _cmd_build,
        "check": _cmd_check,
        "import": _cmd_import,
        "new": _cmd_new,
        "serve": _cmd_serve,
    }
    if signal.getsignal(signal.SIGINT) is _interrupted_early:  # from now on, as below
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _check_project(args.root, args.command)
        return commands[args.command](args)
    except BuildFailed as exc:
        print(describe_failure(exc), file=sys.stderr)
        if _github(args):
            for error in exc.errors:
                print(github_annotation(error))
        aftermath = {
            "build": "build failed: nothing was written; the previous site/ is unchanged",
            "import": "import failed: no paper files were written",
            "new": "nothing was written",
        }
        if args.command in aftermath:
            print(aftermath[args.command], file=sys.stderr)
        return 1
    except _usage_errors() as exc:
        print(describe_failure(exc), file=sys.stderr)
        if not isinstance(exc, UsageError):  # a template's error
            print(
                "  hint: fix the template at that line; the README's Templates section lists what "
                "templates are given",
                file=sys.stderr,
            )
            if args.command == "build":
                print("build failed: nothing was written; the previous site/ is unchanged", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Terminated)
        return _interrupted(exc)
    except RuntimeError as exc:
        # Python's threading turns a Ctrl-C that lands at the wrong moment of a Condition's
        # wait (in Thread.start, say) into "release unlocked lock", raised while handling it
        if not isinstance(exc.__context__, KeyboardInterrupt):
            raise
        return _interrupted(exc.__context__)
    except OSError as exc:  # a folder we cannot write, a full disk: the old site/ stays
        print(describe_failure(exc), file=sys.stderr)
        if args.command == "build":
            print(
                "build failed: the previous site/ is unchanged; check that the project folder "
                "and the --output folder's parent are writable and the disk is not full",
                file=sys.stderr,
            )
        return 1


def _interrupted(exc: KeyboardInterrupt) -> int:
    """Say how the command was stopped; its exit status."""
    if isinstance(exc, Terminated):
        print("terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    print("interrupted", file=sys.stderr)
    return 128 + signal.SIGINT


def _check_project(root: Path, command: str) -> None:
    """Refuse, with the way out, a --root (by default the current folder) that holds neither
    content/ nor templates/: run from another folder, every file would be reported missing."""
    if (root / "content").is_dir() or (root / "templates").is_dir():
        return
    where = "this folder" if root == Path(".") else str(root)
    if not root.is_dir():
        raise UsageError(f"--root {root}: no such folder; give the project folder, the one holding content/")
    found = next((p for p in root.resolve().parents if (p / "content" / "site.yml").is_file()), None)
    problem = f"{where} is not a papercat project (it has neither content/ nor templates/)"
    if found is None:
        raise UsageError(
            f"{problem}: run `{command}` in the project folder, or give --root PATH before `{command}`"
        )
    there = os.path.relpath(found) if root == Path(".") else str(found)
    raise UsageError(
        f"{problem}; the project is {there}: run `{command}` there (cd {there}), "
        f"or give --root {there} before `{command}`"
    )


def _usage_errors() -> tuple[type[Exception], ...]:
    """UsageError, and Jinja's template errors if jinja2 was imported (else none was raised)."""
    jinja2 = sys.modules.get("jinja2")
    return (UsageError, jinja2.TemplateError) if jinja2 is not None else (UsageError,)


def run() -> None:
    """main(), then exit without the interpreter's teardown: freeing a large catalogue's
    objects one by one takes longer than the whole of a small rebuild's work. SIGTERM stops
    any command as Ctrl-C does (a build is abandoned and the old site stays; serve stops its
    builder too)."""
    signal.signal(signal.SIGTERM, _terminate)
    code = main(exiting=True)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
