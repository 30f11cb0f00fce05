"""Related papers (generator/related.py): obvious neighbours, invariants, and exactness of the
chunked sparse top-k against a brute-force dense computation."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest
from scipy import sparse

from generator import neighbours, products, related
from generator.build import Project, build, load_catalogue
from generator.model import Paper
from generator.related import reason_text, related_papers

from .conftest import SEED


def paper(slug: str, title: str, body: str, tags=()) -> Paper:
    return Paper(
        slug=slug,
        title=title,
        authors=("Ada Lovelace",),
        added=dt.date(2024, 5, 1),
        topics=("fine-tuning",),
        tags=tuple(tags),
        body_md=body,
        path=f"content/papers/{slug}.md",
    )


LORA = [
    paper(
        "lora-low-rank-adaptation",
        "LoRA: Low-Rank Adaptation of Large Language Models",
        "We freeze the pre-trained weights and inject trainable low-rank adapters into each Transformer layer. LoRA adapters cut the number of trainable parameters by 10,000 times while matching full fine-tuning quality.",
        ["lora", "low-rank", "adapters"],
    ),
    paper(
        "qlora-quantized-adapters",
        "QLoRA: Efficient Finetuning of Quantized LLMs with LoRA Adapters",
        "QLoRA backpropagates gradients through a frozen, 4-bit quantized model into low-rank adapters. The LoRA adapters recover full 16-bit fine-tuning performance on a single GPU.",
        ["lora", "quantization", "adapters"],
    ),
    paper(
        "adapter-merging",
        "Merging LoRA Adapters for Multi-Task Learning",
        "Many LoRA adapters are trained for separate tasks. We merge the low-rank adapters into one set of weights, so one model serves all tasks without retraining the adapters.",
        ["lora", "adapters", "model-merging"],
    ),
]
RAG = [
    paper(
        "rag-knowledge-intensive",
        "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks",
        "A retriever fetches passages from a Wikipedia index and the generator conditions on the retrieved documents. Retrieval-augmented generation beats closed-book models on open-domain question answering.",
        ["rag", "retrieval", "question-answering"],
    ),
    paper(
        "dense-passage-retrieval",
        "Dense Passage Retrieval for Open-Domain Question Answering",
        "Dense retrieval of passages with a dual encoder outperforms BM25. Better retrieved passages improve open-domain question answering end to end.",
        ["retrieval", "question-answering", "dense-retrieval"],
    ),
    paper(
        "self-rag",
        "Self-RAG: Learning to Retrieve, Generate and Critique",
        "The model decides when to retrieve passages and critiques the retrieved documents during generation, improving retrieval-augmented generation for question answering.",
        ["rag", "retrieval", "self-reflection"],
    ),
]
SMALL = LORA + RAG


def test_lora_papers_relate_to_lora_papers_and_rag_to_rag():
    result = related_papers(SMALL)
    for group in (LORA, RAG):
        slugs = {p.slug for p in group}
        for p in group:
            top2 = {slug for slug, _, _ in result[p.slug][:2]}
            assert top2 == slugs - {p.slug}, (p.slug, result[p.slug])
    for p in LORA:
        for other, _, terms in result[p.slug]:
            if other in {q.slug for q in LORA}:
                text = reason_text(terms)
                assert "LoRA" in text or "adapters" in text, text


def test_reasons_use_the_catalogues_spelling():
    terms = {t for items in related_papers(SMALL).values() for _, _, reason in items for t in reason}
    words = {w for t in terms for w in t.replace("-", " ").split()}
    assert "LoRA" in words  # the capitalisation the catalogue uses most
    assert "adapters" in words  # the surface form used most, not the stem "adapter"
    assert not words & {"lora", "Lora", "adapter", "adapt"}
    assert "low-rank" in terms  # a bigram, hyphenated as the abstracts write it
    assert "low" not in terms  # too vague alone


def test_reasons_never_split_a_hyphenated_word():
    texts = [
        "We study supervised fine-tuning of instruction-tuned LLaMA models with Low-Rank Adaptation.",
        "Supervised fine-tuning with Low-Rank Adaptation keeps instruction-tuned LLaMA weights frozen.",
        "Low-Rank Adaptation and supervised fine-tuning for instruction-tuned LLaMA on new tasks.",
    ]
    others = [
        "Speech recognition benchmarks.",
        "Graph neural networks for molecules.",
        "Retrieval for code search.",
    ]
    papers = [paper(f"p{i}", f"Adapters {i}", text) for i, text in enumerate(texts + others)]
    terms = {t for items in related_papers(papers).values() for _, _, reason in items for t in reason}
    assert terms & {"fine-tuning", "low-rank", "instruction-tuned"}, terms
    assert not terms & {"supervised fine", "rank adaptation", "tuned LLaMA", "tuned Llama"}, terms
    catalogue, _ = load_catalogue(Project.at(SEED))
    shown = {
        t for items in related_papers(catalogue.papers).values() for _, _, reason in items for t in reason
    }
    halves = {
        "supervised fine",
        "efficient fine",
        "instruction fine",
        "continued pre",
        "tuned LLMs",
        "tuned models",
    }
    assert not shown & halves  # all shown before (tags are other: "partial-fine-tuning" is three words)


def test_self_is_never_included_and_k_is_respected():
    for k in (1, 2, 3, 5, 10):
        result = related_papers(SMALL, k=k)
        assert set(result) == {p.slug for p in SMALL}
        for slug, items in result.items():
            assert len(items) <= min(k, len(SMALL) - 1)
            assert slug not in [other for other, _, _ in items]
            assert len({other for other, _, _ in items}) == len(items)


def test_scores_are_in_range_sorted_rounded_and_reasons_are_short():
    for items in related_papers(SMALL).values():
        scores = [score for _, score, _ in items]
        assert all(related.MIN_SCORE <= s <= 1 for s in scores)
        assert all(round(s, 4) == s for s in scores)
        assert [(-s, o) for o, s, _ in items] == sorted((-s, o) for o, s, _ in items)
        assert all(1 <= len(terms) <= 3 for _, _, terms in items)


def test_scores_are_symmetric():
    papers = SMALL + synthetic(60, seed=3)
    result = related_papers(papers, k=len(papers))  # every pair with a score
    scores = {(a, b): s for a, items in result.items() for b, s, _ in items}
    assert scores
    for (a, b), s in scores.items():
        assert scores[(b, a)] == s


def test_results_do_not_depend_on_input_order():
    papers = SMALL + synthetic(80, seed=5)
    expected = related_papers(papers)
    rng = random.Random(1)
    for _ in range(3):
        shuffled = papers[:]
        rng.shuffle(shuffled)
        got = related_papers(shuffled)
        assert got == expected
        assert list(got) == list(expected)


@pytest.mark.parametrize("count", [0, 1, 2])
def test_tiny_catalogues(count):
    papers = LORA[:count]
    result = related_papers(papers)
    assert set(result) == {p.slug for p in papers}
    if count == 2:
        (a, b) = papers
        assert [other for other, _, _ in result[a.slug]] == [b.slug]
        assert result[a.slug][0][1] == result[b.slug][0][1]
        assert "LoRA" in reason_text(result[a.slug][0][2])
    else:
        assert all(items == () for items in result.values())


def test_unrelated_papers_and_urls_do_not_relate():
    a = paper("a", "Protein folding kinetics", "Source available at <https://github.com/org/repo>.")
    b = paper(
        "b", "Galaxy rotation curves", "Implementation: [repo](https://github.com/org/repo), mail x@org.com"
    )
    assert related_papers([a, b]) == {"a": (), "b": ()}


def test_accents_stems_and_bigrams():
    a = paper("a", "Naïve Bayes adapters", "Instruction tuning of naive models.")
    b = paper("b", "Naive bayes adapter", "Instruction-tuned models, with instruction tuning.")
    result = related_papers([a, b])
    terms = result["a"][0][2]
    assert result["b"][0][2] == terms
    joined = reason_text(terms)
    assert "naive" in joined.lower() and "instruction tuning" in joined, joined


def test_reason_text():
    assert reason_text(("LoRA", "adapters", "low-rank")) == "shared: LoRA, adapters, low-rank"
    assert reason_text(["RAG"]) == "shared: RAG"


def test_stemmer_is_light_and_deterministic():
    assert related.stem("adapters") == related.stem("adapter") == "adapter"
    assert related.stem("tuning") == related.stem("tuned")
    assert related.stem("approaches") == "approach"
    assert related.stem("studies") == "study"
    assert related.stem("class") == "class"


def test_every_committed_paper_has_a_related_paper():
    catalogue, _ = load_catalogue(Project.at(SEED))
    result = related_papers(catalogue.papers)
    assert set(result) == {p.slug for p in catalogue.papers}
    lonely = [slug for slug, items in result.items() if not items]
    assert lonely == []


WORDS = [
    f"{a}{b}"
    for a in ("quant", "token", "graph", "vision", "speech", "reward", "prompt", "sparse")
    for b in ("ization", "er", "ing", "ness", "ity", "al", "ed", "s")
]


def synthetic(n: int, seed: int) -> list[Paper]:
    """Papers over a small skewed vocabulary: many overlaps, many equal rounded scores."""
    rng = random.Random(seed)
    weights = [1 / (i + 1) for i in range(len(WORDS))]
    papers = []
    for i in range(n):
        title = " ".join(rng.choices(WORDS, weights, k=rng.randint(2, 5)))
        body = ". ".join(
            " ".join(rng.choices(WORDS, weights, k=rng.randint(3, 8))) for _ in range(rng.randint(1, 4))
        )
        tags = rng.sample(
            ["graph-learning", "speech", "rlhf", "vision-language", "pruning"], rng.randint(0, 2)
        )
        papers.append(paper(f"syn-{seed}-{i:03d}", title.title(), body, tags))
    return papers


def brute_force(vectors: related.Vectors, k: int) -> dict[str, list[tuple[str, float]]]:
    """The definition, with a dense n x n matrix and Python sorting."""
    dense = vectors.matrix.toarray()
    scores = np.round(dense @ dense.T, related.DECIMALS)
    out = {}
    for i, slug in enumerate(vectors.slugs):
        candidates = [
            (-float(scores[i, j]), other)
            for j, other in enumerate(vectors.slugs)
            if j != i and scores[i, j] >= related.MIN_SCORE
        ]
        out[slug] = [(other, min(-neg, 1.0)) for neg, other in sorted(candidates)[:k]]
    return out


def tie_papers() -> list[Paper]:
    """Synthetic papers plus 14 identical copies of one: exact ties at every k <= 12."""
    base = synthetic(200, seed=11)
    copies = [paper(f"copy-{i:02d}", base[0].title, base[0].body_md, base[0].tags) for i in range(14)]
    return base + copies + SMALL


@pytest.fixture(params=["scipy", "compiled"])
def products_by(request, monkeypatch):
    """Run the test with scores from scipy's sparse product, then from the compiled loop
    (products.py), which large catalogues use."""
    monkeypatch.setattr(neighbours, "COMPILED_ROWS", 0 if request.param == "compiled" else 10**9)
    return request.param


def bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint64)  # -0.0 and 0.0 differ here, as any two different floats do


@pytest.fixture(autouse=True)
def _compiled_where_it_agrees(request):
    """Tests of the compiled code need a machine where it gives scipy's floats (x86-64 wheels
    do; a scipy that fuses multiply-adds would not, and there neighbours.py keeps to scipy)."""
    wants = "compiled" in request.node.name or "products_by" in request.fixturenames
    if wants and not neighbours._compiled_usable():
        pytest.skip("numba is missing or differs from scipy here: neighbours.py uses scipy alone")


def test_compiled_products_are_scipys_floats():
    rng = np.random.default_rng(5)
    matrices = [related.vectorise(tie_papers()).matrix]
    for n, width, density in [
        (1, 1, 1.0),
        (40, 30, 0.2),
        (300, 900, 0.02),
        (50, 20, 0.0),
        (60, 80, 0.5),
        (7, 0, 0.0),
    ]:
        m = sparse.random(n, width, density=density, format="csr", random_state=rng)
        m.data = 10.0 ** rng.uniform(-8, 0, m.nnz)  # sizes spread wide: the order of additions shows
        m.sort_indices()
        matrices.append(m)
    wide = matrices[-2].copy()  # int64 indices, as scipy uses past 2**31 entries
    wide.indices, wide.indptr = wide.indices.astype(np.int64), wide.indptr.astype(np.int64)
    matrices.append(wide)
    for m in matrices:
        n = m.shape[0]
        rows = np.sort(rng.integers(0, n, min(n, 60)))
        for other in (m, m[rng.permutation(n)[: max(1, n // 3)]]):
            b = other.T.tocsr()
            expected = (m[rows] @ b).toarray()
            got = products.block(m, b, rows)
            assert got.dtype == expected.dtype and got.shape == expected.shape
            assert np.array_equal(bits(got), bits(expected))  # the same products in the same order
        full = (m @ m.T.tocsr()).toarray()
        cols = rng.integers(0, n, len(rows))
        assert np.array_equal(bits(products.pairs(m, rows, cols)), bits(full[rows, cols]))
    empty_rows = matrices[4]  # density 0: every pair shares nothing
    assert np.array_equal(bits(products.pairs(empty_rows, np.arange(5), np.arange(5))), bits(np.zeros(5)))
    assert products.block(m, b, rows[:0]).shape == (0, b.shape[1])


def test_compiled_top_k_scores_each_pair_once_and_equals_scipys(monkeypatch):
    """Large catalogues score each pair once (products.symmetric_top_k), in chunks dealt to
    threads whose lists are merged: the same lists, scores and bounds as scipy's blocks."""
    matrices = [related.vectorise(synthetic(300, seed=s)).matrix for s in (3, 4)]
    rng = np.random.default_rng(8)
    sparse_rows = sparse.random(120, 400, density=0.01, format="csr", random_state=rng)  # empty rows too
    sparse_rows.sort_indices()
    matrices.append(sparse_rows)
    symmetric = []
    monkeypatch.setattr(
        products, "_symmetric", lambda *a, real=products._symmetric: symmetric.append(1) or real(*a)
    )
    for m in matrices:
        for keep in (1, 10, 40):
            monkeypatch.setattr(neighbours, "COMPILED_ROWS", 10**9)
            expected = neighbours.top_k(m, keep)
            monkeypatch.setattr(neighbours, "COMPILED_ROWS", 0)
            for chunk, workers in [(None, None), (1, 3), (5, 2), (1000, 1)]:
                found = neighbours.top_k(m, keep, chunk=chunk, workers=workers)
                for name in ("rows", "cols", "scores", "bounds"):
                    assert np.array_equal(bits(getattr(found, name)), bits(getattr(expected, name))), name
    assert len(symmetric) >= 3 * 3 * 4  # the pair-once path ran, once per thread


