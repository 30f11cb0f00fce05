"""Write the built site: everything goes to a folder beside `site/`, then swaps in.

A build that fails or is interrupted never touches the previous `site/`. The tree a build
swaps out is kept as `.site.spare/` and becomes the next build's folder, so that a rebuild
only replaces the files that differ instead of making every folder and link anew.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .model import OutputFile
from .trees import Listing, Survey, list_tree, regular_size

log = logging.getLogger(__name__)


def safe_relative(path: str) -> str:
    """Reject output paths that are absolute or climb out of the site folder (or name none)."""
    if "\\" not in path and ".." not in path and path[:1] != "/" and path.strip("./"):
        return path  # as a rule: no part can be "..", and some part is a name (20,000 a rebuild)
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or ".." in parts or not any(p not in ("", ".") for p in parts):
        raise ValueError(f"refusing to write outside the site folder: {path!r}")
    return path


MARKER = ".papercat-site"  # written into every build: only such folders are ever replaced


def check_output_dir(site_dir: Path, root: Path, sources: tuple[Path, ...] = ()) -> None:
    """Refuse an output folder that holds the project `root` or the sources (content/,
    templates/), lies inside them, is a symbolic link, or holds files papercat did not write."""
    if site_dir.is_symlink():
        raise UsageError(
            f"refusing to use {site_dir} as the output folder: it is a symbolic link, which a build "
            "would replace by a folder; pass the folder it points to as --output"
        )
    target = site_dir.resolve()
    for folder in (root, *sources):
        folder = folder.resolve()
        if target == folder or folder.is_relative_to(target):
            raise UsageError(f"refusing to use {site_dir} as the output folder: it would replace {folder}")
    for folder in sources:
        if target.is_relative_to(folder.resolve()):
            raise UsageError(f"refusing to write the site inside {folder}: choose a folder outside it")
    for folder in target.parents:
        if (folder / MARKER).is_file():
            raise UsageError(f"refusing to write the site inside {folder}, the output of another build")
    if target.name.endswith(".spare") or ".tmp-" in target.name or ".old-" in target.name:
        raise UsageError(f"refusing to use {site_dir}: a build keeps its own folders under such names")
    if target.is_file() or (target.is_dir() and any(target.iterdir()) and not (target / MARKER).is_file()):
        raise UsageError(
            f"refusing to replace {site_dir}: it exists and was not built by papercat "
            f"(no {MARKER} file); choose an empty or new --output folder"
        )


MANIFEST = ".papercat-manifest.json"  # path -> [sha256, size, key] of every file of the last build


class Previous:
    """The last build's manifest: which files it wrote, with what bytes, from what inputs."""

    def __init__(self, site_dir: Path, read: bool = True, listing: Listing | None = None) -> None:
        """`listing`: the site's files as walked (with sizes) since another build last wrote
        there, to look them up rather than at them (see trees.Survey)."""
        self.site_dir = site_dir.absolute()
        self.files: dict[str, list] = {}
        self.seen: bytes | None = None  # blake2b of the manifest's bytes, if there is one
        self.listing = listing
        self._intact: dict[tuple[str, int], bool] = {}  # a build looks at each file up to three times
        if not read:  # as if there were no last build
            return
        try:
            raw = (self.site_dir / MANIFEST).read_bytes()
        except OSError:
            return
        seen = self.seen = hashlib.blake2b(raw).digest()
        files = _manifests.get(seen)
        if files is None:
            files = _parse_manifest(raw)
            if files:
                _remember_manifest(seen, files)
        self.files = files

    def sha(self, path: str) -> str | None:
        entry = self.files.get(path)
        return entry[0] if entry else None

    def reusable(self, path: str, key: str) -> bool:
        """The last build made `path` from inputs with this key, and the file is still there."""
        entry = self.files.get(path)
        return bool(key) and entry is not None and entry[2] == key and self.intact(path, entry[1])

    def intact(self, path: str, size: int) -> bool:
        """A regular file (not a link) of that size: safe to hard-link into the new build."""
        if self.listing is not None:
            return self.listing.sizes.get(path) == size
        known = self._intact.get((path, size))
        if known is None:  # paths are ours (SiteWriter.stage)
            known = self._intact[path, size] = _same_size(os.path.join(self.site_dir, path), size)
        return known

    def look_ahead(self, prefix: str) -> None:
        """intact() of every file under `prefix` as the manifest has it, now rather than when
        asked: a build does this while it waits anyway (no need with a listing)."""
        if self.listing is not None:
            return
        for path, entry in self.files.items():
            if path.startswith(prefix):
                self.intact(path, entry[1])


