"""The related papers' work, as the process that computes them runs it (build.py's child, or
serve's helper). Light to import, with no templates or YAML: a child forked at the start of
`build` (see parallel.Early) imports this module to learn its work, while the build imports
the rest."""

from __future__ import annotations

import gc
import itertools
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

from .cache import FOLDER, KeptFile, kept_path

STATE = "related-state"  # .cache/related-state.pickle: tokens and neighbours of the last build


def warm_up(root: Path | None = None) -> None:
    """numpy and scipy (0.27 s to import), at once in a child forked for related papers, on the
    core the build leaves idle then. For the project at `root`, also numba's code for the
    scores (0.35-0.6 s), if the build looks likely to compute every paper's neighbours with it
    (see computes_afresh): then the work that waits for the papers starts without it (cold
    builds of 10,000 papers, ten alternating pairs: 0.2 s less, the median difference)."""
    from scipy import sparse  # noqa: F401

    from . import related  # noqa: F401

    if root is not None and computes_afresh(root):
        from . import neighbours

        neighbours.compiled(neighbours.COMPILED_ROWS)


def computes_afresh(root: Path) -> bool:
    """Whether the project at `root` has no related papers' state from a last build, and
    enough paper files for numba's code (a guess, from content/papers/ and .cache/, made
    before the build reads either)."""
    from .neighbours import COMPILED_ROWS

    if kept_path(root / FOLDER, STATE).exists():
        return False
    try:
        with os.scandir(root / "content" / "papers") as entries:  # (Project.at's layout)
            return sum(1 for _ in itertools.islice(entries, COMPILED_ROWS)) >= COMPILED_ROWS
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class Partial:
    """What a build can send before it has unpickled its cached papers: every paper's slug and
    source digest (Paper.digest: its file's bytes and the topics), and the texts of the papers
    read anew. Enough when the last state counted every other paper from a file with the same
    digest; else compute answers NEEDS_TEXTS and the build sends them all."""

    papers: tuple[tuple[str, str], ...]  # (slug, digest) of every paper
    texts: dict[str, tuple]  # slug -> (slug, title, body_md, tags), of the papers read anew


NEEDS_TEXTS = "needs every paper's text"  # compute's answer to a Partial it cannot use


def load_state(file: KeptFile | None):
    """The last build's related-papers state (about 30 MB at 10,000 papers), which stays in
    the process that computes them, with the digest of each paper it counted: (related.State,
    {slug: digest}), or None (no cache, or a cold build)."""
    warm_up()
    return None if file is None else file.load()


def save_state(file: KeptFile | None, state) -> None:
    """Keep the state for the next build (nothing without a cache, or without a new state)."""
    if file is not None and state is not None:
        file.save(state)


def compute(texts: list[tuple] | Partial, kept, parent: int = 0) -> tuple[dict | bytes | str, object]:
    """related.update of the papers' texts (slug, title, abstract, tags, digest) from the
    state `kept` (see load_state): the related papers, and the state for the next build. In a
    process other than `parent`, the related papers come pickled, as the build cache keeps
    them: the parent would otherwise pickle them again after unpickling them (0.03 s at 10,000
    papers). For a Partial that the state cannot complete: (NEEDS_TEXTS, None)."""
    from . import related

    state, digests = kept if kept is not None else (None, {})
    if isinstance(texts, Partial):
        papers = _completed(texts, state, digests)
        if papers is None:
            return NEEDS_TEXTS, None
        digests = dict(texts.papers)
    else:
        papers = [related.Text(*text[:4]) for text in texts]
        digests = {text[0]: text[4] for text in texts}
    # Without the collector: the update makes hundreds of thousands of objects, mostly freed
    # as they go, and the collector's passes over the state (~0.08 s an update at 10,000
    # papers) cost more than the few cycles left, which a helper collects once it has answered
    # and a child leaves when it exits.
    enabled = gc.isenabled()
    gc.disable()
    try:
        found, state = related.update(papers, state)
        if parent and os.getpid() != parent:
            found = pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL)
        return found, (state, digests)
    finally:
        if enabled:
            gc.enable()


def _completed(partial: Partial, state, digests: dict[str, str]) -> list | None:
    """The texts of a Partial, each paper not read anew standing for its row of the state (a
    tokens.Known); None if one of them is not in the state with the same digest."""
    from .tokens import Known, Text

    rows = {} if state is None else dict(zip(state.tokens.slugs, state.tokens.sources, strict=True))
    papers: list = []
    for slug, digest in partial.papers:
        text = partial.texts.get(slug)
        if text is not None:
            papers.append(Text(*text))
        elif digest and digests.get(slug) == digest and slug in rows:
            papers.append(Known(slug, rows[slug]))
        else:
            return None
    return papers
