"""The build, as a table of contents: load -> validate -> markup -> taxonomy -> search -> render -> write."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import logging
import os
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import (
    allocator,
    check,
    cite,
    config,
    feeds,
    in_place,
    load,
    parallel,
    related_job,
    render,
    search,
    taxonomy,
    trees,
    validate,
    write,
)
from . import cache as cache_mod
from . import papers as papers_mod
from .cache import Cache, code_version, digest, papers_digest, value_digest
from .errors import BuildFailed, ContentError, UsageError, plural
from .model import Catalogue, Paper, sort_papers
from .progress import Progress

log = logging.getLogger(__name__)
RELATED_STATE = related_job.STATE  # .cache/related-state.pickle: tokens and neighbours of the last build
SIGNATURES = ("paper-files", "signatures")  # the cache's entry for load.Signed
OWN_WARNINGS = ("paper-warnings", "by-digest-and-day")  # check.content_warnings' `kept`, for a new process


@dataclass(frozen=True, slots=True)
class Project:
    """Where a catalogue's inputs live and where its site goes."""

    root: Path
    content: Path
    templates: Path
    output: Path

    @classmethod
    def at(cls, root: Path, output: Path | None = None) -> Project:
        """The standard layout below `root`."""
        return cls(root, root / "content", root / "templates", output or root / "site")


