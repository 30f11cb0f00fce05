"""The browser must find what Python finds: lunr.py (with our pipeline) vs lunr.js 2.3.9 in Node."""

from __future__ import annotations

import json
import re
import subprocess

import lunr
import pytest
from lunr.stemmer import stemmer as lunr_py_stemmer
from lunr.stop_word_filter import WORDS as PY_STOP_WORDS
from lunr.token import Token

from generator import lunr_js
from generator.build import Project, load_catalogue
from generator.markup import make_converter, plain_text, render_markdown
from generator.search import build_search_index, lunr_indexes

from .conftest import REPO, SEED, require_tool

pytestmark = pytest.mark.node
LUNR_JS = REPO / "templates" / "static" / "vendor" / "lunr-2.3.9.min.js"
CLI = REPO / "tests" / "js" / "lunr_cli.js"
# Words where lunr.py's own stemmer and trimmer disagree with lunr.js.
TRICKY = [
    "key",
    "day",
    "array",
    "play",
    "lay",
    "try",
    "keys",
    "yield",
    "(e.g.",
    "i.e.,",
    "“quoted”",
    "tülu",
    "über",
    "x-ray",
    "gpt-4",
    "(llms).",
    "c++",
    "don't",
]


def node(mode: str, payload):
    exe = require_tool("node")
    done = subprocess.run(
        [exe, str(CLI), str(LUNR_JS), mode],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def catalogue_words():
    """Every distinct lowercased word of the committed catalogue (thousands)."""
    catalogue, _ = load_catalogue(Project.at(SEED))
    text = " ".join(p.title + " " + p.body_md for p in catalogue.papers).lower()
    return sorted(set(re.split(r"[\s\-]+", text)) | set(TRICKY))


def test_lunr_py_stock_stemmer_really_disagrees():
    """The reason this module exists: stock lunr.py stems `key` to `kei`, lunr.js does not."""
    stock = lunr_py_stemmer(Token("key")).string
    assert stock != node("stem", ["key"])[0]


def test_stemmer_matches_lunr_js_on_every_catalogue_word(catalogue_words):
    words = [lunr_js._trim(w) for w in catalogue_words]
    words = [w for w in words if w]
    js = node("stem", words)
    mismatches = [
        (w, lunr_js.porter_stem(w), s) for w, s in zip(words, js, strict=True) if lunr_js.porter_stem(w) != s
    ]
    assert len(words) > 2000
    assert mismatches == []


def test_trimmer_matches_lunr_js(catalogue_words):
    js = node("trim", catalogue_words)
    assert [lunr_js._trim(w) for w in catalogue_words] == js


def test_stop_words_match_lunr_js():
    probe = sorted(PY_STOP_WORDS | {"tuning", "model", "key"})
    assert sorted(node("stopwords", probe)) == sorted(PY_STOP_WORDS)


GOLDEN = [
    "key",
    "instruction tuning",
    "lora",
    "day",
    "array",
    "retrieval augmented generation",
    "scaling laws",
    "catastrophic forgetting",
    "e.g",
    "play",
    "mixture of experts",
    "chain-of-thought",
    "tülu",
    "prompt",
    "BERT",
    "instruct*",
    "code~1",
    "+lora -adapters",
    "playlists",
]


@pytest.fixture(scope="module")
def built_indexes():
    catalogue, _ = load_catalogue(Project.at(SEED))
    converter = make_converter()
    abstracts = {p.slug: plain_text(render_markdown(converter, p.body_md)) for p in catalogue.papers}
    built = lunr_indexes(catalogue, abstracts)
    return {name: json.loads(json.dumps(data.serialised)) for name, data in built.items()}


@pytest.mark.parametrize("tier", ["search/meta.json", "search/abstracts.json"])
def test_lunr_js_and_lunr_py_return_the_same_top_results(built_indexes, tier):
    built_index = built_indexes[tier]
    queries = GOLDEN + (["title:scaling", "tags:lora"] if "meta" in tier else ["abstract:scaling"])
    js = node("search", {"index": built_index, "queries": queries})
    index = lunr_js.load_index(built_index)

    def top(results):  # equal scores may come in any order: rank ties by ref
        ranked = sorted(((r["ref"], round(r["score"], 6)) for r in results), key=lambda x: (-x[1], x[0]))
        return ranked[:10]

    for query, js_results in zip(queries, js, strict=True):
        assert top(index.search(query)) == top(js_results), query
    hits = dict(zip(queries, js, strict=True))
    assert hits["instruction tuning"] and hits["lora"]
    if tier == "search/abstracts.json":
        assert hits["key"], "lunr.js must find 'key' (the stock lunr.py index misses it)"
        assert hits["play"] and hits["tülu"]


def test_accent_folding_matches_lunr_js(catalogue_words):
    probes = catalogue_words + ["Tülu", "naïve", "façade", "Ångström", "résumé", "über", "ﬁne", "Æsir"]
    assert [lunr_js.fold_text(w) for w in probes] == node("fold", probes)


def test_stock_lunr_py_index_misses_key_in_lunr_js():
    """Control experiment: without our pipeline, lunr.js finds nothing for `key`."""
    docs = [{"id": "a", "body": "A key insight (e.g. this one) on a sunny day."}]
    stock = lunr.lunr(ref="id", fields=["body"], documents=docs).serialize()
    ours_builder = lunr_js.make_builder()
    ours_builder.ref("id")
    ours_builder.field("body")
    ours_builder.add(docs[0])
    ours = ours_builder.build().serialize()
    stock_js, ours_js = (
        node("search", {"index": i, "queries": ["key", "day", "e.g"]}) for i in (stock, ours)
    )
    assert [len(r) for r in stock_js] == [0, 0, 0]
    assert [len(r) for r in ours_js] == [1, 1, 1]


def test_compact_transport_expands_to_the_exact_lunr_index(built_indexes):
    catalogue, _ = load_catalogue(Project.at(SEED))
    converter = make_converter()
    abstracts = {p.slug: plain_text(render_markdown(converter, p.body_md)) for p in catalogue.papers}
    shipped = build_search_index(catalogue, abstracts)
    for tier, raw in built_indexes.items():
        expanded = node("expand", json.loads(json.dumps(shipped[tier]["index"])))
        normal = {**raw, "fieldVectors": sorted(raw["fieldVectors"])}
        assert {**expanded, "fieldVectors": sorted(expanded["fieldVectors"])} == normal, tier


def test_fast_writer_equals_lunr_py_on_tricky_text():
    """generator/index_writer.py must produce exactly compact_index(lunr.py's index)."""
    from generator.index_writer import write_index
    from generator.search import ABSTRACT_FIELDS, META_FIELDS, _index, compact_index

    texts = [
        "Fine-tuning fine-tuning FINE-TUNING: the (e.g. key) day-to-day plays arrays, again and again.",
        "Tülu naïve façade über ﬁne — “quoted” ‘single’ a\u00a0b c\u2009d e\u3000f",
        "",
        "the a an of to be — -- ... !!! 123 4.5 x86 C++ C# 10:30 http://x.org/a-b_c",
        "LoRA LoRA LoRA lora Low-Rank low rank adaptation (LoRA) Adaptation(LoRA)",
    ]
    meta_docs = [
        {"ref": str(i), "title": t, "tags": t[:20], "topics": t[::-1], "authors": t.upper()}
        for i, t in enumerate(texts)
    ]
    for fields, docs in (
        (META_FIELDS, meta_docs),
        (ABSTRACT_FIELDS, [{"ref": str(i), "abstract": t} for i, t in enumerate(texts)]),
    ):
        expected = compact_index(_index(fields, docs), len(docs))
        assert write_index(fields, docs) == expected


def test_shipped_index_equals_lunr_py_on_the_catalogue(built_indexes):
    catalogue, _ = load_catalogue(Project.at(SEED))
    converter = make_converter()
    abstracts = {p.slug: plain_text(render_markdown(converter, p.body_md)) for p in catalogue.papers}
    from generator.search import compact_index, lunr_indexes

    shipped = build_search_index(catalogue, abstracts)
    for tier, built in lunr_indexes(catalogue, abstracts).items():
        assert shipped[tier]["index"] == compact_index(built, len(catalogue.papers)), tier


def test_terms_worked_out_with_each_paper_give_the_same_index_as_the_texts():
    import dataclasses

    from generator.model import Catalogue

    catalogue, _ = load_catalogue(Project.at(SEED))
    assert all(p.body_terms is not None for p in catalogue.papers)  # worked out while loading
    abstracts = {p.slug: p.body_text for p in catalogue.papers}
    bare = Catalogue(
        tuple(dataclasses.replace(p, body_terms=None) for p in catalogue.papers),
        catalogue.topics,
        catalogue.config,
    )
    tier = "search/abstracts.json"
    assert build_search_index(catalogue, abstracts)[tier] == build_search_index(bare, abstracts)[tier]
    odd = {**abstracts, catalogue.papers[0].slug: "... -- Tülu, LoRA's"}  # terms must follow the text
    expected = build_search_index(bare, odd)[tier]
    assert build_search_index(catalogue, odd)[tier] == expected
    assert "" in expected["index"]["terms"]  # "..." is a term of its own: the empty string


@pytest.mark.parametrize(
    "text",
    ["a b", "  a--b \t\n\r\x0c\x0bc\xa0d ", "", "-", "Fine-Tuning\u2003x", "tab\tand\u00a0nbsp", "x\u3000y"],
)
def test_words_split_where_lunr_py_splits_them(text):
    """index_writer splits words its own way, quicker: the same words as lunr.py's Tokenizer."""
    from lunr.tokenizer import Tokenizer

    from generator.index_writer import _split

    assert [w for w in _split(text.lower()) if w] == [str(token) for token in Tokenizer(text)]
