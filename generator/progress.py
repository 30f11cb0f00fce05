"""A live status line for long builds on a terminal; silent anywhere else.

The CLI owns it (only the CLI prints); the build reports stages and counts to it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """Redraws one line on `stream` in place, at most every `interval` seconds."""

    def __init__(self, stream: TextIO | None = None, interval: float = 0.1) -> None:
        self.stream, self.interval = stream, interval
        self.last, self.width, self.done = 0.0, 0, ""

    @classmethod
    def on_terminal(cls, stream: TextIO) -> Progress:
        """Live progress when `stream` is a terminal; otherwise none (the summary line says it all)."""
        return cls(stream if stream.isatty() else None)

    def stage_done(self, name: str, seconds: float) -> None:
        """A stage finished: the line says so after the count of the next one."""
        self.done = f"{name} took {seconds:.1f} s"
        self.show("", force=True)

    def count(self, what: str, done: int, total: int) -> None:
        """`done` of `total` items of the current stage (numbers written as the summary line
        writes them)."""
        self.show(f"{what} {done}/{total}", force=done == total)

    def counter(self, what: str) -> Callable[[int, int], None]:
        """A `report(done, total)` callback for one kind of item."""
        return lambda done, total: self.count(what, done, total)

    def show(self, text: str, force: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        # what is being counted first: on a narrow terminal, the parts that do not fit are left out
        parts = [part for part in ("building", text, self.done) if part]
        width = shutil.get_terminal_size().columns - 1
        while len(parts) > 1 and len(" · ".join(parts)) > width:
            parts.pop()
        line = " · ".join(parts)[:width]
        self.stream.write("\r" + line + " " * max(0, self.width - len(line)))
        self.stream.flush()
        self.width = len(line)

    def clear(self) -> None:
        """Remove the line (before the summary is printed)."""
        if self.stream is not None and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