MANIFEST_FORMAT = 2
# Manifests this process wrote or read last, by a digest of their bytes: a long-lived process
# (serve) reads each again in the next build, as the live site's and then the spare tree's.
_manifests: dict[bytes, dict[str, list]] = {}


def _parse_manifest(raw: bytes) -> dict[str, list]:
    """The files of a manifest's bytes ({} if it is not one of ours)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        return {}
    if not (
        isinstance(data, dict)
        and data.get("format") == MANIFEST_FORMAT
        and isinstance(data.get("files"), dict)
    ):
        return {}
    return {
        path: entry
        for path, entry in data["files"].items()
        if isinstance(entry, list) and len(entry) == 3 and isinstance(entry[1], int)
    }


def _remember_manifest(seen: bytes, files: dict[str, list]) -> None:
    """Keep a manifest's files by the blake2b digest of its bytes (the last two only)."""
    while len(_manifests) >= 2:  # the live site's and the spare tree's
        del _manifests[next(iter(_manifests))]
    _manifests[seen] = files


def _remember_swap(new: tuple[bytes, dict], replaced: Previous | None) -> None:
    """After a swap, keep the manifests of the new site and of the tree it replaced, the
    next spare; not that of the spare this build claimed, which became the new site."""
    _manifests.clear()
    if replaced is not None and replaced.seen is not None:
        _manifests[replaced.seen] = replaced.files
    _manifests[new[0]] = new[1]


def reusable(previous: Previous | None, path: str, key: str) -> bool:
    """Whether the last build's `path` was made from the same inputs (never, without a last build)."""
    return previous is not None and previous.reusable(path, key)


def keyed(previous: Previous | None, path: str, key: str, make: Callable[[], bytes]) -> OutputFile:
    """The file at `path`: kept from the last build if made from the same inputs (`key`), else make()."""
    if reusable(previous, path, key):
        return OutputFile(path, None, key)
    return OutputFile(path, make(), key)


@dataclass(frozen=True)
class WriteResult:
    """How many files were written, how many were kept from the previous build, and how many
    of the previous build's are gone."""

    written: int
    unchanged: int
    removed: int = 0


def _static_files(static_dir: Path) -> list[OutputFile]:
    if not static_dir.is_dir():
        return []
    return [
        OutputFile("static/" + p.relative_to(static_dir).as_posix(), p.read_bytes())
        for p in sorted(static_dir.rglob("*"))
        if p.is_file()
    ]


def spare_dir(site_dir: Path) -> Path:
    """Where the tree that the last build swapped out waits to be reused."""
    return site_dir.with_name(f".{site_dir.name}.spare")


