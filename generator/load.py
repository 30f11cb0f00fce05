"""Read the content folder from disk: the only stage of the build that reads files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ContentError

MAX_FILE_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class RawDocument:
    """One paper file as read: its path as shown to users, its stem and its text."""

    path: str
    stem: str
    text: str


def load_documents(papers_dir: Path, label_root: Path) -> tuple[list[RawDocument], list[ContentError]]:
    """Read every `*.md` in papers_dir (sorted); unreadable files become errors, not skips."""
    docs: list[RawDocument] = []
    errors: list[ContentError] = []
    if papers_dir.is_symlink():
        return docs, [
            ContentError(
                display_path(papers_dir, label_root), 0, 0, "content/papers/ may not be a symbolic link"
            )
        ]
    if not papers_dir.is_dir():
        return docs, [
            ContentError(
                display_path(papers_dir, label_root),
                0,
                0,
                "papers folder is missing",
                "create content/papers/ and add one .md file per paper",
            )
        ]
    for path in sorted(papers_dir.iterdir()):
        label = display_path(path, label_root)
        if path.name == ".gitkeep":
            continue
        if path.name.startswith("."):
            errors.append(
                ContentError(
                    label,
                    0,
                    0,
                    "hidden file in content/papers/",
                    "content/papers/ holds only <slug>.md files; remove it",
                )
            )
            continue
        if path.is_symlink():
            errors.append(
                ContentError(
                    label, 0, 0, "symbolic links are not allowed in content/", "commit the file itself"
                )
            )
            continue
        if path.is_dir() or path.suffix != ".md":
            errors.append(
                ContentError(
                    label,
                    0,
                    0,
                    "unexpected entry in content/papers/",
                    "content/papers/ holds only <slug>.md files",
                )
            )
            continue
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            line = path.read_bytes()[: exc.start].count(b"\n") + 1
            errors.append(
                ContentError(
                    label, line, 0, f"file is not valid UTF-8 ({exc.reason})", "save the file as UTF-8"
                )
            )
            continue
        docs.append(RawDocument(label, path.stem, text))
    return docs, errors


def display_path(path: Path, root: Path) -> str:
    """A path as shown in messages: relative to the project root when inside it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def symlinks(content_dir: Path, label_root: Path) -> list[ContentError]:
    """Symbolic links anywhere under content/ (listings included): refused, never followed."""
    errors = []
    for folder, dirs, files in os.walk(content_dir):
        for name in sorted(dirs + files):
            path = Path(folder) / name
            if path.is_symlink():
                errors.append(
                    ContentError(
                        display_path(path, label_root),
                        0,
                        0,
                        "symbolic links are not allowed in content/",
                        "commit the file itself",
                    )
                )
    return sorted(errors)