def test_compiled_products_are_not_used_where_they_would_differ(monkeypatch):
    monkeypatch.setattr(products, "agrees_with_scipy", lambda: False)
    neighbours._compiled_usable.cache_clear()
    try:
        assert not neighbours.compiled(10**6)
    finally:
        neighbours._compiled_usable.cache_clear()
    monkeypatch.undo()
    assert neighbours.compiled(10**6) and not neighbours.compiled(neighbours.COMPILED_ROWS - 1)


def test_updates_by_either_code_equal_a_fresh_computation(monkeypatch):
    """A new process updates related papers with scipy (loading numba would cost more than
    it saves), a warm one with the compiled code it has loaded, from a state either made."""
    import sys

    monkeypatch.setattr(neighbours, "COMPILED_ROWS", 0)
    base = tie_papers()
    edited = edits(base)["a common word more"]
    expected = related.related_papers(edited)  # fresh: compiled
    _, state = related.update(base, None)
    assert "generator.products" in sys.modules
    assert neighbours.compiled(len(base), load=False)
    assert related.update(edited, state)[0] == expected  # compiled update
    monkeypatch.delitem(sys.modules, "generator.products")  # as in a new process
    assert not neighbours.compiled(len(base), load=False)
    assert related.update(edited, state)[0] == expected  # scipy update of a compiled state


