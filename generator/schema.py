"""The paper front-matter schema, declared once: validation and the docs derive from it."""

from __future__ import annotations

import re
from dataclasses import dataclass

SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*\Z")
SLUG_MAX = 80
DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?\Z", re.ASCII)
FULL_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z", re.ASCII)
ARXIV_RE = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z.\-]*(\.[A-Z]{2})?/\d{7})(v\d+)?\Z", re.ASCII)
DOI_RE = re.compile(r"^10\.\d{4,9}/\S+\Z", re.ASCII)
# A preprint server, not a venue: what a journal names for a paper not yet published
# ("arXiv preprint arXiv:2106.09685", "CoRR", "bioRxiv"): a name that starts with one.
PREPRINT_RE = re.compile(
    r"^\s*(arxiv|corr|biorxiv|medrxiv|chemrxiv|techrxiv|ssrn|research square|computing research repository"
    r"|preprint)\b",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Field:
    """One front-matter field: its name, kind, whether it is required, and help text."""

    name: str
    kind: str  # "text", "list", "date", "partial-date", "arxiv", "doi", "url", "slug"
    required: bool
    help: str
    example: str


FIELDS: tuple[Field, ...] = (
    Field(
        "title",
        "text",
        True,
        "The paper's title, word for word.",
        '"LoRA: Low-Rank Adaptation of Large Language Models"',
    ),
    Field(
        "authors",
        "list",
        False,
        "Authors in publication order, one string each; an organisation in braces, as BibTeX"
        ' writes one (`"{Google DeepMind}"`); `[]` when unknown.',
        '["Edward J. Hu", "Yelong Shen"]',
    ),
    Field(
        "date",
        "partial-date",
        False,
        "Publication date, quoted: `YYYY-MM-DD`, `YYYY-MM` or `YYYY`.",
        '"2021-06"',
    ),
    Field(
        "added", "date", True, "The day the paper joined the catalogue, quoted `YYYY-MM-DD`.", '"2026-11-29"'
    ),
    Field(
        "arxiv",
        "arxiv",
        False,
        "arXiv identifier, quoted so YAML keeps it a string (never a number).",
        '"2106.09685"',
    ),
    Field(
        "doi",
        "doi",
        False,
        "DOI, bare (`10.…/…`) or as an https://doi.org/ link.",
        '"10.48550/arXiv.2106.09685"',
    ),
    Field(
        "url",
        "url",
        False,
        "The paper's landing page (absolute https URL).",
        '"https://openreview.net/forum?id=nZeVKeeFYf9"',
    ),
    Field(
        "pdf",
        "url",
        False,
        "Direct link to the PDF (absolute https URL).",
        '"https://arxiv.org/pdf/2106.09685"',
    ),
    Field(
        "code", "url", False, "Code repository (absolute https URL).", '"https://github.com/microsoft/LoRA"'
    ),
    Field(
        "journal",
        "text",
        False,
        "The journal it was published in, as citations name it (BibTeX `@article`).",
        '"Transactions on Machine Learning Research"',
    ),
    Field(
        "proceedings",
        "text",
        False,
        "The proceedings it was published in, as citations name them (BibTeX `@inproceedings`,"
        " its `booktitle`); a paper has this or `journal`, not both.",
        '"Advances in Neural Information Processing Systems 34"',
    ),
    Field(
        "topics",
        "list",
        True,
        "One or more topic slugs from `content/topics.yml`.",
        '["parameter-efficient-fine-tuning"]',
    ),
    Field(
        "tags",
        "list",
        False,
        "Free-form tag slugs (lowercase words joined by hyphens); may be empty.",
        '["lora", "low-rank"]',
    ),
    Field(
        "same_as",
        "slug",
        False,
        "Slug of another paper in the catalogue that is a version of this one (preprint and "
        "published paper): each page links to the other, and the duplicate check lets them be.",
        '"lora-low-rank-adaptation-of-large-language-models"',
    ),
    Field(
        "source",
        "text",
        False,
        "Where the entry was imported from (file and line), so the raw text can be recovered.",
        '"listings/daily-papers-mar-18.txt:11"',
    ),
)

FIELD_NAMES = tuple(f.name for f in FIELDS)
