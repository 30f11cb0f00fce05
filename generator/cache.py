"""A content-addressed memo of work that depends only on its inputs, kept between builds.

Entries live in `.cache/papercat.sqlite` (git-ignored, safe to delete) under a stage name and
the sha256 of everything the stage reads. The whole cache is keyed by a version: the
generator's own source and the versions of the libraries whose output we keep, so editing
the generator or upgrading Markdown empties it. A build with the cache gives the same bytes
as one without (tested); a cache that cannot be read or written is ignored, with a log line.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import marshal
import os
import pickle
import re
import sqlite3
import sys
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
LIBRARIES = (
    "jinja2",
    "markdown",
    "nh3",
    "pyyaml",
    "python-slugify",
    "text-unidecode",
    "lunr",
    "numpy",
    "scipy",
)
ALWAYS: Callable[[object], bool] = lambda _: True  # noqa: E731  keep empty results too
FILE_NAME = "papercat.sqlite"
FOLDER = ".cache"  # the project's cache folder, below its root
# Pages of 64 KiB, not SQLite's 4 KiB: a paper's entry (about 7 KB) then fits in one. A build
# of 10,000 papers read the cache in 0.033 s instead of 0.054 s, and wrote it anew in 0.10 s
# instead of 0.20 s; updating a few entries took as long.
PAGE_SIZE = 65536


def digest(*parts: str | bytes) -> str:
    """sha256 of the parts, each length-prefixed so that no two part lists collide."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def value_digest(value) -> str:
    """A digest of a value of strings, numbers, None, tuples and lists (dates made numbers
    first) that tells values apart as digest(repr(value)) does, in a third of the time (see
    value_bytes). Other values: their repr."""
    return digest(value_bytes(value))


def value_bytes(value) -> bytes:
    """Bytes that tell values apart as repr does, for a value of strings, numbers, None, tuples
    and lists: marshal's version 2, which writes no back-references or marks of interned
    strings, so equal values give equal bytes. Other values: their repr, marked as such."""
    try:
        return marshal.dumps(value, 2)
    except ValueError:  # a type marshal does not take
        return b"repr:" + repr(value).encode("utf-8")


def papers_digest(papers, describe: Callable) -> str:
    """A digest of papers in order: each paper's source digest, or repr(describe(paper)) without one."""
    return digest(*(p.digest or repr(describe(p)) for p in papers))