class SiteLock:
    """An exclusive lock on the folder that holds the site (flock): one build at a time
    writes there, or reads its trees. Waits for another build to finish."""

    def __init__(self, site_dir: Path) -> None:
        folder = site_dir.absolute().parent
        folder.mkdir(parents=True, exist_ok=True)
        self.fd = _lock(folder)

    def release(self) -> None:
        """Let the next build go on (again: nothing)."""
        _unlock(self.fd)
        self.fd = -1

    def __enter__(self) -> SiteLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class SiteWriter:
    """Writes a build into a temporary folder beside `site/`, then swaps it in atomically.

    `put` files as they are made (forked render workers may call `stage` themselves and hand
    the result to `record`). Only files whose bytes differ from the previous build's are
    written; the others, and pages not rendered because their inputs did not change
    (`data` None), become hard links to the old files when the build is finished. A build
    with no change at all writes nothing and swaps nothing. Use as a context manager: on
    failure the temporary folder goes and `site/` is untouched.

    The temporary folder is the spare tree of the build before last, when there is one (see
    spare_dir): claimed by renaming it, so that a killed build leaves only a leftover that
    the next one deletes. Its files that match this build stay as they are.
    """

    def __init__(
        self,
        site_dir: Path,
        previous: Previous | None = None,
        reuse: bool = True,
        lock: SiteLock | None = None,
        spare: Survey | None = None,
    ) -> None:
        """`lock`: the SiteLock taken for this build, released when it is finished (else one is
        taken now); `spare`: the spare tree's survey, begun under that lock (see trees.Survey)."""
        self.site_dir = site_dir.absolute()
        self._lock = lock or SiteLock(self.site_dir)
        try:
            remove_leftovers(self.site_dir)
            same = previous is not None and previous.site_dir == self.site_dir
            self.previous = previous if same else Previous(self.site_dir, read=reuse)
            self.tmp = tempfile.mkdtemp(prefix=self.site_dir.name + ".tmp-", dir=self.site_dir.parent)
        except BaseException:
            self._lock.release()
            raise
        self.entries: dict[str, list] = {}
        self.written = 0
        self._made: set[str] = {""}
        self._promised: list[str] = []  # folders counted as made, not made yet (promise_folders)
        self._unchanged: list[str] = []  # recorded, not written: linked from the old site on finish
        self.reuse = reuse
        if not reuse and (spare_dir(self.site_dir) / MARKER).is_file():
            _discard(spare_dir(self.site_dir), self.site_dir)  # a clean build trusts no earlier tree
        self.spare = self._claim_spare() if reuse else {}  # path -> manifest entry, of files in tmp
        self._listed: Listing | None = None  # see list_spare
        self._survey = spare
        self._made.update(path.rpartition("/")[0] for path in self.spare)

    def _claim_spare(self) -> dict[str, list]:
        spare = spare_dir(self.site_dir)
        if not (spare / MARKER).is_file():  # none, or not ours: left alone
            return {}
        files = Previous(spare).files
        writable = all(
            os.access(spare / folder, os.W_OK) for folder in {"", *(p.split("/")[0] for p in files)}
        )
        if not files or not writable:
            _discard(spare, self.site_dir)  # not a tree we can trust, or write into
            return {}
        try:
            os.rename(spare, self.tmp)  # replaces the empty folder; fails if another build took it
        except OSError:
            return {}
        return files

    def list_spare(self) -> Listing:
        """The spare tree's files and folders (none without one), listed once, for finish to
        tidy, with the files' sizes, for finish to check those it keeps: a build lists them
        early when it waits anyway (at 10,000 papers, 10,000 folders and 20,000 files), if a
        trees.Survey has not. The files this build writes later are its own, and kept; the
        others stay as listed."""
        if self._listed is None:
            listed = None
            if self.spare:  # the survey's, if it walked the folder claimed (renamed to tmp since)
                listed = self._survey.result(Path(self.tmp)) if self._survey is not None else None
                listed = listed or list_tree(self.tmp)
            self._listed = listed or Listing([], [], {})
        return self._listed

    def __enter__(self) -> SiteWriter:
        return self

    def __exit__(self, kind, *_) -> None:
        if kind is not None:
            _rmtree(self.tmp)
        self._release()

    def stage(self, path: str, data: bytes | None, key: str = "") -> tuple[str, list, bool]:
        """Write one file into the new tree if it changed: (path, manifest entry, written?)."""
        safe_relative(path)
        old = self.previous
        if data is None:
            return path, self._kept_entry(path, key), False
        entry = [hashlib.sha256(data).hexdigest(), len(data), key]
        if old.sha(path) == entry[0] and old.intact(path, entry[1]):
            return path, entry, False
        target = self._target(path)
        if self.spare:  # never write into a spare tree's file: it may be a link to the live site's
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
        _in_folder(target, functools.partial(_write_file, target, data))
        return path, entry, True

    def promise_folders(self, paths) -> None:
        """Count the folders of `paths` as made, for make_promised_folders to make in this
        process while forked workers write into them (a worker that finds one missing makes
        it: see _in_folder). Processes that make entries in one folder at once take turns at
        its lock, and spin while they wait: a cold build of 10,000 papers spent about 0.3 s
        more of kernel time when its two processes made the 10,000 folders of the paper pages
        in papers/ as they wrote them. Call before forking the workers, which then leave the
        folders to this process."""
        for path in paths:
            folder = safe_relative(path).rpartition("/")[0]
            if folder not in self._made:
                self._made.add(folder)
                self._promised.append(folder)

    def make_promised_folders(self) -> None:
        """Make the folders promise_folders counted, last first: workers write from the last."""
        promised, self._promised = self._promised, []
        for folder in reversed(promised):
            _ensure_folder(os.path.join(self.tmp, folder))

    def _target(self, path: str) -> str:
        """Where `path` goes in the new tree, its folder made (once per process)."""
        folder = path.rpartition("/")[0]
        if folder not in self._made:
            _ensure_folder(os.path.join(self.tmp, folder))
            self._made.add(folder)
        return os.path.join(self.tmp, path)

    def record(self, staged: tuple[str, list, bool]) -> None:
        """Take note of a file staged (here or in a worker process)."""
        path, entry, written = staged
        if path in self.entries:
            raise ValueError(f"two files for {path}")
        self.entries[path] = entry
        self.written += written
        if not written:
            self._unchanged.append(path)

    def put(self, path: str, data: bytes | None, key: str = "") -> None:
        self.record(self.stage(path, data, key))

    def keep(self, path: str, key: str) -> None:
        """put(path, None, key): the last build's file, made from the same inputs, stays as it
        is; for a caller that found it reusable (most files of a rebuild)."""
        self.record((safe_relative(path), self._kept_entry(path, key), False))

    def _kept_entry(self, path: str, key: str) -> list:
        """The last build's manifest entry of `path`, whose file this build keeps."""
        if not self.previous.reusable(path, key):
            raise ValueError(f"{path}: not rendered, but the previous build has no such file")
        return self.previous.files[path]

    def finish(self, static_dir: Path) -> WriteResult:
        """Add the static files, link the unchanged files, write the manifest, swap the new site in."""
        for out in _static_files(static_dir):
            self.put(out.path, out.data)
        old, total = self.previous, len(self.entries)
        if (
            not self.written
            and self.entries == old.files
            and all(old.intact(p, e[1]) for p, e in old.files.items())
            and not _strays(old.listing or list_tree(self.site_dir, sizes=False), self.entries)
        ):
            self._put_back()
            self._release()
            return WriteResult(0, total)
        if self.spare:
            self._tidy_spare()
        spare_sizes = self.list_spare().sizes if self.spare else {}
        for path in sorted(self._unchanged):
            entry, spare = self.entries[path], self.spare.get(path)
            if spare and spare[0] == entry[0] and spare_sizes.get(path) == entry[1]:
                continue  # the spare tree has it already (a regular file of that size)
            target = self._target(path)
            if spare:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(target)
            _in_folder(target, functools.partial(os.link, os.path.join(self.site_dir, path), target))
        tmp = Path(self.tmp)
        (tmp / MARKER).write_text("This folder is built by papercat and replaced on every build.\n")
        manifest = {"format": MANIFEST_FORMAT, "files": self.entries}
        raw = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode("utf-8")
        (tmp / MANIFEST).write_bytes(raw)
        os.chmod(tmp, 0o755)
        _swap(tmp, self.site_dir, keep=self.reuse)
        _remember_swap((hashlib.blake2b(raw).digest(), self.entries), old if self.reuse else None)
        self._release()
        removed = sum(1 for path in old.files if path not in self.entries)
        return WriteResult(self.written, total - self.written, removed)

    def _release(self) -> None:
        self._lock.release()

    def _put_back(self) -> None:
        """Nothing changed: the spare tree (if claimed) waits for the next build."""
        if self.spare:
            with contextlib.suppress(OSError):
                os.rename(self.tmp, spare_dir(self.site_dir))
                return
        _rmtree(self.tmp)

    def _tidy_spare(self) -> None:
        """Remove what the spare tree has and this build does not: files, then empty folders."""
        keep = {MARKER, MANIFEST, *self.entries}
        listed = self.list_spare()
        for path in listed.files:
            if path not in keep:
                os.unlink(os.path.join(self.tmp, path))
        holding = {path.rpartition("/")[0] for path in self.entries}  # will have files: keep
        for folder in listed.folders:  # deepest first
            if folder in holding:
                continue
            with contextlib.suppress(OSError):  # not empty
                os.rmdir(os.path.join(self.tmp, folder))
                self._made.discard(folder)