def test_compiled_reasons_pick_as_python_does():
    rng = random.Random(8)
    alphabet = "abcdefg"
    keys = sorted(
        {rng.choice(alphabet) for _ in range(20)}
        | {f"{rng.choice(alphabet)} {rng.choice(alphabet)}" for _ in range(40)}
        | {"a", "b", "a b", "a a", "b a"}
    )
    stems = tuple(frozenset(key.split(" ")) for key in keys)  # "a a" has one stem, as in related.py
    candidates = [rng.sample(range(len(keys)), rng.randint(0, related.CANDIDATES)) for _ in range(3000)]
    bounds = np.cumsum([0] + [len(c) for c in candidates])
    terms = np.array([j for c in candidates for j in c], dtype=np.int64)
    got = products.pick(bounds, terms, products.stem_numbers(stems), related.REASON_TERMS).tolist()
    expected = [related._pick(c, stems) for c in candidates]
    assert [[j for j in row if j >= 0] for row in got] == expected
    a, b, ab, aa, ba = (keys.index(key) for key in ("a", "b", "a b", "a a", "b a"))
    for listed, chosen in [([a, b, ab], [ab]), ([a, aa], [a]), ([ab, ba], [ab]), ([b, a, ab], [ab])]:
        assert related._pick(listed, stems) == chosen
        got = products.pick(np.array([0, len(listed)]), np.array(listed), products.stem_numbers(stems), 3)
        assert [j for j in got[0].tolist() if j >= 0] == chosen
    assert any(
        len(e) < len(c) and len(e) < related.REASON_TERMS for e, c in zip(expected, candidates, strict=True)
    )  # merges


