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


def test_a_survey_lists_a_folder_as_it_was_opened_and_not_a_name_that_moved(tmp_path):
    kept = write_tree(tmp_path / "kept", {"a.html": "a", "sub/b.html": "bb"})
    moved = write_tree(tmp_path / "moved", {"c.html": "ccc"})
    with (
        Survey(kept, jobs=2) as listed,
        Survey(moved, jobs=2, nice=10) as gone,
        Survey(tmp_path / "no") as none,
    ):
        os.rename(moved, tmp_path / "elsewhere")
        write_tree(moved, {"other.html": "x"})  # the name now stands for another folder
        listing = listed.result()
        assert sorted(listing.files) == ["a.html", "sub/b.html"] and listing.sizes["sub/b.html"] == 2
        assert gone.result() is None and none.result() is None
        assert listed.result() is None  # taken already
    assert listed.fd == gone.fd == -1  # closed
    with Survey(kept, jobs=2) as renamed:
        os.rename(kept, tmp_path / "renamed")
        assert sorted(renamed.result(tmp_path / "renamed").files) == ["a.html", "sub/b.html"]


def test_a_survey_in_one_process_lists_the_same(tmp_path):
    tree = write_tree(tmp_path / "t", {"a.html": "a", "sub/b.html": "bb"})
    niceness = os.nice(0)
    with Survey(tree, jobs=1, nice=5) as here, Survey(tree, jobs=2, nice=5) as there:
        assert here.result() == there.result()
    assert os.nice(0) == niceness  # a survey made here, not in a child, leaves this process as it was
