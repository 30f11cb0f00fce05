"""Listing the built trees, here or in a child (trees.py)."""

from __future__ import annotations

import os

from generator.trees import Survey, list_tree

from .conftest import write_tree


def test_a_listing_has_every_file_and_folder_deepest_first_with_the_sizes_of_regular_files(tmp_path):
    root = write_tree(
        tmp_path / "site", {"index.html": "home", "papers/a/index.html": "abc", "papers/a.bib": ""}
    )
    (root / "papers" / "link.html").symlink_to(root / "index.html")
    (root / "empty").mkdir()
    listing = list_tree(root)
    assert sorted(listing.files) == ["index.html", "papers/a.bib", "papers/a/index.html", "papers/link.html"]
    assert sorted(listing.folders) == ["empty", "papers", "papers/a"]
    assert listing.folders.index("papers/a") < listing.folders.index("papers")  # deepest first
    assert listing.sizes == {
        "index.html": 4,
        "papers/a/index.html": 3,
        "papers/a.bib": 0,
        "papers/link.html": None,
    }
    assert list_tree(root, sizes=False).sizes is None
    assert list_tree(tmp_path / "missing") is None
    assert list_tree(root / "papers" / "link.html") is None  # never followed


def test_a_survey_lists_folders_as_they_were_opened_and_drops_a_name_that_moved(tmp_path):
    kept = write_tree(tmp_path / "kept", {"a.html": "a", "sub/b.html": "bb"})
    moved = write_tree(tmp_path / "moved", {"c.html": "ccc"})
    with Survey([kept, moved, tmp_path / "none"], jobs=2) as survey:
        os.rename(moved, tmp_path / "elsewhere")
        write_tree(moved, {"other.html": "x"})  # the name now stands for another folder
        listed, gone, missing = survey.result()
    assert sorted(listed.files) == ["a.html", "sub/b.html"] and listed.sizes["sub/b.html"] == 2
    assert gone is None and missing is None
    assert survey.fds == [-1, -1, -1]  # closed


def test_a_survey_in_one_process_lists_the_same(tmp_path):
    tree = write_tree(tmp_path / "t", {"a.html": "a", "sub/b.html": "bb"})
    with Survey([tree], jobs=1) as here, Survey([tree], jobs=2) as there:
        assert here.result() == there.result()
