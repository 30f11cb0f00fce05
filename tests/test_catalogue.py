"""The seed catalogue (tests/fixtures/seed: the 70 papers the project started with, imported
from its daily-papers listing, frozen): all there, valid and well filed."""

from __future__ import annotations

import html
import re

import pytest

from generator import typography
from generator.build import Project, build, load_catalogue
from generator.listing import parse_listing

from .conftest import REPO, SEED

LISTING = SEED / "content" / "listings" / "daily-papers-mar-18.txt"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    project = Project(SEED, SEED / "content", REPO / "templates", out)
    build(project)
    return load_catalogue(project)[0], out


def test_seventy_papers_with_titles_and_abstracts_from_the_listing(site):
    catalogue, out = site
    listing, errors = parse_listing(LISTING.read_text(encoding="utf-8"), "listing")
    assert errors == [] and len(listing.entries) == 70
    assert len(catalogue.papers) >= 70
    by_title = {p.title: p for p in catalogue.papers}
    for entry in listing.entries:
        title = typography.clean(entry.title)
        paper = by_title[title]
        page = (out / "papers" / paper.slug / "index.html").read_text(encoding="utf-8")
        abstract = re.search(r'<div class="abstract">(.*?)</div>', page, re.S).group(1)
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", abstract)).split())
        assert text == typography.clean(entry.abstract), title
        assert f"<h1>{html.escape(title, quote=False)}</h1>" in page.replace("&#39;", "'").replace(
            "&quot;", '"'
        )
        assert paper.source.endswith(f":{entry.title_line}")


def test_every_paper_has_a_topic_and_topic_pages_list_them(site):
    catalogue, out = site
    for topic in catalogue.topics:
        page = (out / "topics" / topic.slug / "index.html").read_text(encoding="utf-8")
        listed = set(re.findall(r'href="\.\./\.\./papers/([a-z0-9-]+)/"', page))
        assert listed == {p.slug for p in catalogue.papers if topic.slug in p.topics}, topic.slug
    assert all(p.topics for p in catalogue.papers)
    used = {t for p in catalogue.papers for t in p.topics}
    assert used == {t.slug for t in catalogue.topics}, "every curated topic has papers"


def test_tag_pages_list_exactly_the_tagged_papers(site):
    catalogue, out = site
    tags = {t for p in catalogue.papers for t in p.tags}
    assert len(tags) >= 20
    for tag in tags:
        page = (out / "tags" / tag / "index.html").read_text(encoding="utf-8")
        listed = set(re.findall(r'href="\.\./\.\./papers/([a-z0-9-]+)/"', page))
        assert listed == {p.slug for p in catalogue.papers if tag in p.tags}, tag
