"""Real headless Chromium (Debian's package) driven by Playwright, site served under a sub-path."""

from __future__ import annotations

import functools
import http.server
import os
import threading

import pytest
from playwright.sync_api import expect, sync_playwright

from generator.build import Project, build

from .conftest import REPO, paper_text, require_tool

pytestmark = pytest.mark.browser
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PREFIX = "/papercat/"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    """The committed catalogue, built and served at http://127.0.0.1:PORT/papercat/."""
    root = tmp_path_factory.mktemp("served")
    build(Project(REPO, REPO / "content", REPO / "templates", root / PREFIX.strip("/")))
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    executable = os.environ.get("CHROMIUM") or require_tool("chromium", "chromium-browser", "google-chrome")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.problems = problems
    yield page
    context.close()


def titles_in_results(page) -> list[str]:
    return page.locator("#search-results .paper-title a").all_text_contents()


def test_header_search_finds_instruction_tuning_papers_first(page, base_url):
    page.goto(base_url)
    page.fill("#q", "instruction tuning")
    page.press("#q", "Enter")
    page.wait_for_url("**/papercat/search/?q=instruction+tuning")
    page.wait_for_selector("#search-results li")
    titles = titles_in_results(page)
    assert len(titles) >= 10
    top = titles[:5]
    assert all("instruction" in t.lower() for t in top), top
    chips = [
        page.locator("#search-results > li").nth(i).locator(".chips.topics").text_content() for i in range(5)
    ]
    assert all("Instruction tuning" in c for c in chips), chips
    assert len(titles) < len(list((REPO / "content" / "papers").glob("*.md"))) // 2  # all words must match
    assert "papers match" in page.text_content("#search-status")
    # the result links lead to the paper pages, under the sub-path
    page.locator("#search-results .paper-title a").first.click()
    page.wait_for_load_state()
    assert page.url.startswith(base_url + "papers/")
    assert page.locator("h1").text_content() == top[0]
    assert page.problems == []


def test_words_the_stock_lunr_py_index_would_miss_are_found(page, base_url):
    page.goto(base_url + "search/?q=playlists")
    page.wait_for_selector("#search-results li")
    assert titles_in_results(page)[0] == "Representation, Exploration and Recommendation of Music Playlists"
    page.fill("#search-input", "key")
    expect(page.locator("#search-status")).to_contain_text("“key”")
    assert len(titles_in_results(page)) >= 1
    assert page.problems == []


def test_type_ahead_and_no_results_message(page, base_url):
    page.goto(base_url + "search/")
    page.type("#search-input", "hedgeh", delay=20)
    page.wait_for_selector("#search-results li")
    assert "Hedgehog" in titles_in_results(page)[0]
    assert "q=hedgeh" in page.url
    page.fill("#search-input", "zzzqqq +-~ ^ : *")
    expect(page.locator("#search-status")).to_contain_text("No papers match")
    assert titles_in_results(page) == []
    assert page.problems == []


def test_pages_render_and_navigate_under_the_sub_path(page, base_url):
    page.goto(base_url)
    assert page.locator(".paper-item").count() == len(list((REPO / "content" / "papers").glob("*.md")))
    page.click("nav >> text=Topics")
    assert page.url == base_url + "topics/"
    page.locator(".term-list a").first.click()
    assert page.locator(".paper-item").count() >= 1
    page.locator(".chips.tags a").first.click()
    assert "/papercat/tags/" in page.url
    assert page.problems == []


@pytest.fixture
def preview(make_project):
    """`serve` on a small project, in a thread, on a free port."""
    from generator.serve import serve

    project = make_project({"a-paper": paper_text("Before the Edit", tags='["x"]')})
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=serve, kwargs=dict(project=project, port=0, ready=ready, stop=stop), daemon=True
    )
    thread.start()
    assert ready.wait(30)
    yield project, f"http://127.0.0.1:{ready.port}/"
    stop.set()
    thread.join(10)


def test_preview_reloads_the_open_page_and_shows_build_errors(page, preview):
    project, url = preview
    page.goto(url + "papers/a-paper/")
    expect(page.locator("h1")).to_have_text("Before the Edit")
    paper = project.content / "papers" / "a-paper.md"
    page.wait_for_timeout(300)  # let the page's event stream connect
    paper.write_text(paper_text("After the Edit", tags='["x"]'))
    expect(page.locator("h1")).to_have_text("After the Edit", timeout=15000)
    paper.write_text(paper_text("Broken", tags='["x"]', topics='["nope"]'))
    overlay = page.locator("#papercat-build-error")
    expect(overlay).to_contain_text("content/papers/a-paper.md:5:10: unknown topic 'nope'", timeout=15000)
    expect(page.locator("h1")).to_have_text("After the Edit")  # the last good page stays
    paper.write_text(paper_text("Fixed Again", tags='["x"]'))
    expect(page.locator("h1")).to_have_text("Fixed Again", timeout=15000)
    expect(overlay).to_have_count(0)
    assert page.problems == []
