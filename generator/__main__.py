"""Command line: `python -m generator build|import`. The only module that prints."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import jinja2

from . import build as build_mod
from .errors import BuildFailed, UsageError

log = logging.getLogger("generator")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m generator",
                                     description="Build the paper catalogue's static site.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each stage")
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="project folder holding content/ and templates/ (default: .)")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="validate content and write the site to site/")
    b.add_argument("--output", type=Path, help="output folder (default: ROOT/site)")
    b.add_argument("--base-url", help="override base_url from content/site.yml (e.g. in CI deploys)")
    i = sub.add_parser("import", help="turn a daily-papers listing into content/papers/*.md")
    i.add_argument("listing", type=Path, help="the listing file (text dump of a daily-papers page)")
    i.add_argument("--added", help="the 'added' date for new papers, YYYY-MM-DD (default: today)")
    i.add_argument("--dry-run", action="store_true", help="report what would be written, write nothing")
    return parser


def _cmd_build(args) -> int:
    project = build_mod.Project.at(args.root, args.output)
    result = build_mod.build(project, base_url=args.base_url)
    print(result.summary())
    return 0


def _cmd_import(args) -> int:
    from . import importer

    report = importer.import_listing(args.root, args.listing, added=args.added, dry_run=args.dry_run)
    for line in report.lines():
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run a command; content errors become a located report and exit status 1."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s: %(message)s")
    commands = {"build": _cmd_build, "import": _cmd_import}
    try:
        return commands[args.command](args)
    except BuildFailed as exc:
        print(exc.report(), file=sys.stderr)
        print("build failed: nothing was written; the previous site/ is unchanged", file=sys.stderr)
        return 1
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except jinja2.TemplateSyntaxError as exc:
        print(f"{exc.filename or exc.name}:{exc.lineno}: template error: {exc.message}", file=sys.stderr)
        return 1
    except jinja2.TemplateError as exc:
        print(f"template error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