def _ensure_folder(path: str) -> None:
    """os.makedirs(path, exist_ok=True) in one mkdir where the parent is there, as it nearly
    always is: makedirs looks at the parent first (10,000 paper pages' folders)."""
    try:
        os.mkdir(path)
    except FileNotFoundError:
        os.makedirs(path, exist_ok=True)
    except FileExistsError:
        if not os.path.isdir(path):
            raise


def _write_file(path: str, data: bytes) -> None:
    """Write a new file (or replace one's bytes) with os calls: open() adds a file object, a
    buffer and three system calls (fstat, isatty, lseek), about 6 µs a file of 20,830."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _in_folder(target: str, put: Callable[[], None]) -> None:
    """put() a file at `target`; if that fails for want of a folder, make it (unless it is
    there by now) and put() once more. The new tree's folders are those of the spare tree's
    manifest (see SiteWriter._made), but a folder deleted from the site by hand is missing
    from the next spare tree; and a worker may get to a folder before the build's process
    has made it (see SiteWriter.promise_folders)."""
    try:
        put()
    except FileNotFoundError:
        _ensure_folder(os.path.dirname(target))
        put()


def _strays(site: Listing | None, entries: dict) -> bool:
    """Whether the site holds files or folders that no build wrote (a clean build has none);
    yes if it could not be listed."""
    if site is None:
        return True
    wanted = {folder for path in entries for folder in _parents(path)}
    return set(site.files) != {MARKER, MANIFEST, *entries} or set(site.folders) != wanted


def _parents(path: str) -> list[str]:
    """'a/b/c.html' -> ['a', 'a/b']."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _rmtree(path: str | Path) -> None:
    """shutil.rmtree, making read-only folders writable as it goes; what still fails stays."""

    def retry(func, name, _exc) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), 0o700)
            if func in (os.rmdir, os.unlink, os.remove):
                func(name)

    shutil.rmtree(path, onerror=retry)