def test_compiled_reason_candidates_rank_products_as_scipys_path_does():
    """products.candidates against a plain ranking of each pair's shared terms: by product
    (two weights multiplied, as scipy's `multiply` does), then name; products that underflow to
    0 dropped, as scipy drops them. Weights from a few values make ties of exactly equal products."""
    rng = np.random.default_rng(11)
    for n, width, density, limit in [(30, 25, 0.5, 8), (80, 300, 0.1, 8), (12, 6, 0.9, 3), (5, 4, 0.0, 8)]:
        m = sparse.random(n, width, density=density, format="csr", random_state=rng)
        m.data = rng.choice([0.5, 0.25, 0.125, 1e-200, 0.3, 0.7], m.nnz)  # 1e-200 squared underflows
        m.sort_indices()
        names = rng.permutation(width)
        rows, cols = rng.integers(0, n, 200), rng.integers(0, n, 200)
        dense = m.toarray()
        expected, ties, underflows = [], 0, 0
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            shared = [(dense[r, t] * dense[c, t], t) for t in range(width) if dense[r, t] and dense[c, t]]
            ranked = sorted(((v, t) for v, t in shared if v != 0.0), key=lambda x: (-x[0], names[x[1]]))
            expected.append([t for _, t in ranked[:limit]])
            ties += len({v for v, _ in ranked[:limit]}) < len(ranked[:limit])
            underflows += len(ranked) < len(shared)
        bounds, terms = products.candidates(m, names, rows, cols, limit)
        got = [terms[bounds[p] : bounds[p + 1]].tolist() for p in range(len(rows))]
        assert got == expected
        if density:  # the cases this test is for did occur
            assert any(len(e) == limit for e in expected) and ties and underflows


