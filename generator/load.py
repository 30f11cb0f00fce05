"""Read the content folder from disk: the only stage of the build that reads files."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from .cache import digest
from .errors import ContentError, utf8_error

MAX_FILE_BYTES = 1_000_000
READ_SIZE = 1 << 20  # bytes asked for at a time: a paper file in one read
# What editors leave beside a file while it is open or after saving: vim's swap files, backups
# (x.md~), emacs's lock links (.#x.md) and autosaves (#x.md#), and the like. Never content, and
# `serve`'s watcher (watchfiles' default filter) ignores most of them: so does the build.
EDITOR_FILES = re.compile(r"\.sw.$|~$|^\.#|^#.*#$|^\.DS_Store$|\.___jb_...___$|^flycheck_")


@dataclass(frozen=True, slots=True)
class RawDocument:
    """One paper file as read: its path as shown to users, its stem and its text; or, for a
    file unchanged since the last build read it (see Signed), no text but its key and where
    to read it (read_again)."""

    path: str
    stem: str
    text: str | None
    key: str = ""  # text_key(path, text), when known
    source: str = ""  # the file, to read it again


def text_key(path: str, text: str) -> str:
    """What a paper file's cache keys start from: its path as shown and its text."""
    return digest(path, text)


# A file whose status changed this recently may change again within its timestamps' tick
# (2 s on FAT): its signature is not kept (as git treats "racily clean" files).
RACY_NS = 3_000_000_000


@dataclass
class Signed:
    """The paper files a new process need not read: each file's stat signature (inode, size,
    modification and status-change times) and text key, as the last build read it. A file
    whose signature is unchanged is not read (any change to a file changes its status-change
    time): the cache has its result, or else it is read then (papers.process_documents).
    `seen` is this reading's, to keep."""

    last: dict[str, tuple]
    seen: dict[str, tuple] = field(default_factory=dict)


def load_documents(
    papers_dir: Path, label_root: Path, known: dict | None = None, signed: Signed | None = None
) -> tuple[list[RawDocument], list[ContentError]]:
    """Read every `*.md` in papers_dir (sorted); unreadable files become errors, not skips.

    `known` (kept by a long-lived process between builds) maps file names to the (stat
    signature, document) of their last reading: a file whose signature is unchanged is not
    read again. It is updated to this reading. `signed`: the same for a new process, from
    the last build's signatures and keys (see Signed).
    """
    seen: dict[str, tuple] = {}
    try:
        return _load_documents(papers_dir, label_root, known, seen, signed)
    finally:
        if known is not None:
            known.clear()
            known.update(seen)


def _load_documents(
    papers_dir: Path, label_root: Path, known: dict | None, seen: dict, signed: Signed | None
):
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
    folder = display_path(papers_dir, label_root)
    settled = time.time_ns() - RACY_NS  # a file whose status changed before this is signed
    with os.scandir(papers_dir) as listing:  # entries know their type: no stat per file
        entries = sorted(listing, key=lambda entry: entry.name)
    for entry in entries:
        name, label = entry.name, f"{folder}/{entry.name}"
        dot_md = name.endswith(".md")  # as a rule: then only these two of EDITOR_FILES can match
        if (
            name == ".gitkeep"
            or (not dot_md or name.startswith((".#", "flycheck_")))
            and EDITOR_FILES.search(name)
        ):
            continue
        if name.startswith("."):
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
        if entry.is_symlink():
            errors.append(
                ContentError(
                    label, 0, 0, "symbolic links are not allowed in content/", "commit the file itself"
                )
            )
            continue
        if entry.is_dir() or not dot_md:  # (a name starting with "." is refused above)
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
        if known is not None or signed is not None:
            info = entry.stat(follow_symlinks=False)
            signature = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        if known is not None:
            last = known.get(name)
            if last is not None and last[0] == signature:
                docs.append(last[1])
                seen[name] = last
                continue
        if signed is not None:
            last = signed.last.get(name)
            if last is not None and last[0] == signature:
                docs.append(RawDocument(label, name[:-3], None, last[1], entry.path))
                signed.seen[name] = last
                continue
        doc, error = read_document(entry.path, label, name[:-3])
        if doc is None:
            errors.append(error)
            continue
        docs.append(doc)
        if known is not None:
            seen[name] = (signature, doc)
        if signed is not None and info.st_ctime_ns < settled:
            signed.seen[name] = (signature, doc.key)
    return docs, errors


def read_bytes(path: str, limit: int | None = None) -> bytes:
    """A file's bytes, read with os calls: open() adds a file object and three system calls
    (fstat, isatty, lseek), 4 of the 9 µs it took to read a paper file. With `limit`, no more
    than limit + 1 bytes are read: a longer file shows as one byte too long."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks, size = [], 0
        while chunk := os.read(fd, READ_SIZE):
            chunks.append(chunk)
            size += len(chunk)
            if limit is not None and size > limit:
                break
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_document(source: str, label: str, stem: str) -> tuple[RawDocument | None, ContentError | None]:
    """One paper file, read; or why it cannot be."""
    try:
        data = read_bytes(source, MAX_FILE_BYTES)
    except OSError as exc:
        return None, ContentError(
            label, 0, 0, f"cannot read the file ({exc.strerror})", "make it readable, or remove it"
        )
    if len(data) > MAX_FILE_BYTES:  # not read further, nor decoded
        return None, ContentError(
            label,
            0,
            0,
            f"file is over {MAX_FILE_BYTES:,} bytes, the limit for a paper file",
            "a paper file is its front matter and abstract: a few KB",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, utf8_error(label, data, exc)
    return RawDocument(label, stem, text, text_key(label, text), source), None


def read_again(doc: RawDocument) -> tuple[RawDocument | None, ContentError | None]:
    """A document with its text (read now, if load_documents did not)."""
    return (doc, None) if doc.text is not None else read_document(doc.source, doc.path, doc.stem)


def display_path(path: Path, root: Path) -> str:
    """A path as shown in messages: relative to the project root when inside it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def symlinks(content_dir: Path, label_root: Path) -> list[ContentError]:
    """Symbolic links anywhere under content/ (listings included): refused, never followed."""
    errors = []

    def walk(folder: str) -> None:
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:
            return  # as os.walk: a folder that cannot be listed is passed over
        for entry in entries:
            if entry.is_symlink() and not EDITOR_FILES.search(entry.name):  # emacs locks are links
                errors.append(
                    ContentError(
                        display_path(Path(entry.path), label_root),
                        0,
                        0,
                        "symbolic links are not allowed in content/",
                        "commit the file itself",
                    )
                )
            elif entry.is_dir():
                walk(entry.path)

    walk(str(content_dir))
    return sorted(errors)
