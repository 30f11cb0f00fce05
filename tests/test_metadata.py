"""Machine-readable output: head metadata, JSON-LD, papers.json (+ schema), sitemap, robots, 404."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from xml.etree import ElementTree as ET

import jsonschema
import pytest

from generator.build import build

from .conftest import paper_text

PAPERS = {
    "lora": paper_text(
        'LoRA: </script><script>alert("x")</script> Adaptation',
        topics='["parameter-efficient-fine-tuning"]',
        tags='["lora"]',
        added='"2024-06-01"',
        extra='date: "2021-06-17"\narxiv: "2106.09685"\ndoi: "10.48550/arXiv.2106.09685"',
        body="We propose LoRA. " * 20,
    ),
    "flan": paper_text(
        "Scaling Instruction-Finetuned Language Models",
        topics='["instruction-tuning"]',
        tags='["lora"]',
        added='"2024-05-01"',
        body="Instruction tuning helps. " * 20,
    ),
}


@pytest.fixture
def site(make_project):
    project = make_project(PAPERS)
    build(project)
    return project.output


def head(page: str) -> str:
    return page.split("</head>", 1)[0]


def test_paper_pages_carry_scholarly_metadata(site):
    page = (site / "papers/lora/index.html").read_text()
    top = head(page)
    assert (
        '<meta name="citation_title" content="LoRA: &lt;/script&gt;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Adaptation">'
        in top
    )
    assert re.findall(r'<meta name="citation_author" content="([^"]+)">', top) == [
        "Ada Lovelace",
        "Alan Turing",
    ]
    assert '<meta name="citation_publication_date" content="2021/06/17">' in top
    assert '<meta name="citation_pdf_url" content="https://arxiv.org/pdf/2106.09685">' in top
    assert '<meta name="citation_doi" content="10.48550/arXiv.2106.09685">' in top
    assert '<meta name="citation_arxiv_id" content="2106.09685">' in top
    assert '<meta property="og:url" content="https://example.org/cat/papers/lora/">' in top
    assert '<meta name="twitter:card" content="summary">' in top
    description = re.search(r'<meta property="og:description" content="([^"]+)">', top).group(1)
    assert description.startswith("We propose LoRA.") and len(description) <= 201


def test_json_ld_is_safe_and_complete(site):
    page = (site / "papers/lora/index.html").read_text()
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert len(blocks) == 1, "a </script> in the title must not end the block early"
    data = json.loads(blocks[0])
    assert data["@type"] == "ScholarlyArticle"
    assert data["name"] == 'LoRA: </script><script>alert("x")</script> Adaptation'
    assert [a["name"] for a in data["author"]] == ["Ada Lovelace", "Alan Turing"]
    assert data["datePublished"] == "2021-06-17" and data["url"] == "https://example.org/cat/papers/lora/"


def test_only_paper_pages_have_citation_metadata_and_every_page_is_canonical(site):
    for page in site.rglob("*.html"):
        text = page.read_text()
        is_paper = page.parent.parent.name == "papers" and page.name == "index.html"
        assert ("citation_title" in head(text)) == is_paper, page
        if page.name == "404.html":  # served at any missing address: not to be indexed as one
            assert "canonical" not in head(text) and '<meta name="robots" content="noindex">' in head(text)
        else:
            assert '<link rel="canonical" href="https://example.org/cat/' in head(text), page
            if page.relative_to(site).as_posix() != "papers/index.html":
                assert '<meta property="og:url" content="https://example.org/cat/' in head(text), page
    redirect = (site / "papers/index.html").read_text()  # papers/ leads home, and is no page of its own
    assert '<meta http-equiv="refresh" content="0; url=../">' in head(redirect)
    assert '<link rel="canonical" href="https://example.org/cat/">' in head(redirect)
    assert '<meta name="robots" content="noindex">' in head(redirect)


def test_papers_json_validates_against_its_published_schema(site):
    data = json.loads((site / "papers.json").read_text())
    schema = json.loads((site / "papers.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(data, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert [p["slug"] for p in data["papers"]] == ["lora", "flan"]
    lora = data["papers"][0]
    assert lora["title"] == 'LoRA: </script><script>alert("x")</script> Adaptation'
    assert lora["pdf"] == "https://arxiv.org/pdf/2106.09685" and lora["year"] == 2021
    assert lora["abstract"].startswith("We propose LoRA.")
    bad = {**data, "papers": [{**lora, "slug": "Not A Slug"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_sitemap_lists_every_page_and_robots_points_at_it(site):
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ET.fromstring((site / "sitemap.xml").read_bytes())
    locs = {u.find("s:loc", ns).text: u.find("s:lastmod", ns) for u in root.findall("s:url", ns)}
    pages = {
        "https://example.org/cat/" + str(p.relative_to(site)).removesuffix("index.html")
        for p in site.rglob("*.html")
        if str(p.relative_to(site)) not in ("404.html", "papers/index.html")  # not pages to index
    }
    assert set(locs) == pages
    assert locs["https://example.org/cat/papers/lora/"].text == "2024-06-01"
    assert locs["https://example.org/cat/"].text == "2024-06-01"
    robots = (site / "robots.txt").read_text()
    assert "Sitemap: https://example.org/cat/sitemap.xml" in robots


def test_404_works_at_any_depth_and_offers_search(site):
    page = (site / "404.html").read_text()
    hrefs = re.findall(r'(?:href|src|action)="([^"#]+)"', page)
    assert hrefs and all(h.startswith(("/cat/", "https://")) for h in hrefs), hrefs  # same prefix as base_url
    assert 'action="/cat/search/"' in page and 'type="search"' in page
    assert html.unescape("Page not found") in page


def meta(page: str, name: str) -> str | None:
    found = re.search(rf'<meta (?:name|property)="{name}" content="([^"]*)">', head(page))
    return html.unescape(found.group(1)) if found else None


def test_topic_and_tag_pages_describe_themselves_and_the_nav_marks_where_a_page_is(site):
    home = (site / "index.html").read_text()
    topic = (site / "topics/parameter-efficient-fine-tuning/index.html").read_text()
    lede = html.unescape(re.search(r'<p class="lede">(.*?)</p>', topic).group(1))
    assert meta(topic, "description") == meta(topic, "og:description") == lede != meta(home, "description")
    tag = (site / "tags/lora/index.html").read_text()
    count = int(re.search(r'<p class="counts">(\d+) papers?', tag).group(1))
    title = meta(home, "og:site_name")
    papers = "1 paper" if count == 1 else f"{count} papers"
    assert meta(tag, "description") == f"{papers} tagged “lora” in {title}."
    assert meta(tag, "og:title") == "Tag: lora" and meta(tag, "og:type") == "website"
    current = {
        "index.html": ('<a href="" aria-current="page">Papers</a>',),
        "topics/index.html": ('<a href="../topics/" aria-current="page">Topics</a>',),
        "tags/lora/index.html": ('<a href="../../tags/" aria-current="true">Tags</a>',),
        "papers/lora/index.html": ('<a href="../../" aria-current="true">Papers</a>',),
        "stats/index.html": ('<a href="../stats/" aria-current="page">Stats</a>',),
        "search/index.html": (),
    }
    for path, marks in current.items():
        nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', (site / path).read_text(), re.S).group(1)
        assert re.findall(r"<a [^>]*aria-current[^>]*>[^<]*</a>", nav) == list(marks), path


def test_topic_pages_chart_papers_per_year_as_inline_svg(site):
    page = (site / "topics/parameter-efficient-fine-tuning/index.html").read_text()
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    ET.fromstring(svg)  # well-formed
    assert "<title>2021: 1 paper</title>" in svg
    described = ET.fromstring(svg)  # the figures as text: a screen reader reads an img as one
    desc = described.find("{http://www.w3.org/2000/svg}desc")
    if desc is None:
        desc = described.find("desc")
    assert described.get("aria-describedby") == desc.get("id") == "chart-desc"
    shown = re.findall(r"<title>(\d{4}): (\d+) papers?</title>", svg)
    spoken = re.findall(r"(\d{4}): (\d+|none)", desc.text)
    assert [(y, "0" if n == "none" else n) for y, n in spoken] == shown
    stats = (site / "stats/index.html").read_text()
    assert "<svg" in stats and "Instruction tuning" in stats


@pytest.mark.parametrize("base", ["https://example.org/cat/", "https://x.org/a&b<c>\"d'/", "/"])
def test_sitemap_is_byte_for_byte_what_elementtree_writes(base):
    """sitemap.xml is written as text, not through ElementTree: the bytes must not differ."""
    import datetime as dt

    from generator.metadata import SITEMAP_NS, sitemap_xml
    from generator.model import SiteConfig

    config = SiteConfig("T", "d", base, "en")
    lists = [
        [],
        [("", None)],
        [("papers/a&b/", dt.date(2024, 1, 2)), ("x<y>/", None), ("日/", dt.date(1, 1, 1))],
    ]
    for pages in lists:
        ET.register_namespace("", SITEMAP_NS)
        root = ET.Element(f"{{{SITEMAP_NS}}}urlset")
        for path, lastmod in pages:
            url = ET.SubElement(root, f"{{{SITEMAP_NS}}}url")
            ET.SubElement(url, f"{{{SITEMAP_NS}}}loc").text = base + path
            if lastmod:
                ET.SubElement(url, f"{{{SITEMAP_NS}}}lastmod").text = lastmod.isoformat()
        ET.indent(root)
        expected = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"
        assert sitemap_xml(config, pages) == expected


def test_citation_tags_follow_google_scholar_s_reading():
    from generator.metadata import citation_author, citation_date, headline
    from generator.model import Paper

    def paper(date):
        return Paper("s", "T", (), dt.date(2024, 1, 1), (), (), "", "p.md", date=date)

    assert [citation_date(paper(d)) for d in ("2021-06-17", "2021-06", "2021", None)] == [
        "2021/06/17",
        "2021",  # not "2021/06": Scholar wants a full date or the year alone
        "2021",
        "",
    ]
    assert (
        citation_author("Martin Luther King, Jr.") == "Martin Luther King Jr."
    )  # no comma: not "Last, First"
    assert citation_author("Hu, Edward J.") == "Hu, Edward J."  # already "Last, First"
    assert citation_author("Picard, III, Jean-Luc") == "Picard, III, Jean-Luc"
    long = "Word " * 30
    cut = headline(long.strip())
    assert len(cut) <= 110 and cut.endswith("Word…") and headline("Short title") == "Short title"