def test_compiled_related_papers_equal_plain_ones(monkeypatch):
    base = tie_papers()
    results = {}
    for rows in (0, 10**9):
        monkeypatch.setattr(neighbours, "COMPILED_ROWS", rows)
        _, state = related.update(base, None)
        edited = edits(base)["a common word more"]
        results[rows] = (related.related_papers(base), related.update(edited, state)[0])
    assert results[0] == results[10**9]


@pytest.mark.parametrize("k", [1, 5, 12])
def test_chunked_sparse_top_k_equals_brute_force(k, products_by):
    papers = tie_papers()
    vectors = related.vectorise(papers)
    expected = brute_force(vectors, k)
    assert [other for other, _ in expected["copy-03"]] == [f"copy-{i:02d}" for i in range(14) if i != 3][:k]
    dense = vectors.matrix.toarray() @ vectors.matrix.toarray().T
    for chunk, workers, keep in [(1, 1, k), (7, 3, k + 3), (64, 2, k), (512, None, k + 5)]:
        found = neighbours.top_k(vectors.matrix, keep, chunk=chunk, workers=workers)
        rows, cols, scores = found.first(k)
        listed = np.zeros(dense.shape, dtype=bool)
        listed[found.rows, found.cols] = True
        np.fill_diagonal(listed, True)
        outside = np.where(listed, -np.inf, dense).max(axis=1)
        assert (outside <= found.bounds + 1e-12).all()  # no row left out scores above its bound
        assert (found.bounds <= np.maximum(outside, -1.0) + 2 * neighbours.SLACK + 1e-12).all()  # tight
        got: dict[str, list[tuple[str, float]]] = {slug: [] for slug in vectors.slugs}
        for r, c, s in zip(rows.tolist(), cols.tolist(), scores.tolist(), strict=True):
            got[vectors.slugs[r]].append((vectors.slugs[c], s))
        assert got == expected, (chunk, workers)
    via_api = related_papers(papers, k=k)
    assert {slug: [(o, s) for o, s, _ in items] for slug, items in via_api.items()} == expected