@dataclass
class Warm:
    """What a long-lived process (`serve`) keeps from one build to the next: the build cache,
    with its values as objects, the paper files as last read (see load.load_documents), and
    the biggest files as parts to update in place (in_place.py)."""

    cache: Cache | None = None
    files: dict = field(default_factory=dict)
    rendered: render.Kept = field(default_factory=render.Kept)  # listing entries, page keys
    in_place: dict = field(default_factory=dict)  # kind -> its parts, as _in_place keeps them
    keys: dict = field(default_factory=dict)  # name -> (inputs, key): see key_of
    document_keys: dict = field(default_factory=dict)  # see papers.process_documents
    warnings: dict = field(default_factory=dict)  # see check.content_warnings
    feed_entries: feeds.KeptEntries = field(default_factory=feeds.KeptEntries)
    related: parallel.Helper | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Imported once here, not by every build's related-papers process (0.2 s or more).
        from scipy import sparse  # noqa: F401

        from . import related  # noqa: F401

        # Related papers are computed by a helper forked now, while this process is small,
        # which keeps their state from one build to the next (see RelatedPapers).
        self.related = parallel.Helper(_related_in_helper)

    def close(self) -> None:
        """Stop the helper process (a computation it is running is abandoned)."""
        if self.related is not None:
            self.related.close()

    def forget(self, paths) -> None:
        """Read these files again, whatever their stat says (the watcher saw them change)."""
        for path in paths:
            self.files.pop(Path(path).name, None)

    def key_of(self, name: str, inputs, make: Callable[[], str]) -> str:
        """make(), a digest of `inputs`; or the last one made for equal inputs (comparing
        is quicker than digesting their repr again)."""
        known = self.keys.get(name)
        if known is not None and known[0] == inputs:
            return known[1]
        key = make()
        self.keys[name] = (inputs, key)
        return key

    def cache_for(self, project: Project) -> Cache:
        folder, version = project.root / cache_mod.FOLDER, code_version()
        kept = self.cache
        if kept is None or kept.path != folder / cache_mod.FILE_NAME or kept.version != version:
            self.cache = Cache(folder, version, keep_objects=True)
        return self.cache.begin()


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What a build produced, for the summary line."""

    papers: int
    topics: int
    tags: int
    pages: int
    seconds: float
    warnings: int = 0
    stages: tuple[tuple[str, float], ...] = ()
    files_written: int = 0
    files_unchanged: int = 0
    rendered: int | None = None  # pages rendered (the others' inputs were unchanged); None: all
    found: tuple[ContentError, ...] = field(default=(), repr=False)  # the warnings themselves
    files_removed: int = 0  # the last build's files this one has not

    def summary(self) -> str:
        """One line: counts and time (and how many warnings `check` would show)."""
        text = (
            f"built {plural(self.papers, 'paper')}, {plural(self.topics, 'topic')}, "
            f"{plural(self.tags, 'tag')}: {plural(self.pages, 'page')} in {self.seconds:.2f} s"
        )
        if self.rendered is not None and self.rendered < self.pages:
            text += f" ({self.rendered} rendered, the rest unchanged)"
        elif self.rendered is not None and self.files_unchanged:  # a rebuild that changed every page's inputs
            text += " (all rendered)"
        if self.files_written or self.files_unchanged:
            text += f"; wrote {plural(self.files_written, 'file')}, {self.files_unchanged} unchanged"
            if self.files_removed:
                text += f", {self.files_removed} removed"
        if self.warnings:
            text += f" ({plural(self.warnings, 'warning')}: run `make check` to see them)"
        return text

    def profile(self) -> str:
        """Per-stage wall times, one per line, then the total (start-up and the rest included)."""
        width = max((len(name) for name, _ in self.stages), default=0) + 2
        lines = [f"  {name:<{width}}{seconds:7.3f} s" for name, seconds in self.stages]
        lines.append(f"  {'total':<{width}}{self.seconds:7.3f} s")
        return "\n".join(lines)


def load_catalogue(
    project: Project,
    base_url: str | None = None,
    *,
    strict: bool = False,
    cache: Cache | None = None,
    jobs: int | None = None,
    on_papers: Callable[[list[Paper]], None] | None = None,
    progress: Progress | None = None,
    known: dict | None = None,
    on_changed: Callable[[], None] | None = None,
    known_keys: dict | None = None,
    kept_warnings: dict | None = None,
    on_early: Callable[[list[tuple[str, str]], list[Paper]], None] | None = None,
) -> tuple[Catalogue, list[ContentError]]:
    """Load and validate all content; return it with its warnings, or raise BuildFailed.

    Papers come with their abstracts rendered (body_html, body_text). With `strict`,
    warnings count as errors. `jobs` worker processes share the per-paper work.
    `on_papers` sees the papers that passed the per-file checks before the cross-file ones run;
    `on_changed` is told, before that, that some paper files are new or changed, and
    `on_early` is given every paper's (slug, digest) and the papers read anew, if those passed
    (see papers.process_documents).
    `known`: the paper files as last read, by load.load_documents; `known_keys`: their cache
    keys, by papers.process_documents; `kept_warnings`: each paper's own warnings, by
    check.content_warnings.
    """
    label = project.root
    site, errors = config.load_site_config(
        project.content / "site.yml", load.display_path(project.content / "site.yml", label)
    )
    topics, topic_errors = config.load_topics(
        project.content / "topics.yml", load.display_path(project.content / "topics.yml", label)
    )
    cache = cache or Cache.disabled()
    signed = None  # a new process with a cache: the files it need not read (see load.Signed)
    if known is None and cache.path is not None:
        signed = load.Signed(cache.get(*SIGNATURES, dict) or {})
    docs, load_errors = load.load_documents(project.content / "papers", label, known, signed)
    if signed is not None and signed.seen != signed.last:
        cache.put(*SIGNATURES, signed.seen)
    papers_dir = (project.content / "papers").resolve()
    load_errors += [
        e
        for e in load.symlinks(project.content, label)
        if not (project.root / e.path).parent.resolve() == papers_dir
    ]  # those already reported
    papers, paper_errors = (
        papers_mod.process_documents(
            docs,
            topics,
            cache,
            jobs,
            (progress or Progress()).counter("new or changed papers"),
            on_changed,
            known_keys,
            on_early if not (errors or load_errors) else None,
        )
        if not topic_errors
        else ([], [])
    )
    errors += topic_errors + load_errors + paper_errors
    if on_papers and not errors:
        on_papers(papers)
    errors += validate.cross_file_errors(papers, cache)
    stored = None  # a new process with a cache: the papers' own warnings, as the last build found them
    if kept_warnings is None and cache.path is not None:
        kept_warnings = cache.get(*OWN_WARNINGS, dict) or {}
        stored = dict(kept_warnings)
    warnings = check.content_warnings(papers, cache=cache, kept=kept_warnings)
    if stored is not None and stored != kept_warnings:
        cache.put(*OWN_WARNINGS, kept_warnings)
    if strict:
        errors, warnings = errors + check.escalate(warnings), []
    if errors:  # count the paper files looked at (none, if topics.yml stopped the checks)
        unread = sum(1 for e in load_errors if e.path.endswith(".md"))
        raise BuildFailed(errors, checked=0 if topic_errors else len(docs) + unread, warnings=warnings)
    if base_url:
        site = dataclasses.replace(site, base_url=config.normalise_base_url(base_url))
    return Catalogue(sort_papers(papers), topics, site), sorted(warnings)


def template_version(templates: Path) -> str:
    """A digest of every file under templates/ (names and bytes)."""
    files = sorted(p for p in templates.rglob("*") if p.is_file())
    return digest(*(part for p in files for part in (p.relative_to(templates).as_posix(), p.read_bytes())))


class Stages:
    """Wall time per build stage, for `build --profile` (and the progress line)."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.times: list[tuple[str, float]] = []
        self.progress = progress or Progress()
        self._last = time.perf_counter()

    def done(self, name: str) -> None:
        """Close the stage that just finished."""
        now = time.perf_counter()
        self.times.append((name, now - self._last))
        self.progress.stage_done(name, now - self._last)
        self._last = now


