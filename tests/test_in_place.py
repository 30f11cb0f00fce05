"""The abstracts tier updated in place (serve) gives the bytes of the tier made afresh."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import in_place
from generator.in_place import AbstractsTier
from generator.render import to_json
from generator.search import abstract_terms, make_tier

PATH = "search/abstracts.json"
# Few words, so that documents share terms, repeat them, and edits make and drop terms;
# some stem alike, some are stop words, some carry characters JSON escapes or lunr splits on.
WORDS = st.sampled_from(
    [
        "tuning",
        "tuned",
        "lora",
        "LoRA",
        "adapter",
        "adapters",
        "retrieval",
        "the",
        "of",
        "rank-1",
        'say "x"',
        "back\\slash",
        "naïve",
        "a\u2028b",
        "é",
        "x:y",
        "42",
        "",
    ]
)
TEXT = st.lists(WORDS, max_size=12).map(" ".join)


def fresh(texts: list[str], known: list) -> bytes:
    return to_json(make_tier(PATH, (tuple(texts), tuple(known))))


def inputs(texts: list[str], with_terms: list[bool]) -> tuple[tuple, tuple]:
    """The tier's inputs; some texts come with their terms worked out, as papers bring them."""
    known = [abstract_terms(t) if w else None for t, w in zip(texts, with_terms, strict=True)]
    return tuple(texts), tuple(known)


@pytest.mark.parametrize("numpy_from", [0, 10**9], ids=["indexed-with-numpy", "indexed-by-document"])
@settings(max_examples=150, deadline=None)
@given(
    st.lists(TEXT, min_size=0, max_size=8),
    st.lists(st.tuples(st.integers(0, 7), TEXT, st.booleans()), max_size=8),
    st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_edits_in_place_give_the_bytes_of_a_fresh_tier(numpy_from, texts, edits, with_terms):
    with pytest.MonkeyPatch.context() as patch:  # both ways of making the tier anew
        patch.setattr(in_place, "NUMPY_FROM", numpy_from)
        patch.setattr(in_place, "NUMPY_BATCH", 3)  # documents split a few at a time
        edit_in_place(texts, edits, with_terms)


def test_many_documents_are_indexed_with_numpy_and_a_few_without(monkeypatch):
    """The tier of many abstracts is made anew with numpy, a small one not (numpy takes 0.05 s
    to import, which a small catalogue's build in one process would pay)."""
    calls = []
    monkeypatch.setattr(AbstractsTier, "_index", lambda self: calls.append("by document"))
    monkeypatch.setattr(AbstractsTier, "_index_with_numpy", lambda self: calls.append("numpy"))
    monkeypatch.setattr(AbstractsTier, "_order", lambda self: None)
    for count in (in_place.NUMPY_FROM - 1, in_place.NUMPY_FROM):
        AbstractsTier()._make(("text",) * count, (None,) * count)
    assert calls == ["by document", "numpy"]


def edit_in_place(texts, edits, with_terms):
    tier = AbstractsTier(rebuild_share=1)  # always in place, however many changed
    tier_inputs = inputs(texts, with_terms[: len(texts)])
    assert tier.json(tier_inputs) == fresh(*tier_inputs)
    for where, text, terms_known in edits:
        if not texts:
            break
        texts = list(texts)
        texts[where % len(texts)] = text
        tier_inputs = inputs(texts, [terms_known] * len(texts))
        assert tier.json(tier_inputs) == fresh(*tier_inputs)


def test_one_edit_among_many_is_updated_in_place_and_a_new_paper_remakes_it(monkeypatch):
    texts = [f"paper {i} tunes lora adapters for task{i % 7} and task{i % 11}" for i in range(100)]
    made, make = [], AbstractsTier._make

    def counted(self, *args):
        made.append(1)
        make(self, *args)

    monkeypatch.setattr(AbstractsTier, "_make", counted)
    tier = AbstractsTier()
    tier.json(inputs(texts, [True] * 100))
    texts[40] = "an edited abstract about quantisation and task3 task3"
    tier_inputs = inputs(texts, [True] * 100)
    assert tier.json(tier_inputs) == fresh(*tier_inputs) and made == [1]  # updated in place
    texts.insert(0, "a new paper on retrieval")
    tier_inputs = inputs(texts, [True] * 101)
    assert tier.json(tier_inputs) == fresh(*tier_inputs) and made == [1, 1]  # made anew
    data = json.loads(tier.json(tier_inputs))
    assert data["index"]["documents"] == 101 and data["text"][0] == "a new paper on retrieval"


def test_papers_json_from_kept_records_equals_the_whole_made_afresh():
    import dataclasses

    from generator.build import Project, load_catalogue
    from generator.cite import citation_keys
    from generator.in_place import PapersJson
    from generator.metadata import papers_json

    from .conftest import SEED

    catalogue, _ = load_catalogue(Project.at(SEED))
    kept = PapersJson()

    def check(catalogue, keys):
        abstracts = {p.slug: p.body_text for p in catalogue.papers}
        assert kept.json(catalogue, abstracts, keys) == to_json(papers_json(catalogue, abstracts, keys))

    keys = citation_keys(catalogue.papers)
    check(catalogue, keys)
    papers = list(catalogue.papers)
    first = papers[3]
    papers[3] = dataclasses.replace(first, title="Edited", body_text="Edited text", digest="another")
    edited = dataclasses.replace(catalogue, papers=tuple(papers))
    check(edited, keys)
    check(edited, {**keys, papers[5].slug: "renamed2024key"})
    check(dataclasses.replace(edited, config=dataclasses.replace(edited.config, base_url="/other/")), keys)
    check(dataclasses.replace(edited, papers=tuple(papers[1:])), keys)
