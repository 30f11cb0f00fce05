"""Write the built site: everything goes to a fresh folder beside `site/`, then swaps in.

A build that fails or is interrupted never touches the previous `site/`.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from .errors import UsageError
from .model import OutputFile


def safe_relative(path: str) -> PurePosixPath:
    """Reject output paths that are absolute or climb out of the site folder."""
    rel = PurePosixPath(path)
    if rel.is_absolute() or not rel.parts or ".." in rel.parts or "\\" in path:
        raise ValueError(f"refusing to write outside the site folder: {path!r}")
    return rel


MARKER = ".papercat-site"  # written into every build: only such folders are ever replaced


def check_output_dir(site_dir: Path, protected: list[Path]) -> None:
    """Refuse an output folder that holds the project, or files papercat did not write."""
    target = site_dir.resolve()
    for folder in protected:
        folder = folder.resolve()
        if target == folder or folder.is_relative_to(target):
            raise UsageError(f"refusing to use {site_dir} as the output folder: it would replace {folder}")
    if target.is_file() or (target.is_dir() and any(target.iterdir()) and not (target / MARKER).is_file()):
        raise UsageError(
            f"refusing to replace {site_dir}: it exists and was not built by papercat "
            f"(no {MARKER} file); choose an empty or new --output folder"
        )


def write_site(outputs: list[OutputFile], static_dir: Path, site_dir: Path) -> int:
    """Write outputs plus static assets into a temporary folder, then swap it in."""
    site_dir = site_dir.absolute()
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(site_dir)
    tmp = Path(tempfile.mkdtemp(prefix=site_dir.name + ".tmp-", dir=site_dir.parent))
    try:
        if static_dir.is_dir():
            shutil.copytree(static_dir, tmp / "static", dirs_exist_ok=True)
        (tmp / MARKER).write_text("This folder is built by papercat and replaced on every build.\n")
        for out in outputs:
            target = tmp.joinpath(*safe_relative(out.path).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(out.data)
        os.chmod(tmp, 0o755)
        _swap(tmp, site_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return len(outputs)


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


def _swap(new: Path, site_dir: Path) -> None:
    """Put `new` in place of `site_dir` in one atomic step; then remove the old tree.

    Where the kernel or file system cannot exchange, fall back to two renames (a moment
    without `site_dir`, but the old tree survives beside it until the new one is in place).
    """
    if not site_dir.exists():
        os.rename(new, site_dir)
        return
    if _exchange(new, site_dir):
        shutil.rmtree(new, ignore_errors=True)  # `new` now holds the previous site
        return
    old = Path(tempfile.mkdtemp(prefix=site_dir.name + ".old-", dir=site_dir.parent))
    os.rmdir(old)
    os.rename(site_dir, old)
    os.rename(new, site_dir)
    shutil.rmtree(old, ignore_errors=True)


def remove_leftovers(site_dir: Path) -> None:
    """Temporary folders of builds that were killed before they could clean up."""
    site_dir = site_dir.absolute()
    if site_dir.parent.is_dir():
        for stale in site_dir.parent.glob(site_dir.name + ".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        for stale in site_dir.parent.glob(site_dir.name + ".old-*"):
            if not site_dir.exists():  # interrupted between the two fallback renames: restore
                os.rename(stale, site_dir)
            else:
                shutil.rmtree(stale, ignore_errors=True)
