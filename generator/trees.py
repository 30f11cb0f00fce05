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
    """Listings, with sizes, of some folders, walked in a child forked now while this process
    goes on: at 10,000 papers the live site and the spare tree hold 10,000 folders and 20,000
    files each, two walks of about 0.2 s that a rebuild's own core would otherwise spend
    while its other core waited. The folders are opened here and walked through those
    descriptors, so a folder renamed meanwhile is still the one listed.

    The listings describe the trees as they were when walked: the caller keeps other builds
    out (write.SiteLock) and changes nothing in them until it has the result.
    """

    def __init__(self, folders: list[Path], jobs: int | None = None) -> None:
        self.folders = folders
        self.fds = []
        for folder in folders:
            try:
                self.fds.append(os.open(folder, _FOLDER))
            except OSError:
                self.fds.append(-1)
        fds = list(self.fds)
        here = os.getpid()
        self.job = parallel.Background(lambda: _walks(fds, os.getpid() != here), jobs)

    def result(self) -> list[Listing | None]:
        """Each folder's listing; None for one that could not be walked, or whose name now
        stands for another folder than the one walked."""
        try:
            listings = self.job.result()
            return [
                listing if fd >= 0 and _still(folder, fd) else None
                for folder, fd, listing in zip(self.folders, self.fds, listings, strict=True)
            ]
        finally:
            self._close()

    def _close(self) -> None:
        for fd in self.fds:
            if fd >= 0:
                os.close(fd)
        self.fds = [-1] * len(self.fds)

    def __enter__(self) -> Survey:
        return self

    def __exit__(self, *exc) -> None:
        self.job.__exit__(*exc)
        self._close()


def _walks(fds: list[int], child: bool) -> list[Listing | None]:
    """The listings; a child yields the cores to the build's other processes where they are busy."""
    if child:
        os.nice(10)
    return [list_tree(fd) if fd >= 0 else None for fd in fds]


def _still(folder: Path, fd: int) -> bool:
    """Whether `folder` still names the folder open as `fd`."""
    try:
        return os.path.samestat(os.fstat(fd), os.lstat(folder))
    except OSError:
        return False