@contextlib.contextmanager
def _collector_for_builds():
    """No cycle collection while building: the build's objects mostly live until it ends, and
    it leaves few cycles (10,000 objects after a cold build of 10,000 papers). Collecting
    every 100,000 new objects still took three passes of 15-60 ms of a rebuild at 10,000
    papers; every 700, 0.5 s or more. Afterwards (also after a failed build: serve goes on)
    the collector runs as before, and build's gc.freeze() is undone."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()


@_collector_for_builds()
def build(
    project: Project,
    base_url: str | None = None,
    *,
    strict: bool = False,
    use_cache: bool = True,
    jobs: int | None = None,
    progress: Progress | None = None,
    warm: Warm | None = None,
    early: parallel.Early | None = None,
    exiting: bool = False,
) -> BuildResult:
    """Build the whole site into project.output; the old site stays if anything fails.

    Work that depends only on its inputs is remembered in `.cache/` (see cache.py), and pages
    whose inputs did not change are kept from the last build; `use_cache=False` does neither.
    `jobs` processes share the work (default: one per core). The site is the same either way.
    A process that builds again and again keeps `warm` for the next build. `early`: a child
    forked at the process's start (before its large imports) for the related papers.
    `exiting`: the process ends right after (the CLI), so the build's objects are left for
    the exit to drop instead of being freed one by one (0.08 s at 10,000 papers).
    """
    started = time.perf_counter()
    allocator.keep_freed_memory()
    stages = Stages(progress)
    cache = None  # a new process's: read once the surveys have forked (below)
    if not use_cache:
        cache = Cache.disabled()
    elif warm is not None:
        cache = warm.cache_for(project)
    if base_url and config.base_url_problem(base_url):
        raise UsageError(f"--base-url: {config.base_url_problem(base_url)}")
    write.check_output_dir(project.output, project.root, (project.content, project.templates))
    if not (project.templates / "base.html").is_file():
        raise UsageError(f"no templates in {project.templates}: is --root the project folder?")
    with contextlib.ExitStack() as stack:  # on failure: stop the background jobs, drop the new tree
        lock = stack.enter_context(write.SiteLock(project.output))  # from now: the trees stay as listed
        surveys = _surveys(project.output, jobs) if use_cache and warm is None else (None, None)  # serve: big
        for survey in surveys:
            if survey is not None:
                stack.enter_context(survey)
        if cache is None:  # read now: the surveys were forked smaller, and faster, without it
            cache = Cache(project.root / cache_mod.FOLDER, code_version())
        helper = warm.related if warm is not None and use_cache else None
        related = stack.enter_context(
            RelatedPapers(cache, jobs, warm is not None, helper, early)
        )  # beside the next stages
        catalogue, warnings = load_catalogue(
            project,
            base_url,
            strict=strict,
            cache=cache,
            jobs=jobs,
            on_papers=related.start,
            on_changed=related.prepare,
            on_early=related.early,
            progress=progress,
            known=warm.files if warm is not None and use_cache else None,
            known_keys=warm.document_keys if warm is not None and use_cache else None,
            kept_warnings=warm.warnings if warm is not None and use_cache else None,
        )
        stages.done("load + check + markdown")
        # The catalogue lives until the end: keep the garbage collector from scanning it again
        # and again (at 100,000 papers that took a fifth of a rebuild), and forked workers
        # from copying its pages by touching them.
        gc.freeze()
        papers = catalogue.papers
        live = surveys[0].result() if surveys[0] is not None else None
        previous = write.Previous(project.output, listing=live) if use_cache else None
        version = digest(cache.version or code_version(), template_version(project.templates))
        writer = stack.enter_context(write.SiteWriter(project.output, previous, use_cache, lock, surveys[1]))
        derived = _derive(catalogue, cache, stages, previous, version, warm if use_cache else None)
        big = len(papers) >= parallel.MIN_ITEMS
        later: list[Callable[[], None]] = []  # what the search index's process saves once it is done
        elsewhere, here = _generated_files(
            catalogue, derived, version, cache, warm if use_cache else None, later
        )
        index = stack.enter_context(BackgroundFiles(elsewhere, previous, writer, jobs if big else 1, later))
        for path, key, make in here:
            writer.put(path, None if write.reusable(previous, path, key) else make(), key)
        stages.done("search index (started)")  # made in another process meanwhile, or kept warm

        def related_papers() -> dict:  # paper pages need them: the other pages render before
            stages.done("render + write other pages")
            if related.wanted:  # still being computed, as a rule: meanwhile, list what finish will
                writer.list_spare()  # tidy, and look at the paper pages' old files
                if previous is not None:
                    previous.look_ahead("papers/")
            found = related.result()
            stages.done("waiting for related papers")
            return found

        env = render.make_environment(project.templates, cache.folder("templates"))
        topics, tags = derived.topics, derived.tags
        pages, rendered = render.render_site(
            env,
            catalogue,
            topics,
            tags,
            derived,
            writer,
            previous,
            version,
            jobs,
            stages.progress.counter,  # a report for each kind of file rendered
            related_papers,
            warm.rendered if warm is not None and use_cache else None,
            related.elsewhere() + index.elsewhere(),
        )
        stages.done("render + write paper pages")
        for staged in index.result():
            writer.record(staged)
        stages.done("waiting for search index")
        written = writer.finish(project.templates / "static")
    cache.save()
    stages.done("write")
    result = BuildResult(
        len(papers),
        len(topics),
        len(tags),
        pages,
        time.perf_counter() - started,
        len(warnings),
        tuple(stages.times),
        written.written,
        written.unchanged,
        rendered,
        tuple(warnings),
        written.removed,
    )
    log.info(result.summary())
    if exiting:
        _LEFT_FOR_EXIT.append(locals())
    return result


_LEFT_FOR_EXIT: list[dict] = []  # see build's `exiting`


# Bytes of the last build's manifest (about 5,000 files) from which a survey pays: at 1,000
# papers (0.5 MB) it cost 0.03 s more than it saved; at 10,000 (4.5 MB) it saved about 0.1 s.
SURVEY_FROM = 1 << 20


def _surveys(site_dir: Path, jobs: int | None) -> tuple[trees.Survey | None, trees.Survey | None]:
    """The live site and the spare tree, each listed in a child while the content loads (see
    trees.Survey), if they are large enough for that to pay; else None: listed when needed.
    The live site's listing is needed as the content is loaded; the spare tree's, at nice 10,
    only once the other pages are rendered."""
    try:
        large = (site_dir / write.MANIFEST).stat().st_size >= SURVEY_FROM
    except OSError:
        large = False
    if not large:
        return None, None
    site_dir = site_dir.absolute()
    return trees.Survey(site_dir, jobs), trees.Survey(write.spare_dir(site_dir), jobs, nice=10)


def _related_text(paper: Paper) -> tuple:
    """What related papers are computed from, of one paper (tokens.Text's fields): also what
    their cache key covers, for a paper without a source digest."""
    return (paper.slug, paper.title, paper.body_md, paper.tags)


class RelatedPapers:
    """Related papers from the cache, or computed in a background process that is forked
    before the papers load (it would otherwise be the build's largest process, holding a
    copy of everything loaded) and given their texts as soon as they have passed their own
    checks (see load_catalogue's on_papers). A warm process hands them to its `helper`
    (see Warm), or else forks that process then, if needed."""

    def __init__(
        self,
        cache: Cache,
        jobs: int | None,
        warm: bool = False,
        helper: parallel.Helper | None = None,
        early: parallel.Early | None = None,
    ) -> None:
        self.cache, self.jobs, self.helper = cache, jobs, helper
        self.key, self.found, self.wanted = "", None, False
        self.texts: list[tuple] | None = None  # as handed to the helper
        self.sent_early: list[tuple[str, str]] | None = None  # see early
        self.stale_early = False  # see start
        self.papers: list[Paper] = []  # by slug, as start saw them
        # A warm process (serve) is big already: its child is forked when it is needed.
        self.job = None if warm else self._job(jobs, early)

    def _job(self, jobs: int | None, early: parallel.Early | None = None) -> parallel.Deferred:
        file = self.cache.kept_file(RELATED_STATE)
        return parallel.Deferred(
            functools.partial(related_job.compute, parent=os.getpid()),
            jobs,
            functools.partial(related_job.load_state, file),  # in the child, on prepare() or with the texts
            functools.partial(related_job.save_state, file),  # once the papers are sent
            related_job.warm_up,  # at once: 0.06 s sooner at 1,000 papers, where they were the wait
            early,
        )

    def prepare(self) -> None:
        """Papers changed: related papers are likely to be needed, so the child may load the
        last state and its imports while the papers are processed (on no-change rebuilds it
        does not, and is stopped)."""
        if self.job is not None:
            self.job.prepare_now()

    def early(self, papers: list[tuple[str, str]], fresh: list[Paper]) -> None:
        """Every paper's (slug, digest), and the papers read anew, known before the cached ones
        are unpickled: the child may start from them and the last state (see
        related_job.Partial), about half a second sooner at 10,000 papers. Not for a warm
        process, which has its papers at once, nor without the last state."""
        if self.job is None or not self.job.pid or self.helper is not None or self.cache.path is None:
            return  # (no cache: no state, and every paper read anew)
        by_slug = sorted(papers)
        if not all(d for _, d in by_slug) or self.cache.lacks_file(RELATED_STATE):
            return
        if self.cache.has("related", digest(*(d for _, d in by_slug))):  # start's key: found there
            return
        texts = {p.slug: _related_text(p) for p in fresh}
        self.job.send(related_job.Partial(tuple(by_slug), texts))
        self.sent_early = by_slug

    def start(self, papers: list[Paper]) -> None:
        by_slug = self.papers = sorted(papers, key=lambda p: p.slug)
        self.key = papers_digest(by_slug, _related_text)
        self.found = self.cache.get("related", self.key, dict)
        self.wanted = self.found is None or self.cache.lacks_file(RELATED_STATE)  # the state anew too
        if self.sent_early is not None:
            # Other papers than those sent early: a file read again (its cache entry was damaged)
            # had changed meanwhile. The child's answer is then not used (see result).
            self.stale_early = self.sent_early != [(p.slug, p.digest) for p in by_slug]
            self.wanted = True  # computed by now, as a rule: kept
            return
        if not self.wanted:
            if self.job is not None:
                self.job.cancel()
            return
        texts = self._texts()
        big = len(papers) >= parallel.MIN_ITEMS  # else quicker here, in a warm process with numpy
        if big and self.helper is not None and (self.jobs is None or self.jobs > 1):
            if self.helper.submit((self.cache.kept_file(RELATED_STATE), texts)):
                self.texts = texts
                return
        if self.job is None:  # warm: numba's compiled code loaded here once, for every build's child
            from . import neighbours

            neighbours.compiled(len(papers))
            self.job = self._job(self.jobs if big else 1)
        # A new process keeps its child for any size: it has its imports once papers changed, so
        # a small catalogue's related papers are ready in it while pages render (0.3 s sooner at 70).
        self.job.send(texts)

    def elsewhere(self) -> bool:
        """Whether another process is computing the related papers now."""
        return self.wanted and (self.texts is not None or (self.job is not None and self.job.pid != 0))

    def _texts(self) -> list[tuple]:
        return [(*_related_text(p), p.digest) for p in self.papers]

    def result(self) -> dict:
        if self.wanted:
            if self.stale_early:  # the child's answer would be of other papers: not waited for
                self.job.abandon()
                found = related_job.NEEDS_TEXTS
            else:
                found = self._computed()
            pickled, self.wanted = None, False
            if isinstance(found, bytes):  # from another process, pickled (see related_job.compute)
                pickled, found = found, pickle.loads(found)
            elif found == related_job.NEEDS_TEXTS:  # the last state lacked papers sent early: here
                # (rare: the cache and the state from different builds; pages wait meanwhile)
                file = self.cache.kept_file(RELATED_STATE)
                found, state = related_job.compute(self._texts(), related_job.load_state(file))
                related_job.save_state(file, state)
            self.found = found
            self.cache.put("related", self.key, found, pickled)
        return self.found or {}

    def _computed(self) -> dict:
        if self.texts is None:
            return self.job.result()
        try:
            return self.helper.result()
        except parallel.HelperLost:  # computed here instead, as with one job
            self.job = self._job(1)
            self.job.send(self.texts)
            return self.job.result()

    def __enter__(self) -> RelatedPapers:
        return self

    def __exit__(self, *exc) -> None:
        if self.job is not None:
            self.job.__exit__(*exc)  # stops a child whose result was not asked for


class BackgroundFiles:
    """Files made, and written, in a background process while pages render: the search index
    and papers.json, the slowest files to make. Each is (path, key, make), where the key may
    be a function that gives it, called in that process; a file whose key matches the last
    build's is kept. `result()` gives them as staged by the writer, to `record`.
    """

    def __init__(
        self,
        files: list,
        previous: write.Previous | None,
        writer: write.SiteWriter,
        jobs,
        later: list[Callable[[], None]] = (),
    ) -> None:
        """`later`: what to call once the files are made (see _generated_files), while this
        process goes on; leaving the context waits for it."""
        self.kept, todo = [], []
        for path, key, make in files:
            if not callable(key) and write.reusable(previous, path, key):
                self.kept.append((path, key))
            else:
                todo.append((path, key, make))

        def made() -> list:
            staged = []
            for path, key, make in todo:
                key = key() if callable(key) else key
                kept = write.reusable(previous, path, key)
                staged.append(writer.stage(path, None if kept else make(), key))  # the bytes go at once
            return staged

        def after() -> None:
            for call in later:
                call()

        self.job = parallel.Background(made, jobs if todo else 1, after=after)  # nothing to make: no process
        self.writer = writer

    def elsewhere(self) -> bool:
        """Whether a background process is making files now."""
        return self.job is not None and self.job.pid != 0

    def result(self) -> list:
        made = self.job.result()
        return [self.writer.stage(path, None, key) for path, key in self.kept] + made

    def __enter__(self) -> BackgroundFiles:
        return self

    def __exit__(self, *exc) -> None:
        self.job.__exit__(*exc)  # the build failed: the process is stopped; else waited for


def _bibtex_entries(papers: list[Paper], keys: dict[str, str], cache: Cache) -> dict[str, str]:
    """Each paper's BibTeX entry, by slug. The last build's entries are one cache entry, by
    source digest and citation key: an entry of its own for each paper took a digest and a
    lookup each (0.05 s at 10,000 papers). Papers not read from a file are made afresh."""
    last = cache.get("bibtex", "entries", dict) or {}
    entries, kept = {}, {}
    for paper in papers:
        key = keys[paper.slug]
        entry = last.get((paper.digest, key)) if paper.digest else None
        if entry is None:
            entry = cite.bibtex_entry(paper, key)
        if paper.digest:
            kept[paper.digest, key] = entry
        entries[paper.slug] = entry
    if kept != last:
        cache.put("bibtex", "entries", kept)
    return entries


def _generated_files(
    catalogue: Catalogue,
    derived: render.Derived,
    version: str,
    cache: Cache,
    warm: Warm | None,
    later: list[Callable[[], None]],
) -> tuple[list, list]:
    """(path, key, make) of the search index tiers and papers.json: those to make in a
    background process, and those a warm process updates in place, quicker here.

    The abstracts tier and papers.json are updated from the last build's parts (in_place.py):
    a warm process keeps them, a new one finds them in the cache (made anew when missing) and
    saves them there again by the functions it adds to `later`, to call once the files are
    made."""
    abstracts, keys = derived.abstracts, derived.citation_keys
    tiers = search.tier_inputs(catalogue, abstracts)
    meta, texts = tiers["search/meta.json"], tiers["search/abstracts.json"]

    def key(path: str, inputs: tuple) -> str | Callable[[], str]:
        make = functools.partial(_tier_key, version, path, inputs)
        # a new process: worked out where the tier is made (0.05 s of digesting at 10,000 papers)
        return make if warm is None else warm.key_of(path, (version, inputs), make)

    made = [
        (
            "search/meta.json",
            key("search/meta.json", meta),
            lambda: render.to_json(search.make_tier("search/meta.json", meta)),
        )
    ]
    updated = [
        (
            "search/abstracts.json",
            key("search/abstracts.json", texts),
            _in_place(cache, warm, in_place.AbstractsTier, lambda tier: tier.json(texts), later),
        ),
        (
            "papers.json",
            digest(version, repr(catalogue.config), derived.catalogue_key),
            _in_place(
                cache, warm, in_place.PapersJson, lambda kept: kept.json(catalogue, abstracts, keys), later
            ),
        ),
    ]
    return (made, updated) if warm is not None else (made + updated, [])


def _tier_key(version: str, path: str, inputs: tuple) -> str:
    return digest(version, path, *search.tier_key_parts(path, inputs))


def _key_of(warm: Warm | None, name: str, inputs, make: Callable[[], str]) -> str:
    """make(), or in a warm process the key last made for equal inputs (see Warm.key_of)."""
    return make() if warm is None else warm.key_of(name, inputs, make)


def _in_place(
    cache: Cache,
    warm: Warm | None,
    kind: type,
    use: Callable[[object], bytes],
    later: list[Callable[[], None]],
) -> Callable[[], bytes]:
    """make() for a file updated in place: use() the `kind` of parts a warm process keeps, or
    else the last build left in the cache (a new one if none). A new process leaves it in the
    cache for the next build, by what make() adds to `later` (saving 78 MB at 10,000 papers
    need not hold up the file); a warm one keeps it (the cache's copy, older, is still right
    to update from: the parts hold what they were made of)."""

    def make() -> bytes:
        name = f"in-place-{kind.__name__}"
        state = warm.in_place.get(kind) if warm is not None else None
        if state is None:
            state = cache.load_file(name)
            state = state if isinstance(state, kind) else kind()
        data = use(state)
        if warm is not None:
            warm.in_place[kind] = state
        else:
            later.append(functools.partial(cache.save_file, name, state))
        return data

    return make


def _related_in_helper(request: tuple, kept: tuple | None) -> tuple[dict | bytes, tuple, Callable | None]:
    """Warm.related's work: the related papers of a build's texts, from the state the last
    build left (kept here; at first, the cache's file). The new state is kept, and saved to
    the cache's file for a new process once the result is sent."""
    from . import neighbours

    file, texts = request
    neighbours.compiled(len(texts))  # numba's code, loaded once in this process
    state = kept[1] if kept is not None and kept[0] == file else related_job.load_state(file)
    found, state = related_job.compute(texts, state, parent=os.getppid())  # the build's process

    def after() -> None:  # once the result is sent
        related_job.save_state(file, state)
        gc.collect()  # what the update left for the collector (see related_job.compute), while idle
        allocator.give_back_freed_memory()  # the helper waits now: no need to hold on to it

    return found, (file, state), after


def _derive(
    catalogue: Catalogue,
    cache: Cache,
    stages: Stages,
    previous: write.Previous | None,
    version: str,
    warm: Warm | None = None,
) -> render.Derived:
    """Taxonomy, citations, search index and feeds: everything pages need but related papers.

    Files are keyed by what they are made from, and kept from the last build when that is unchanged.
    """
    papers = catalogue.papers
    abstracts = {p.slug: p.body_text for p in papers}
    topics, tags = taxonomy.topic_pages(catalogue), taxonomy.tag_pages(catalogue)
    every = papers_digest(papers, lambda p: p)  # everything about every paper, in order
    read = [(p.slug, p.authors, p.date, p.title, p.added.toordinal()) for p in papers]  # all that keys read
    keys = cache.memo(
        "citation-keys",
        _key_of(warm, "citation-keys", read, lambda: value_digest(read)),
        lambda: cite.citation_keys(papers),
        kind=dict,
    )
    bibtex = _bibtex_entries(papers, keys, cache)
    stages.done("taxonomy + bibtex")
    files = []
    kept = warm.feed_entries if warm is not None else None
    for feed in feeds.feeds_of(catalogue, topics, tags, kept, cache):
        files.append(write.keyed(previous, feed.path, feed.key and digest(version, feed.key), feed.make))
    stages.done("feeds")
    return render.Derived(
        abstracts=abstracts,
        files=tuple(files),
        catalogue_key=every,
        citation_keys=keys,
        bibtex=bibtex,
        bibliography=cite.bibliography(papers, keys, bibtex),
        topics=topics,
        tags=tags,
    )