def test_reasons_do_not_depend_on_batching(monkeypatch):
    papers = tie_papers()
    expected = related_papers(papers)
    monkeypatch.setattr(related, "REASON_BATCH", 7)
    assert related_papers(papers) == expected


def test_vectors_are_normalised_and_filtered():
    vectors = related.vectorise(synthetic(100, seed=2))
    norms = np.sqrt(np.asarray(vectors.matrix.multiply(vectors.matrix).sum(axis=1)).ravel())
    assert np.allclose(norms[norms > 0], 1.0)
    df = np.bincount(vectors.matrix.indices, minlength=vectors.matrix.shape[1])
    assert df.min() >= 2 and df.max() <= 50
    assert len(vectors.terms) == vectors.matrix.shape[1] == len(vectors.stems)


def edits(base: list[Paper]) -> dict[str, list[Paper]]:
    """Catalogues one edit away from `base`, of every kind a rebuild meets."""
    first, second = base[0], base[1]
    same = [p for p in base if p.slug not in (first.slug, second.slug)]

    def swap(old: Paper, **fields) -> list[Paper]:
        return [dataclass_replace(p, **fields) if p.slug == old.slug else p for p in base]

    rare = "zyxomatic quorbling"  # words no other paper has: no other row moves
    return {
        "a word only this paper has": swap(first, body_md=first.body_md + f" {rare} {rare}."),
        "a common word more": swap(first, body_md=first.body_md + " " + base[5].title),
        "tokens unchanged (a number)": swap(first, body_md=first.body_md + " 2024."),
        "title": swap(second, title=base[7].title),
        "tags": swap(second, tags=("speech", "pruning", "rlhf")),
        "renamed": [dataclass_replace(first, slug="zz-renamed"), *base[1:]],
        "added": [*base, paper("new-paper", base[3].title, base[4].body_md, base[4].tags)],
        "removed": [second, *same],
        "abstract emptied": swap(first, body_md="Nothing."),
    }


def dataclass_replace(p: Paper, **fields) -> Paper:
    import dataclasses

    return dataclasses.replace(p, **fields)


@pytest.mark.parametrize("k", [1, 5])
@pytest.mark.parametrize("extra", [0, related.EXTRA])
def test_an_update_after_any_edit_equals_computing_afresh(k, extra, monkeypatch, products_by):
    monkeypatch.setattr(related, "EXTRA", extra)
    base = tie_papers()
    before, state = related.update(base, None, k)  # computed afresh, as related_papers does
    for name, papers in edits(base).items():
        expected, fresh_state = related.update(papers, None, k)
        got, new_state = related.update(papers, state, k)
        assert got == expected, name
        mine, theirs = new_state.neighbours.first(k), fresh_state.neighbours.first(k)
        for a, b in zip(mine, theirs, strict=True):
            assert np.array_equal(a, b), name
        assert_bounds_hold(related.vectors_of(new_state.tokens).matrix, new_state.neighbours)
        kept, keys = new_state.matrix, list(new_state.display)  # the next update's old vectors
        fresh_matrix, fresh_keys = related._weights(new_state.tokens)
        assert keys == fresh_keys and (kept != fresh_matrix).nnz == 0, name
        again, _ = related.update(base, new_state, k)  # and back
        assert again == before, name


