"""Atom feeds: well-formed, complete, absolute links, stable ids, ordered, limited, deterministic, escaped."""

from __future__ import annotations

import datetime as dt
import random
import xml.etree.ElementTree as ET

import pytest

from generator.feeds import FEED_LIMIT, all_feeds, atom_feed
from generator.model import Catalogue, Paper, SiteConfig, Topic, sort_papers
from generator.taxonomy import tag_pages, topic_pages

NS = {"a": "http://www.w3.org/2005/Atom"}
A = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
BASE = "https://example.org/cat/"
CONFIG = SiteConfig("Test Catalogue", "Papers for tests.", BASE, "en-GB")
TOPICS = (
    Topic("fine-tuning", "Fine-tuning", "Adapting pre-trained models."),
    Topic("instruction-tuning", "Instruction tuning", "Following instructions."),
    Topic("parameter-efficient-fine-tuning", "Parameter-efficient fine-tuning", "Few parameters."),
)
TOPIC_NAMES = {t.slug: t.name for t in TOPICS}
HOSTILE = '<script>alert(1)</script> & "x"'
DAY0 = dt.date(2024, 1, 1)


def paper(slug: str, added: dt.date = DAY0, **fields) -> Paper:
    """A paper with sensible defaults; keyword arguments override fields."""
    values = {
        "title": f"Paper {slug}",
        "authors": ("Ada Lovelace", "Alan Turing"),
        "topics": ("fine-tuning",),
        "tags": (),
        "body_md": "An abstract.",
        "path": f"content/papers/{slug}.md",
        "body_html": f"<p>Abstract of <em>{slug}</em>.</p>",
    }
    values.update(fields)
    return Paper(slug=slug, added=added, **values)


