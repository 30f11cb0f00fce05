"""Listings of the built trees (the live site, the spare tree): their files, folders and
file sizes, walked in this process or, while the build loads the content, in a child."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from . import parallel

_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class Listing:
    """A tree as walked: its files and folders, as paths relative to it (folders deepest
    first), and each file's regular_size (None when walked without sizes)."""

    files: list[str]
    folders: list[str]
    sizes: dict[str, int | None] | None


def regular_size(info: os.stat_result) -> int | None:
    """The size of a regular file; None for anything else (a link, a folder), never linked."""
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def list_tree(top: Path | str | int, sizes: bool = True) -> Listing | None:
    """Walk a folder, given by its path or an open descriptor; None if it cannot be walked."""
    files: list[str] = []
    folders: list[str] = []
    found: dict[str, int | None] | None = {} if sizes else None
    try:
        fd = top if isinstance(top, int) else os.open(top, _FOLDER)
    except OSError:
        return None
    try:
        _walk(fd, "", files, folders, found)
    except OSError:
        return None
    finally:
        if fd is not top:
            os.close(fd)
    return Listing(files, folders, found)


def _walk(fd: int, folder: str, files: list[str], folders: list[str], sizes: dict | None) -> None:
    """Every file and folder below the folder open as `fd` (named `folder` in the paths)."""
    with os.scandir(fd) as entries:  # a descriptor: the walk goes on if the tree is renamed
        for item in entries:
            path = f"{folder}/{item.name}" if folder else item.name
            if item.is_dir(follow_symlinks=False):
                below = os.open(item.name, _FOLDER, dir_fd=fd)
                try:
                    _walk(below, path, files, folders, sizes)
                finally:
                    os.close(below)
                folders.append(path)
            else:
                files.append(path)
                if sizes is not None:
                    try:
                        sizes[path] = regular_size(item.stat(follow_symlinks=False))
                    except OSError:  # gone meanwhile
                        sizes[path] = None


class Survey:
    """A listing, with sizes, of a folder, walked in a child forked now while this process
    goes on: at 10,000 papers the live site and the spare tree hold 10,000 folders and 20,000
    files each, walks of about 0.2 s that a rebuild's own core would otherwise spend while
    its other core waited. The folder is opened here and walked through that descriptor, so
    that it is still the one listed if it is renamed meanwhile. With `nice`, the child yields
    the cores to the build's other processes where they are busy.

    The listing describes the tree as it was when walked: the caller keeps other builds out
    (write.SiteLock) and changes nothing in it until it has the result.
    """

    def __init__(self, folder: Path, jobs: int | None = None, nice: int = 0) -> None:
        self.folder, self.job = folder, None
        try:
            self.fd = os.open(folder, _FOLDER)
        except OSError:
            self.fd = -1
            return
        fd = self.fd
        self.job = parallel.Background(lambda: list_tree(fd), jobs, nice)

    def result(self, now: Path | None = None) -> Listing | None:
        """The listing; None if the folder could not be walked, or if its name now (`now`,
        if it was renamed since: by default its name then) stands for another folder. Once
        taken, it is gone: None."""
        job, self.job = self.job, None
        try:
            listing = job.result() if job is not None else None
            return listing if listing is not None and _still(now or self.folder, self.fd) else None
        finally:
            self._close()

    def _close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Survey:
        return self

    def __exit__(self, *exc) -> None:
        if self.job is not None:
            self.job.__exit__(*exc)
        self._close()


def _still(folder: Path, fd: int) -> bool:
    """Whether `folder` still names the folder open as `fd`."""
    try:
        return os.path.samestat(os.fstat(fd), os.lstat(folder))
    except OSError:
        return False