def test_a_small_edit_compares_only_the_rows_it_moved(monkeypatch):
    base = tie_papers()
    _, state = related.update(base, None)
    papers = edits(base)["a word only this paper has"]
    expected = related.related_papers(papers)
    compared = []
    real = neighbours._block_top_k  # every row compared with all goes through it
    monkeypatch.setattr(neighbours, "top_k", lambda *a, **k: pytest.fail("recomputed every row"))
    monkeypatch.setattr(
        neighbours, "_block_top_k", lambda s, rows, k: compared.append(len(rows)) or real(s, rows, k)
    )
    rescored = []
    real_pairs = neighbours._pair_scores
    monkeypatch.setattr(
        neighbours,
        "_pair_scores",
        lambda m, rows, cols, **kw: rescored.append(len(rows)) or real_pairs(m, rows, cols, **kw),
    )
    got, new_state = related.update(papers, state)
    assert got == expected
    assert 0 < sum(compared) < len(base) // 10  # the edited paper and the few that listed it
    assert sum(rescored) == 0  # no other vector moved: every other listed pair keeps its score
    assert list(new_state.tokens.slugs) == sorted(p.slug for p in papers)


def test_tokens_are_reused_and_their_vocabulary_stays_small():
    base = tie_papers()
    tokens, fresh = related.tokenise(base)
    assert fresh == list(range(len(base)))
    papers = edits(base)["a word only this paper has"]
    again, fresh = related.tokenise(papers, tokens)
    assert [again.slugs[i] for i in fresh] == [base[0].slug]
    back, _ = related.tokenise(base, again)
    assert set(back.features.vocab) == set(tokens.features.vocab)  # the rare words are dropped
    assert "zyxomat" not in back.features.vocab
    for name in ("features", "surfaces", "spellings"):
        for i in range(len(base)):
            assert getattr(back, name).row(i) == getattr(tokens, name).row(i)


def test_reasons_follow_a_spelling_that_changed_elsewhere():
    """An edit of one paper can change how a shared term is spelt in every other pair's reason."""
    pair = [
        paper("a-speech", "LoRA Adapters for Speech", "LoRA adapters tune speech recognisers cheaply."),
        paper("b-vision", "LoRA Adapters for Vision", "LoRA adapters tune vision encoders cheaply."),
    ]
    other = paper("c-quant", "Quantised Networks", "Quantised networks mention lora once.")
    base = [*pair, other, *RAG]
    before, state = related.update(base)
    assert before["a-speech"][0][:1] == ("b-vision",) and before["a-speech"][0][2][0] == "LoRA adapters"
    respelt = dataclass_replace(other, body_md="Quantised networks mention lora " + "and lora " * 8 + ".")
    papers = [*pair, respelt, *RAG]
    got, _ = related.update(papers, state)
    assert got == related.related_papers(papers)
    assert got["a-speech"][0][2][0] == "lora adapters"  # the two unchanged papers' reason


def test_rows_that_only_drifted_are_checked_against_their_bound_not_recomputed(monkeypatch):
    """A common word added or removed moves the idf, so every paper with that word moves a
    little; their lists are confirmed by the bound (see neighbours.py), edit after edit."""
    base = synthetic(600, seed=4)
    _, state = related.update(base)
    computed = []
    real = neighbours._block_top_k  # every row compared with all goes through it
    monkeypatch.setattr(
        neighbours, "_block_top_k", lambda s, rows, k: computed.append(len(rows)) or real(s, rows, k)
    )
    papers = base
    for step, name in enumerate(["a common word more", "title", "added", "removed", "a common word more"]):
        papers = edits(papers)[name]
        computed.clear()
        tokens, fresh = related.tokenise(papers, state.tokens)
        changed, drift = related._movement(state.tokens, tokens, fresh, related.vectors_of(tokens))
        got, state = related.update(papers, state)
        in_full = sum(computed)
        assert got == related.related_papers(papers), (step, name)
        assert (drift > 0).sum() > len(papers) // 10, (step, name)  # many rows moved...
        assert in_full < len(papers) // 2, (step, name)  # ...most were not compared with every row
        assert_bounds_hold(related.vectors_of(state.tokens).matrix, state.neighbours)