def big_catalogue(n: int = 70) -> Catalogue:
    """n papers over many days, spread across all topics and a few tags, with some same-day ties."""
    papers = []
    for i in range(n):
        topics = tuple(t.slug for j, t in enumerate(TOPICS) if i % (j + 2) == 0) or ("fine-tuning",)
        tags = tuple(tag for k, tag in enumerate(("lora", "rlhf", "survey")) if i % (k + 3) == 0)
        papers.append(paper(f"p{i:03d}", DAY0 + dt.timedelta(days=i // 2), topics=topics, tags=tags))
    return Catalogue(sort_papers(papers), TOPICS, CONFIG)


def feeds_of(catalogue: Catalogue) -> dict[str, bytes]:
    """all_feeds built from the taxonomy stage's own pages."""
    return all_feeds(catalogue, topic_pages(catalogue), tag_pages(catalogue))


def parse(data: bytes) -> ET.Element:
    """The feed root; fails the test if the document is not well-formed."""
    return ET.fromstring(data)


def entries(root: ET.Element) -> list[ET.Element]:
    """The feed's entries in document order."""
    return root.findall("a:entry", NS)


def entry_ids(root: ET.Element) -> list[str]:
    """The ids of the feed's entries in document order."""
    return [e.findtext("a:id", namespaces=NS) for e in entries(root)]


def links(elem: ET.Element) -> dict[str, ET.Element]:
    """An element's atom:link children keyed by rel."""
    return {link.get("rel"): link for link in elem.findall("a:link", NS)}


def atom_day(day: dt.date) -> str:
    """The Atom date-time the feed should print for a day."""
    return day.isoformat() + "T00:00:00Z"


def test_all_feeds_paths_cover_catalogue_topics_and_tags():
    catalogue = big_catalogue()
    feeds = feeds_of(catalogue)
    used_tags = {tag for p in catalogue.papers for tag in p.tags}
    expected = (
        {"feed.xml"}
        | {f"topics/{t.slug}/feed.xml" for t in TOPICS}
        | {f"tags/{tag}/feed.xml" for tag in used_tags}
    )
    assert set(feeds) == expected
    assert all(isinstance(data, bytes) for data in feeds.values())


def test_every_feed_is_well_formed_atom_with_required_elements():
    for path, data in feeds_of(big_catalogue()).items():
        assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n'), path
        root = parse(data)
        assert root.tag == f"{A}feed", path
        assert root.get(XML_LANG) == "en-GB"
        for required in ("id", "title", "updated"):
            assert (root.findtext(f"a:{required}", namespaces=NS) or "").strip(), (path, required)
        assert root.findtext("a:generator", namespaces=NS) == "papercat"
        feed_has_author = root.find("a:author/a:name", NS) is not None
        assert entries(root), path
        for entry in entries(root):
            for required in ("id", "title", "updated", "published"):
                assert (entry.findtext(f"a:{required}", namespaces=NS) or "").strip(), (path, required)
            assert "alternate" in links(entry)
            assert feed_has_author or entry.find("a:author/a:name", NS) is not None


def test_self_and_alternate_links_are_absolute_and_point_at_the_feed_and_page():
    for path, data in feeds_of(big_catalogue()).items():
        root = parse(data)
        page_path = path.removesuffix("feed.xml")
        by_rel = links(root)
        assert by_rel["self"].get("href") == BASE + path
        assert by_rel["self"].get("type") == "application/atom+xml"
        assert by_rel["alternate"].get("href") == BASE + page_path
        assert by_rel["alternate"].get("type") == "text/html"
        assert root.findtext("a:id", namespaces=NS) == BASE + page_path
        for link in root.iter(f"{A}link"):
            assert link.get("href").startswith("https://"), link.get("href")


def test_base_url_with_a_path_prefix_is_kept_in_every_url():
    config = SiteConfig("T", "", "https://host.example/deep/sub/", "en")
    data = atom_feed(config, "T", "", "topics/x/", "topics/x/feed.xml", [paper("a")], TOPIC_NAMES)
    root = parse(data)
    assert links(root)["self"].get("href") == "https://host.example/deep/sub/topics/x/feed.xml"
    assert entry_ids(root) == ["https://host.example/deep/sub/papers/a/"]


def test_entry_ids_are_permalinks_and_do_not_change_when_the_catalogue_grows():
    catalogue = big_catalogue(10)
    before = parse(feeds_of(catalogue)["feed.xml"])
    for entry in entries(before):
        permalink = entry.findtext("a:id", namespaces=NS)
        assert permalink.startswith(BASE + "papers/") and permalink.endswith("/")
        assert links(entry)["alternate"].get("href") == permalink
    newer = paper("brand-new", DAY0 + dt.timedelta(days=400))
    grown = Catalogue(sort_papers((*catalogue.papers, newer)), TOPICS, CONFIG)
    after = parse(feeds_of(grown)["feed.xml"])
    assert entry_ids(after) == [BASE + "papers/brand-new/", *entry_ids(before)]
    assert entry_ids(before) == [BASE + f"papers/{p.slug}/" for p in catalogue.papers]


def test_entries_are_newest_added_first_whatever_the_input_order_and_ties_keep_input_order():
    days = [DAY0 + dt.timedelta(days=d) for d in (3, 1, 3, 2, 1, 3)]
    papers = [paper(f"p{i}", day) for i, day in enumerate(days)]
    shuffled = papers[:]
    random.Random(7).shuffle(shuffled)
    for given in (papers, shuffled, list(reversed(papers))):
        root = parse(atom_feed(CONFIG, "T", "", "", "feed.xml", given, TOPIC_NAMES))
        got = [e.findtext("a:updated", namespaces=NS) for e in entries(root)]
        assert got == sorted(got, reverse=True)
        expected = [p for day in sorted(set(days), reverse=True) for p in given if p.added == day]
        assert entry_ids(root) == [BASE + f"papers/{p.slug}/" for p in expected]


def test_feed_is_limited_to_the_newest_entries():
    catalogue = big_catalogue(FEED_LIMIT + 20)
    root = parse(feeds_of(catalogue)["feed.xml"])
    assert FEED_LIMIT == 50
    assert len(entries(root)) == FEED_LIMIT
    newest = catalogue.papers[:FEED_LIMIT]
    assert entry_ids(root) == [BASE + f"papers/{p.slug}/" for p in newest]
    oldest_shown = min(p.added for p in newest)
    assert all(p.added <= oldest_shown for p in catalogue.papers[FEED_LIMIT:])


def test_feed_updated_is_the_newest_added_date_and_entries_carry_their_own_dates():
    catalogue = big_catalogue(9)
    for path, data in feeds_of(catalogue).items():
        root = parse(data)
        ids = set(entry_ids(root))
        shown = [p for p in catalogue.papers if BASE + f"papers/{p.slug}/" in ids]
        assert root.findtext("a:updated", namespaces=NS) == atom_day(max(p.added for p in shown)), path
    root = parse(feeds_of(catalogue)["feed.xml"])
    by_id = {BASE + f"papers/{p.slug}/": p for p in catalogue.papers}
    for entry in entries(root):
        added = by_id[entry.findtext("a:id", namespaces=NS)].added
        assert entry.findtext("a:published", namespaces=NS) == atom_day(added)
        assert entry.findtext("a:updated", namespaces=NS) == atom_day(added)


def test_empty_feed_is_valid_with_a_fixed_updated_and_a_feed_author():
    root = parse(atom_feed(CONFIG, "Empty", "", "tags/none/", "tags/none/feed.xml", [], TOPIC_NAMES))
    assert entries(root) == []
    assert root.findtext("a:updated", namespaces=NS) == "1970-01-01T00:00:00Z"
    assert root.findtext("a:author/a:name", namespaces=NS) == CONFIG.title


def test_output_is_deterministic():
    first = feeds_of(big_catalogue())
    second = feeds_of(big_catalogue())
    assert first == second
    today = dt.date.today().isoformat()
    assert all(today.encode() not in data for data in first.values())  # nothing from the clock


def test_term_feeds_hold_exactly_the_papers_of_their_term():
    catalogue = big_catalogue(FEED_LIMIT * 3)
    feeds = feeds_of(catalogue)
    terms = [("topics", t.slug, lambda p, s=t.slug: s in p.topics) for t in TOPICS]
    terms += [("tags", tag, lambda p, s=tag: s in p.tags) for tag in ("lora", "rlhf", "survey")]
    saw_limit = False
    for folder, slug, member in terms:
        root = parse(feeds[f"{folder}/{slug}/feed.xml"])
        expected = [BASE + f"papers/{p.slug}/" for p in catalogue.papers if member(p)]
        saw_limit |= len(expected) > FEED_LIMIT
        assert entry_ids(root) == expected[:FEED_LIMIT], (folder, slug)
    assert saw_limit  # at least one term is bigger than a feed


def test_term_feed_titles_and_subtitles_come_from_the_term():
    catalogue = big_catalogue(12)
    feeds = feeds_of(catalogue)
    topic = parse(feeds["topics/instruction-tuning/feed.xml"])
    assert "Instruction tuning" in topic.findtext("a:title", namespaces=NS)
    assert topic.findtext("a:subtitle", namespaces=NS) == "Following instructions."
    tag = parse(feeds["tags/lora/feed.xml"])
    assert "lora" in tag.findtext("a:title", namespaces=NS)
    assert tag.find("a:subtitle", NS) is None  # tags have no description: no empty subtitle
    whole = parse(feeds["feed.xml"])
    assert whole.findtext("a:title", namespaces=NS) == CONFIG.title
    assert whole.findtext("a:subtitle", namespaces=NS) == CONFIG.description


def test_entry_authors_categories_and_summary():
    p = paper(
        "cats",
        authors=("Grace Hopper", "Kurt Gödel"),
        topics=("fine-tuning", "instruction-tuning"),
        tags=("lora", "survey"),
    )
    entry = entries(parse(atom_feed(CONFIG, "T", "", "", "feed.xml", [p], TOPIC_NAMES)))[0]
    assert [n.text for n in entry.findall("a:author/a:name", NS)] == ["Grace Hopper", "Kurt Gödel"]
    cats = [(c.get("term"), c.get("scheme"), c.get("label")) for c in entry.findall("a:category", NS)]
    topic_cats = [(term, label) for term, scheme, label in cats if scheme != BASE + "tags/"]
    assert topic_cats == [("fine-tuning", "Fine-tuning"), ("instruction-tuning", "Instruction tuning")]
    assert [term for term, scheme, _ in cats if scheme == BASE + "tags/"] == ["lora", "survey"]
    summary = entry.find("a:summary", NS)
    assert summary.get("type") == "html"
    assert summary.text == p.body_html
    assert entry.find("a:content", NS) is None


def test_entry_without_authors_falls_back_to_the_site_title():
    entry = entries(parse(atom_feed(CONFIG, "T", "", "", "feed.xml", [paper("anon", authors=())], {})))[0]
    assert [n.text for n in entry.findall("a:author/a:name", NS)] == [CONFIG.title]


@pytest.mark.parametrize(
    "title",
    [
        HOSTILE,
        "</title></entry><entry><title>injected",
        "Ünïcödé — “quotes” ‘and’ 日本語 & <b>bold</b> 😀",
        "a ]]> b &amp; c &#x3c; d",
    ],
)
def test_hostile_titles_survive_as_text(title):
    every_topic = tuple(t.slug for t in TOPICS)
    body = '<p>x &lt; y &amp; "z"</p><script>no</script>'
    p = paper("hostile", title=title, topics=every_topic, tags=("lora",), body_html=body)
    catalogue = Catalogue((p,), TOPICS, SiteConfig(title, title, BASE, "en"))
    feeds = feeds_of(catalogue)
    assert len(feeds) == 1 + len(TOPICS) + 1
    for path, data in feeds.items():
        assert b"<script>" not in data, path
        root = parse(data)
        assert len(entries(root)) == 1
        entry = entries(root)[0]
        assert entry.findtext("a:title", namespaces=NS) == title
        assert list(entry.find("a:title", NS)) == []  # text only, no child elements
        assert entry.findtext("a:summary", namespaces=NS) == p.body_html
        assert list(entry.find("a:summary", NS)) == []
    whole = parse(feeds["feed.xml"])
    assert whole.findtext("a:title", namespaces=NS) == title
    assert whole.findtext("a:subtitle", namespaces=NS) == title
    assert whole.findtext("a:author/a:name", namespaces=NS) == title


def test_characters_xml_cannot_carry_are_dropped_not_emitted():
    p = paper("ctl", title="bell\x07 and \x00nul\x1f", body_html="<p>form\x0cfeed</p>")
    root = parse(atom_feed(CONFIG, "T\x01", "", "", "feed.xml", [p], TOPIC_NAMES))
    assert root.findtext("a:title", namespaces=NS) == "T"
    entry = entries(root)[0]
    assert entry.findtext("a:title", namespaces=NS) == "bell and nul"
    assert entry.findtext("a:summary", namespaces=NS) == "<p>formfeed</p>"


def test_each_feed_is_what_elementtree_writes_of_its_whole_tree():
    """Entries are serialised once per build and spliced into every feed that shows them:
    the result must be byte for byte what ElementTree writes of the whole feed, indented."""
    ET.register_namespace("", NS["a"])
    hostile = paper("hostile", title=HOSTILE, tags=("lora",), body_html="<p>a &amp; b\n<em>c</em></p>")
    catalogue = big_catalogue(120)
    catalogue = Catalogue(sort_papers((*catalogue.papers, hostile)), TOPICS, CONFIG)
    feeds = feeds_of(catalogue)
    assert len(feeds) == 1 + len(TOPICS) + 3  # and the tags lora, rlhf, survey
    for path, data in feeds.items():
        root = ET.fromstring(data)
        ET.indent(root)
        whole = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"
        assert whole == data, path
    empty = atom_feed(CONFIG, "T", "", "tags/x/", "tags/x/feed.xml", [], TOPIC_NAMES)
    assert ET.tostring(ET.fromstring(empty), encoding="unicode").count("<entry") == 0


def _elementtree_entry(config: SiteConfig, p: Paper, names: dict[str, str]) -> bytes:
    """The entry as ElementTree writes it, built element by element (what feeds._entry makes
    as text): the reference, with the same cleaning of characters XML cannot carry."""
    from generator.feeds import _clean, atom_date, permalink

    def sub(parent, tag, text=None, **attrs):
        child = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
        if text is not None:
            child.text = _clean(text)
        return child

    holder = ET.Element("feed")
    entry = sub(holder, "entry")
    sub(entry, "id", permalink(config, p))
    sub(entry, "title", p.title)
    sub(entry, "link", rel="alternate", href=permalink(config, p), type="text/html")
    sub(entry, "published", atom_date(p.added))
    sub(entry, "updated", atom_date(p.added))
    for name in p.authors or (config.title,):
        sub(sub(entry, "author"), "name", name)
    for slug in p.topics:
        sub(entry, "category", term=slug, scheme=f"{config.base_url}topics/", label=names.get(slug, slug))
    for tag in p.tags:
        sub(entry, "category", term=tag, scheme=f"{config.base_url}tags/")
    if p.body_html.strip():
        sub(entry, "summary", p.body_html, type="html")
    ET.indent(holder)
    entry.tail = None
    return ET.tostring(entry, encoding="utf-8")


NASTY = "a & b < c > d \" e ' f \r g \n h \t i \x00 j \x07 \ud800 k \ufffe ]]> &amp; 日本 😀"


@pytest.mark.parametrize("text", [NASTY, "", " ", "\x00\x07", "  \n ", "plain"])
def test_entries_are_byte_for_byte_what_elementtree_writes(text):
    """Entries are written as text, not through ElementTree: the bytes must not differ, down to
    the escaping of quotes, tabs and line ends in attributes and empty elements ("<title />")."""
    from generator.feeds import _entry

    config = SiteConfig(text or "T", "d", 'https://x.org/a"b&c\t/' + text, "en")
    names = {t.slug: text for t in TOPICS}
    for authors in ((text, "", "Ada", "\x01"), ()):
        for body in ("", " ", f"<p>{text}</p>", "\x00"):
            p = paper(
                "p", title=text, authors=authors, tags=(text, "lora"), body_html=body, topics=tuple(names)
            )
            assert _entry(config, p, names) == _elementtree_entry(config, p, names)
            assert _entry(CONFIG, p, TOPIC_NAMES) == _elementtree_entry(CONFIG, p, TOPIC_NAMES)


def test_entries_kept_between_builds_give_the_feeds_made_afresh():
    """serve keeps serialised entries from one build to the next (by slug and source digest,
    while config and topic names stay): its feeds equal feeds made from nothing."""
    import dataclasses

    from generator import feeds

    kept = feeds.KeptEntries()

    def with_kept(catalogue):
        pages = topic_pages(catalogue), tag_pages(catalogue)
        return {feed.path: feed.make() for feed in feeds.feeds_of(catalogue, *pages, kept)}

    papers = [dataclasses.replace(p, digest=f"d-{p.slug}") for p in big_catalogue().papers]
    catalogue = dataclasses.replace(big_catalogue(), papers=tuple(papers))
    assert with_kept(catalogue) == feeds_of(catalogue)
    reused = dict(kept.entries)
    assert with_kept(catalogue) == feeds_of(catalogue)
    assert all(kept.entries[k] is v for k, v in reused.items())  # not serialised again
    papers[0] = dataclasses.replace(papers[0], title="Edited title", digest="d-edited")
    edited = dataclasses.replace(catalogue, papers=tuple(papers))
    assert with_kept(edited) == feeds_of(edited)
    config = dataclasses.replace(CONFIG, base_url="https://elsewhere.example/", title="Renamed")
    moved = dataclasses.replace(edited, config=config)
    assert with_kept(moved) == feeds_of(moved)
    renamed = dataclasses.replace(moved, topics=(dataclasses.replace(TOPICS[0], name="Tuning"), *TOPICS[1:]))
    assert with_kept(renamed) == feeds_of(renamed)


def test_entries_from_the_build_cache_give_the_feeds_made_afresh(tmp_path, monkeypatch):
    """A new process finds the last build's serialised entries in the build cache (by config,
    topic names, slug and source digest): only entries whose inputs changed are made again,
    and its feeds equal feeds made from nothing."""
    import dataclasses

    from generator import feeds
    from generator.cache import Cache

    made = []
    serialise = feeds._entry

    def counted(config, p, names):
        made.append(p.slug)
        return serialise(config, p, names)

    def with_cache(catalogue, make: bool = True) -> list[str]:
        """Build the feeds as a new process would (or, with make=False, only key them, as a
        build that keeps them from the last one); check them; the slugs of entries made."""
        expected = feeds_of(catalogue)
        made.clear()
        with monkeypatch.context() as patch:
            patch.setattr(feeds, "_entry", counted)
            cache = Cache(tmp_path, "v1")
            pages = topic_pages(catalogue), tag_pages(catalogue)
            listed = feeds.feeds_of(catalogue, *pages, None, cache)
            assert all(feed.key for feed in listed)
            if make:
                assert {feed.path: feed.make() for feed in listed} == expected
            cache.save()
        return list(made)

    papers = [dataclasses.replace(p, digest=f"d-{p.slug}") for p in big_catalogue(120).papers]
    catalogue = dataclasses.replace(big_catalogue(120), papers=tuple(papers))
    first = with_cache(catalogue)
    assert len(first) == len(set(first)) > FEED_LIMIT  # each entry made once for all its feeds
    assert with_cache(catalogue, make=False) == []  # a build that made no feed...
    assert with_cache(catalogue) == []  # ...still kept every entry in the cache
    newest = papers[0]  # sorted newest first: it is in every feed it belongs to
    assert newest.slug in first
    papers[0] = dataclasses.replace(newest, title="Edited title", digest="d-edited")
    edited = dataclasses.replace(catalogue, papers=tuple(papers))
    assert with_cache(edited) == [newest.slug]
    renamed = dataclasses.replace(edited, topics=(dataclasses.replace(TOPICS[0], name="Tuning"), *TOPICS[1:]))
    assert sorted(with_cache(renamed)) == sorted(first)  # topic names changed: every entry anew
