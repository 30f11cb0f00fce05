"""The small exception and message types shared by every stage."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class ContentError:
    """One located problem in a content file: `path:line:col: message` plus a hint."""

    path: str
    line: int = 0
    col: int = 0
    message: str = ""
    hint: str = ""
    level: str = "error"  # or "warning": legal but suspicious; --strict makes it an error

    def location(self) -> str:
        """`path:line:col`, leaving out the parts that are unknown."""
        loc = self.path
        if self.line:
            loc += f":{self.line}"
            if self.col:
                loc += f":{self.col}"
        return loc

    def format(self) -> str:
        """The message as printed: location first, hint on its own line.

        Control characters from content (a newline in a key or file name) are shown escaped,
        so no message can forge extra lines such as GitHub's `::error` workflow commands.
        """
        prefix = "warning: " if self.level == "warning" else ""
        text = f"{printable(self.location())}: {prefix}{printable(self.message)}"
        if self.hint:
            text += f"\n  hint: {printable(self.hint)}"
        return text


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """Text with control characters and line separators escaped (\\n, \\x1b, \\u2028)."""
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def plural(n: int, noun: str) -> str:
    """'1 file', '2 files'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def github_annotation(error: ContentError) -> str:
    """The same message as a GitHub Actions workflow command, shown inline on pull requests."""

    def esc(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(text: str) -> str:
        return esc(text).replace(":", "%3A").replace(",", "%2C")

    parts = [f"file={prop(error.path)}"]
    if error.line:
        parts.append(f"line={error.line}")
        if error.col:
            parts.append(f"col={error.col}")
    message = error.message + (f" (hint: {error.hint})" if error.hint else "")
    return f"::{error.level} {','.join(parts)}::{esc(message)}"


class BuildFailed(Exception):
    """Raised when content is invalid; carries every error found in the run."""

    def __init__(self, errors: list[ContentError], checked: int = 0, warnings: list[ContentError] = ()):
        self.errors = sorted(errors)
        self.checked = checked  # content files looked at, when known
        self.warnings = sorted(warnings)  # of the papers that passed their own checks
        super().__init__(f"{len(self.errors)} errors")

    def report(self) -> str:
        """All errors, sorted by path and line, then `N errors in M files`."""
        files = {e.path for e in self.errors}
        lines = [e.format() for e in self.errors]
        lines.append(f"{plural(len(self.errors), 'error')} in {plural(len(files), 'file')}")
        papers = {path for path in files if path.endswith(".md")}
        if self.checked:  # nothing lost: every paper file is either valid or reported here
            valid = self.checked - len(papers)
            summary = f"{len(papers)} of {plural(self.checked, 'paper file')} rejected, {valid} valid"
            if len(files) > len(papers):
                summary += f"; {plural(len(files) - len(papers), 'other file')} with errors"
            lines.append(summary)
        elif files - papers:  # e.g. topics.yml, which the papers are checked against
            lines.append("no paper file was checked: fix the errors above first")
        return "\n".join(lines)


def describe_failure(exc: BaseException) -> str | None:
    """What to tell the user about a build that raised `exc` (None: not an expected failure)."""
    import jinja2  # here, not at the top: this module is imported by every stage

    if isinstance(exc, BuildFailed):
        return exc.report()
    if isinstance(exc, UsageError):
        return f"error: {exc}"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"{exc.filename or exc.name}:{exc.lineno}: template error: {exc.message}"
    if getattr(exc, "located", False):  # render.LocatedTemplateError
        return str(exc)
    if isinstance(exc, jinja2.TemplateError):
        where = template_line(exc)
        return f"{where}: template error: {exc}" if where else f"template error: {exc}"
    if isinstance(exc, OSError):  # a folder we cannot write, a full disk: the old site/ stays
        where = f" ({exc.filename})" if exc.filename else ""
        return f"error: {exc.strerror or exc}{where}"
    return None


def template_line(exc: BaseException) -> str | None:
    """'file:line' of the template line that raised `exc`, from the traceback Jinja rewrites to
    show template lines (None where there is none: a page rendered in another process)."""
    where = None
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if "__jinja_exception__" in tb.tb_frame.f_globals:  # a template's line (jinja2.debug)
            where = f"{name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


class UsageError(Exception):
    """A bad command line or configuration the user must fix before anything runs."""


def utf8_error(label: str, data: bytes, exc: UnicodeDecodeError) -> ContentError:
    """Where `data` (a file's bytes) stops being UTF-8, as a located error."""
    line_start = data.rfind(b"\n", 0, exc.start) + 1  # the bytes before the error are valid
    return ContentError(
        label,
        data.count(b"\n", 0, exc.start) + 1,
        len(data[line_start : exc.start].decode("utf-8")) + 1,
        f"file is not valid UTF-8 ({exc.reason})",
        "save the file as UTF-8",
    )
