"""The browser's search engine (search-core.js) under Node, on built indexes: typos, accents,
facets, highlights, tiers and hostile input."""

from __future__ import annotations

import json
import subprocess

import pytest

from generator.build import Project, build

from .conftest import HOSTILE_QUERIES, REPO, SEED, paper_text, require_tool

pytestmark = pytest.mark.node
STATIC = REPO / "templates" / "static"


def run(site, requests, tiers=("meta", "abstracts")):
    files = [str(site / "search" / f"{t}.json") for t in tiers]
    done = subprocess.run(
        [require_tool("node"), str(REPO / "tests/js/engine_cli.js"), str(STATIC), *files],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    responses = json.loads(done.stdout)
    errors = [r["error"] for r in responses if "error" in r]
    assert errors == []
    return responses


def title(card) -> str:
    return "".join(text for text, _ in card["title"])


@pytest.fixture(scope="module")
def catalogue_site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    build(Project(SEED, SEED / "content", REPO / "templates", out))
    return out


def test_typos_find_what_the_right_spelling_finds(catalogue_site):
    typo, right = run(catalogue_site, [{"q": "instrction tunning"}, {"q": "instruction tuning"}])
    assert typo["fuzzy"] is True and right["fuzzy"] is False
    assert [title(c) for c in typo["results"]] == [title(c) for c in right["results"]]
    assert all("Instruction tuning" in c["topics"] for c in typo["results"][:5])


def test_accents_case_and_punctuation_do_not_matter(catalogue_site):
    responses = run(catalogue_site, [{"q": q} for q in ("Tülu", "tulu", "TULU.", "(tulu),")])
    assert len({json.dumps(r["results"]) for r in responses}) == 1
    assert responses[0]["total"] == 1


def test_prefix_of_the_last_word_matches_while_typing(catalogue_site):
    (r,) = run(catalogue_site, [{"q": "hedgeh"}])
    assert title(r["results"][0]).startswith("The Hedgehog & the Porcupine")


def test_matched_words_are_highlighted_in_title_and_snippet(catalogue_site):
    (r,) = run(catalogue_site, [{"q": "lora"}])
    marked = [[text for text, hit in c["title"] + c["snippet"] if hit] for c in r["results"]]
    assert marked[0]  # the best match shows why it matched
    assert all(t.lower().startswith("lora") for words in marked for t in words), marked
    assert "".join(t for t, _ in r["results"][0]["title"]) == title(r["results"][0])


def test_first_tier_answers_without_abstracts(catalogue_site):
    meta_only, both = run(catalogue_site, [{"q": "playlists"}], tiers=("meta",)) + run(
        catalogue_site, [{"q": "playlists"}]
    )
    assert meta_only["tier"] == 1 and both["tier"] == 2
    assert "snippet" not in meta_only["results"][0] and both["results"][0]["snippet"]
    (abstract_only,) = run(catalogue_site, [{"q": "grafting"}], tiers=("meta",))
    assert abstract_only["total"] == 0  # only the abstract says it: found once tier 2 is in
    (found,) = run(catalogue_site, [{"q": "grafting"}])
    assert found["total"] >= 1


def test_no_word_in_common_falls_back_to_any_word(catalogue_site):
    (r,) = run(catalogue_site, [{"q": "hedgehog playlists"}])
    assert r["mode"] == "any" and r["total"] == 2


HOSTILE = [
    *HOSTILE_QUERIES,
    "\u202e\u200b",
    "中文 日本語",
    "🙂" * 50,
    "x" * 1000,
    "constructor",
    "__proto__",
    "hasOwnProperty toString",
    "",
]


def test_hostile_queries_never_throw(catalogue_site):
    responses = run(catalogue_site, [{"q": q, "limit": 5} for q in HOSTILE] + [{"q": None}, {"q": 42}, {}])
    assert len(responses) == len(HOSTILE) + 3
    by_query = dict(zip(HOSTILE, responses, strict=False))
    assert by_query["*"]["mode"] == by_query["+"]["mode"] == "nowords" and by_query["*"]["total"] == 0
    assert by_query["C++"]["words"] == ["c"] and by_query["title:"]["words"] == ["title"]


@pytest.fixture(scope="module")
def faceted_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("faceted")
    from .conftest import SITE_YML, TOPICS_YML, write_tree

    papers = {
        "a": paper_text(
            "Adapters for Speech",
            topics='["parameter-efficient-fine-tuning"]',
            tags='["adapters", "speech"]',
            extra='date: "2021-03"',
        ),
        "b": paper_text(
            "Adapters for Vision",
            topics='["parameter-efficient-fine-tuning"]',
            tags='["adapters", "vision"]',
            extra='date: "2023-05"',
        ),
        "c": paper_text(
            "Instruction Tuning at Scale",
            topics='["instruction-tuning"]',
            tags='["scale", "speech"]',
            extra='date: "2023-01"',
        ),
        "d": paper_text(
            "Adapters and Instructions",
            topics='["instruction-tuning", "parameter-efficient-fine-tuning"]',
            tags='["adapters"]',
            extra='date: "2024"',
        ),
    }
    write_tree(
        root,
        {
            "content/site.yml": SITE_YML,
            "content/topics.yml": TOPICS_YML,
            **{f"content/papers/{k}.md": v for k, v in papers.items()},
        },
    )
    build(Project(root, root / "content", REPO / "templates", root / "site"))
    return root / "site"


def slugs(response):
    return sorted(c["url"].split("/")[1] for c in response["results"])


def test_facets_filter_and_count(faceted_site):
    browse, topic, both, years, text = run(
        faceted_site,
        [
            {"q": ""},
            {"q": "", "topic": "parameter-efficient-fine-tuning"},
            {"q": "", "topic": "parameter-efficient-fine-tuning", "tag": "speech"},
            {"q": "", "yearFrom": 2023, "yearTo": 2023},
            {"q": "adapters", "yearFrom": 2022},
        ],
    )
    assert browse["mode"] == "browse" and slugs(browse) == ["a", "b", "c", "d"]
    assert slugs(topic) == ["a", "b", "d"]
    assert dict((t[0], t[2]) for t in topic["facets"]["topics"]) == {
        "parameter-efficient-fine-tuning": 3,
        "instruction-tuning": 2,
    }  # other facets still count all
    assert dict(map(tuple, topic["facets"]["tags"]))["speech"] == 1
    assert slugs(both) == ["a"]
    assert slugs(years) == ["b", "c"]
    assert dict(map(tuple, years["facets"]["years"])) == {2021: 1, 2023: 2, 2024: 1}
    assert slugs(text) == ["b", "d"]