_held: set[int] = set()  # descriptors of the locks this process holds


def _close_inherited_locks() -> None:
    """In a forked child: let go of the parent's lock descriptors, so that the lock ends with
    the parent even if the child outlives it (the parent's own descriptor keeps it held)."""
    for fd in _held:
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_inherited_locks)


def _lock(folder: Path) -> int:
    """An exclusive lock on a folder (flock); waits for another build to finish, saying so."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log.warning(
            "waiting for another build to finish: one build at a time writes a site into %s"
            " (Ctrl-C to stop waiting)",
            folder,
        )
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:  # no locking here: go on without
        pass
    _held.add(fd)
    return fd


def _unlock(fd: int) -> None:
    if fd in _held:
        _held.discard(fd)
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _same_size(path: str, size: int) -> bool:
    """A regular file (not a link) of that size: safe to hard-link into the new build."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return regular_size(info) == size


RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), RENAME_EXCHANGE)
    return result == 0


def _swap(new: Path, site_dir: Path, keep: bool = True) -> None:
    """Put `new` in place of `site_dir` in one atomic step; then keep the old tree as the
    spare for the next build (`keep`), or remove it.

    Where the kernel or file system cannot exchange, fall back to two renames (a moment
    without `site_dir`, but the old tree survives beside it until the new one is in place).
    """
    if not site_dir.exists():
        os.rename(new, site_dir)
        return
    if _exchange(new, site_dir):
        old = new  # it holds the previous site now
    else:
        old = Path(tempfile.mkdtemp(prefix=site_dir.name + ".old-", dir=site_dir.parent))
        os.rmdir(old)
        os.rename(site_dir, old)
        os.rename(new, site_dir)
    if keep:
        _keep_spare(old, site_dir)
    else:
        _remove_soon(old)


def _keep_spare(old: Path, site_dir: Path) -> None:
    """Keep the replaced site for the next build to reuse (or delete it, if one is kept)."""
    try:
        os.rename(old, spare_dir(site_dir))  # fails if a spare is there already
    except OSError:
        _remove_soon(old)


def _discard(spare: Path, site_dir: Path) -> None:
    """Delete a spare tree soon, moved aside first: its name is free at once for the tree this
    build swaps out, which a deleter still walking the old name would otherwise reach."""
    aside = tempfile.mkdtemp(prefix=site_dir.name + ".tmp-", dir=site_dir.parent)  # a leftover if killed
    try:
        os.rename(spare, aside)  # replaces the empty folder
    except OSError:
        os.rmdir(aside)
        return
    _remove_soon(Path(aside))


def _remove_soon(folder: Path) -> None:
    """Delete a replaced site in a detached process, so the build need not wait for it.

    If it is interrupted, the next build's remove_leftovers finishes the job. In a process
    with other threads (`serve`), or where fork fails, it is deleted here and now.
    """
    if threading.active_count() == 1 and hasattr(os, "fork"):
        try:
            pid = os.fork()
        except OSError:
            pid = -1
        if pid == 0:  # child: fork again so that init, not the build, reaps the deleter
            try:
                if os.fork() == 0:
                    os.setsid()
                    _rmtree(folder)
            finally:
                os._exit(0)
        if pid > 0:
            os.waitpid(pid, 0)
            return
    _rmtree(folder)


def remove_leftovers(site_dir: Path) -> None:
    """Temporary folders of builds that were killed before they could clean up."""
    site_dir = site_dir.absolute()
    if site_dir.parent.is_dir():
        for stale in site_dir.parent.glob(site_dir.name + ".tmp-*"):
            _rmtree(stale)
        for stale in site_dir.parent.glob(site_dir.name + ".old-*"):
            if not site_dir.exists():  # interrupted between the two fallback renames: restore
                os.rename(stale, site_dir)
            else:
                _rmtree(stale)
