"""The related papers' work, as the process that computes them runs it (build.py's child, or
serve's helper). Light to import, with no templates or YAML: a child forked at the start of
`build` (see parallel.Early) imports this module to learn its work, while the build imports
the rest."""

from __future__ import annotations

import gc
import os
import pickle

from .cache import KeptFile


def warm_up() -> None:
    """numpy and scipy (0.27 s to import), at once in a child forked for related papers, on the
    core the build leaves idle then."""
    from scipy import sparse  # noqa: F401

    from . import related  # noqa: F401


def load_state(file: KeptFile | None):
    """The last build's related-papers state (about 30 MB at 10,000 papers), which stays in
    the process that computes them (None: no cache, or a cold build)."""
    warm_up()
    return None if file is None else file.load()


def save_state(file: KeptFile | None, state) -> None:
    """Keep the state for the next build (nothing without a cache)."""
    if file is not None:
        file.save(state)


def compute(texts: list[tuple], state, parent: int = 0) -> tuple[dict | bytes, object]:
    """related.update of the papers' texts (slug, title, abstract, tags) from `state`: the
    related papers, and the state for the next build. In a process other than `parent`, the
    related papers come pickled, as the build cache keeps them: the parent would otherwise
    pickle them again after unpickling them (0.03 s at 10,000 papers)."""
    from . import related

    # Without the collector: the update makes hundreds of thousands of objects, mostly freed
    # as they go, and the collector's passes over the state (~0.08 s an update at 10,000
    # papers) cost more than the few cycles left, which a helper collects once it has answered
    # and a child leaves when it exits.
    enabled = gc.isenabled()
    gc.disable()
    try:
        found, state = related.update([related.Text(*text) for text in texts], state)
        if parent and os.getpid() != parent:
            found = pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL)
        return found, state
    finally:
        if enabled:
            gc.enable()