def assert_bounds_hold(matrix, found) -> None:
    """No row outside a row's list scores above that row's bound (what the next update trusts)."""
    dense = matrix.toarray() @ matrix.toarray().T
    listed = np.zeros(dense.shape, dtype=bool)
    listed[found.rows, found.cols] = True
    np.fill_diagonal(listed, True)
    outside = np.where(listed, -np.inf, dense).max(axis=1, initial=-1.0)
    assert (outside <= found.bounds + 1e-12).all()


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4])
def test_updates_of_tiny_catalogues(count):
    base = SMALL[:count]
    _, state = related.update(base)
    edited = [dataclass_replace(p, body_md="LoRA retrieval.") for p in base[:1]] + base[1:]
    for papers in (SMALL[: count + 1], SMALL[1:count], edited, [], SMALL):
        got, _ = related.update(papers, state)
        assert got == related.related_papers(papers)


def test_pair_scores_are_the_bits_of_a_full_product(products_by):
    vectors = related.vectorise(tie_papers())
    matrix = vectors.matrix
    full = np.round((matrix @ matrix.T).toarray(), related.DECIMALS)
    rng = np.random.default_rng(3)
    rows = np.sort(rng.integers(0, matrix.shape[0], 500))
    cols = rng.integers(0, matrix.shape[0], 500)
    assert np.array_equal(neighbours._pair_scores(matrix, rows, cols), full[rows, cols])
    assert len(neighbours._pair_scores(matrix, rows[:0], cols[:0])) == 0


def test_related_papers_are_computed_without_the_collector_which_comes_back_after(monkeypatch):
    """related_job.compute turns the garbage collector off while it computes (its passes over
    the state cost more than the cycles they find) and on again after, also when it fails."""
    import gc

    from generator import related_job

    seen = []
    real = related.update
    monkeypatch.setattr(related, "update", lambda *a: seen.append(gc.isenabled()) or real(*a))
    texts = [(p.slug, p.title, p.body_md, p.tags, p.digest) for p in tie_papers()]
    assert gc.isenabled()
    found, state = related_job.compute(texts, None)
    assert seen == [False] and gc.isenabled() and found == related_papers(tie_papers())

    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(related, "update", broken)
    with pytest.raises(RuntimeError):
        related_job.compute(texts, state)
    assert gc.isenabled()


def test_a_known_paper_stands_for_its_row_of_the_last_tokens_and_must_have_one():
    from generator.tokens import Known, tokenise

    papers = tie_papers()
    before, _ = tokenise(papers)
    sources = dict(zip(before.slugs, before.sources, strict=True))
    mixed = [papers[0], *(Known(p.slug, sources[p.slug]) for p in papers[1:])]
    after, fresh = tokenise(mixed, before)
    whole = tokenise(papers, before)[0]
    assert fresh == [] and (after.slugs, after.sources) == (whole.slugs, whole.sources)
    for name in ("features", "surfaces", "spellings"):
        mine, theirs = getattr(after, name), getattr(whole, name)
        assert mine.vocab == theirs.vocab
        assert all(
            np.array_equal(getattr(mine, a), getattr(theirs, a)) for a in ("indptr", "indices", "counts")
        )
    with pytest.raises(ValueError):
        tokenise([*papers[1:], Known(papers[0].slug, "another text's source")], before)
    with pytest.raises(ValueError):
        tokenise([Known(papers[0].slug, sources[papers[0].slug])])  # no last tokens at all


def test_the_early_child_loads_numbas_code_only_for_a_large_catalogue_without_a_last_state(
    make_project, monkeypatch
):
    """related_job.computes_afresh guesses, before the build reads anything, whether every
    paper's neighbours will be computed with numba's code: enough paper files, and no state
    left by a last build. A build leaves one; the guess is then no."""
    from generator import related_job

    from .test_build import PAPERS

    project = make_project(PAPERS)
    files = len(list((project.content / "papers").glob("*.md")))
    monkeypatch.setattr(neighbours, "COMPILED_ROWS", files)
    assert related_job.computes_afresh(project.root)
    monkeypatch.setattr(neighbours, "COMPILED_ROWS", files + 1)
    assert not related_job.computes_afresh(project.root)  # too few papers
    monkeypatch.setattr(neighbours, "COMPILED_ROWS", files)
    build(project)
    assert (project.root / ".cache" / f"{related_job.STATE}.pickle").is_file()
    assert not related_job.computes_afresh(project.root)  # the last state is there
    assert not related_job.computes_afresh(project.root / "nowhere")