def code_version() -> str:
    """The generator's source files and the versions of the libraries it leans on."""
    package = Path(__file__).resolve().parent
    parts: list[str | bytes] = []
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".js", ".json"}:
            parts += [path.relative_to(package).as_posix(), path.read_bytes()]
    versions = _versions(LIBRARIES)
    for name in LIBRARIES:
        parts += [name, versions[name]]
    return digest(*parts)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def _versions(names) -> dict[str, str]:
    """The installed version of each distribution ("-" if none), from the name of its
    metadata folder ("Jinja2-3.1.4.dist-info") on sys.path, the first one found, as
    importlib.metadata finds it; importlib.metadata itself where no such name tells (importing
    it and parsing each METADATA file took about 40 ms, a tenth of a small rebuild)."""
    wanted, found = {_normal(name): name for name in names}, {}
    for folder in sys.path:
        try:
            entries = sorted(os.listdir(folder or "."))
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".dist-info"):
                project, _, version = entry.removesuffix(".dist-info").partition("-")
                name = wanted.get(_normal(project))
                if name and version and "-" not in version:
                    found.setdefault(name, version)
    missing = [name for name in names if name not in found]
    if missing:
        from importlib import metadata

        for name in missing:
            try:
                found[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                found[name] = "-"
    return found


def _make_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    gitignore = folder / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("# papercat's build cache: safe to delete\n*\n")


def kept_path(folder: Path, name: str) -> Path:
    """Where a cache in `folder` keeps the value named `name` (see KeptFile)."""
    return folder / f"{name}.pickle"


@dataclass(frozen=True)
class KeptFile:
    """A large value in a file of its own beside the cache, for state that a worker process
    reads and writes itself, so that the build's process never holds it."""

    path: Path
    version: str

    def load(self):
        """The value save() kept, or None: a file of another version, or damaged, counts as
        missing (with a log line)."""
        try:
            with self.path.open("rb") as file:
                version, value = pickle.load(file)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001  any damage: start afresh
            log.warning("ignoring the build cache %s (%s): it will be made anew", self.path, exc)
            return None
        return value if version == self.version else None

    def save(self, value) -> None:
        """Keep `value`, replacing the file atomically (and deleting what a killed save left)."""
        part = self.path.with_name(f"{self.path.name}.{os.getpid()}.part")
        try:
            _make_folder(self.path.parent)
            for left in self.path.parent.glob(f"{glob.escape(self.path.name)}.*.part"):
                if not _running(left.name.removeprefix(self.path.name + ".").removesuffix(".part")):
                    left.unlink(missing_ok=True)
            with part.open("wb") as file:
                pickle.dump((self.version, value), file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(part, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                part.unlink()
            log.warning("could not save the build cache %s: %s", self.path, exc)


def _running(pid: str) -> bool:
    """Whether the process numbered `pid` (a string) may be running; False if not a number."""
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's: running
        pass
    return True


class Cache:
    """Stage results by (stage, key); `memo` computes and stores what is missing.

    Entries not used by a build are dropped when it saves, so the cache holds one build's worth.
    With `keep_objects` (a long-lived process such as `serve`), the values found or made are
    also kept as objects, so that the next build (see `begin`) skips unpickling them: values
    from the cache are shared, and never modified.
    """

    def __init__(self, folder: Path | None, version: str, keep_objects: bool = False) -> None:
        self.path = folder / FILE_NAME if folder else None
        self.version = version
        self.stored: dict[tuple[str, str], bytes | None] = {}  # None: taken (see get's `once`)
        self.new: dict[tuple[str, str], bytes] = {}
        self.used: set[tuple[str, str]] = set()
        self.hits = self.misses = self.damaged_entries = 0
        self.damaged = False  # a damaged or outdated cache file is replaced by a new one on save
        self.objects: dict[tuple[str, str], object] | None = {} if keep_objects else None
        if self.path and self.path.is_file():
            try:
                with closing(sqlite3.connect(self.path)) as db:
                    row = db.execute("SELECT value FROM meta WHERE name = 'version'").fetchone()
                    if row and row[0] == version:
                        self.stored = {
                            (s, k): v for s, k, v in db.execute("SELECT stage, key, value FROM entries")
                        }
                    else:  # another version's entries: a new file, rather than emptied (see PAGE_SIZE)
                        self.damaged = True
            except sqlite3.Error as exc:
                log.warning("ignoring the build cache %s (%s): it will be made anew", self.path, exc)
                self.damaged = True

    @classmethod
    def disabled(cls) -> Cache:
        """A cache that remembers nothing (every memo computes)."""
        return cls(None, "")

    def begin(self) -> Cache:
        """Start another build with this cache: count its uses afresh."""
        self.used = set()
        self.hits = self.misses = self.damaged_entries = 0
        return self

    def get(self, stage: str, key: str, kind: type | tuple[type, ...] = object, once: bool = False):
        """The stored result for (stage, key), or None (also if it is not of `kind`). `once`:
        this process asks for it only once, so its bytes are let go (an entry still counts as
        had, and stays in the file; a warm process keeps the value as an object)."""
        item = (stage, key)
        if self.objects is not None:
            value = self.objects.get(item)
            if value is not None and isinstance(value, kind):
                self.used.add(item)
                self.hits += 1
                return value
        data = self.stored.get(item)
        if data is not None:
            try:
                value = pickle.loads(data)
                if not isinstance(value, kind):
                    raise TypeError(f"a {type(value).__name__}, not a {getattr(kind, '__name__', kind)}")
            except Exception as exc:  # noqa: BLE001  any damage: recompute (unused entries are dropped on save)
                if not self.damaged_entries:
                    log.warning("ignoring a damaged entry of the build cache %s (%s)", self.path, exc)
                self.damaged_entries += 1
            else:
                self.used.add(item)
                self.hits += 1
                if self.objects is not None:
                    self.objects[item] = value
                if once:
                    self.stored[item] = None
                return value
        self.misses += 1
        return None

    def has(self, stage: str, key: str) -> bool:
        """Whether a result for (stage, key) is at hand, without unpickling it (`get` may still
        find it damaged, or not of the kind asked for)."""
        item = (stage, key)
        return item in self.stored or (self.objects is not None and item in self.objects)

    def keep(self, stage: str, key: str) -> None:
        """Keep a stored result for later builds although this one does not need it."""
        if self.has(stage, key):
            self.used.add((stage, key))

    def put(self, stage: str, key: str, value, pickled: bytes | None = None) -> None:
        """Remember a result (not None) until a build no longer uses it; `pickled`: the value
        as pickle.dumps gives it, when at hand."""
        if self.path is not None:
            item = (stage, key)
            self.new[item] = pickled or pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            self.used.add(item)
            if self.objects is not None:
                self.objects[item] = value

    def memo(
        self,
        stage: str,
        key: str,
        compute: Callable[[], T],
        keep: Callable[[T], bool] = bool,
        kind: type | tuple[type, ...] = object,
    ) -> T:
        """The stored result for (stage, key), else compute() (stored when `keep` says so)."""
        if self.path is None:
            return compute()
        value = self.get(stage, key, kind)
        if value is None:
            value = compute()
            if keep(value):
                self.put(stage, key, value)
        return value

    def folder(self, name: str) -> Path | None:
        """A folder of the cache for a library's own files (None when disabled)."""
        return None if self.path is None else self.path.parent / name

    def kept_file(self, name: str) -> KeptFile | None:
        """The file `<name>.pickle` of this cache (None when disabled): see KeptFile."""
        return None if self.path is None else KeptFile(kept_path(self.path.parent, name), self.version)

    def lacks_file(self, name: str) -> bool:
        """Whether a file that save_file would keep is missing (never, when the cache is disabled)."""
        file = self.kept_file(name)
        return file is not None and not file.path.is_file()

    def load_file(self, name: str):
        """A large value kept in its own file by save_file, or None (see KeptFile.load)."""
        file = self.kept_file(name)
        return None if file is None else file.load()

    def save_file(self, name: str, value) -> None:
        """Keep `value` for load_file, replacing the file atomically."""
        file = self.kept_file(name)
        if file is not None:
            file.save(value)

    def save(self) -> None:
        """Write new entries and drop unused ones (no-op when nothing changed)."""
        if self.path is None:
            return
        if self.damaged_entries > 1:
            log.warning("%d damaged entries of the build cache were made anew", self.damaged_entries)
        stale = [item for item in self.stored if item not in self.used]
        if self.objects is not None:
            self.objects = {item: value for item, value in self.objects.items() if item in self.used}
        if not self.new and not stale and not self.damaged:
            return
        try:
            _make_folder(self.path.parent)
            if self.damaged:
                self.path.unlink(missing_ok=True)
                self.damaged = False
            with closing(sqlite3.connect(self.path)) as db, db:
                db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # for a new file only
                db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS entries"
                    " (stage TEXT, key TEXT, value BLOB, PRIMARY KEY (stage, key))"
                )
                old = db.execute("SELECT value FROM meta WHERE name = 'version'").fetchone()
                if not old or old[0] != self.version:
                    db.execute("DELETE FROM entries")
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (self.version,))
                db.executemany("DELETE FROM entries WHERE stage = ? AND key = ?", stale)
                db.executemany(
                    "INSERT OR REPLACE INTO entries VALUES (?, ?, ?)",
                    [(s, k, v) for (s, k), v in self.new.items()],
                )
        except (sqlite3.Error, OSError) as exc:
            log.warning("could not save the build cache %s: %s", self.path, exc)
        self.stored.update(self.new)
        for item in stale:
            del self.stored[item]
        self.new = {}
