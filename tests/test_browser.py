"""Real headless Chromium (Debian's package) driven by Playwright, site served under a sub-path."""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import os
import random
import re
import threading
from urllib.parse import quote

import pytest
from playwright.sync_api import expect, sync_playwright

from generator.build import Project, build
from generator.render import PAGE_SIZE

from .conftest import HOSTILE_QUERIES, REPO, SEED, paper_text, require_tool, serving

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
    build(Project(SEED, SEED / "content", REPO / "templates", root / PREFIX.strip("/")))
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


def record_changes(page, element_id: str) -> None:
    """From now on, window.changes lists the element's text after each change (what a live
    region would say)."""
    page.evaluate(
        """id => {
            window.changes = [];
            const region = document.getElementById(id);
            new MutationObserver(() => window.changes.push(region.textContent))
                .observe(region, {childList: true, characterData: true, subtree: true});
        }""",
        element_id,
    )


def titles_in_results(page) -> list[str]:
    return page.locator("#search-results .paper-title a").all_text_contents()


def search_page(page, base_url, query=""):
    page.goto(base_url + "search/" + query)


def total(page) -> int:
    """How many papers the status line says match."""
    return int(re.match(r"(\d+) papers? match", page.locator("#search-status").text_content()).group(1))


def settled(page):
    """Wait until both index tiers have answered the query now in the search box."""
    query = page.locator("#search-input").input_value().strip()
    status = page.locator("#search-status")
    if query:
        expect(status).to_contain_text(f"“{query}”")
    expect(status).not_to_contain_text("Searching")


def test_no_search_bytes_until_someone_searches(page, base_url):
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(base_url)
    page.wait_for_load_state("networkidle")
    heavy = ("lunr", "meta.json", "abstracts.json", "search-worker", "search-core")
    assert not [u for u in fetched if any(h in u for h in heavy)], fetched
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    assert any("meta.json" in u for u in fetched)
    assert page.problems == []


def test_header_type_ahead_is_a_keyboard_combobox(page, base_url):
    page.goto(base_url)
    box = page.locator("#q")
    box.click()
    box.type("instruction tuning", delay=15)
    expect(page.locator("#q-listbox")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#q-listbox")).to_have_attribute("data-tier", "2")
    options = page.locator("#q-listbox [role=option]")
    expect(options.first).to_contain_text("Instruction")
    expect(box).to_have_attribute("aria-expanded", "true")
    titles = [options.nth(i).locator(".option-title").text_content() for i in range(min(5, options.count()))]
    assert all("instruction" in t.lower() for t in titles), titles
    expect(page.locator("#q-listbox mark").first).to_be_visible()
    box.press("ArrowDown")
    box.press("ArrowDown")
    second = options.nth(1)
    expect(second).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", second.get_attribute("id"))
    chosen = second.locator(".option-title").text_content()
    box.press("Enter")
    page.wait_for_url(base_url + "papers/**")
    assert page.locator("h1").text_content() == chosen
    assert page.problems == []


HOLD_SEARCH_WORKER = """
window.__held = null;  // a list while requests to the search worker are held back
window.__release = function () { var held = window.__held; window.__held = null; held.forEach(function (f) { f(); }); };
var RealWorker = window.Worker;
window.Worker = function (url) {
  var worker = new RealWorker(url);
  var post = worker.postMessage.bind(worker);
  worker.postMessage = function (m) {
    if (!window.__held) return post(m);
    window.__held.push(function () { post(m); });
    document.documentElement.setAttribute("data-held", String(window.__held.length));
  };
  return worker;
};
"""


HELD = re.compile(r"^[1-9]")  # one query or more waits to be sent (typing may pause for the debounce)


def type_ahead(page, base_url, hold=False):
    """The home page's search box and its listbox; with `hold`, the search worker's requests
    wait for window.__release() (HOLD_SEARCH_WORKER)."""
    if hold:
        page.add_init_script(HOLD_SEARCH_WORKER)
    page.goto(base_url)
    return page.locator("#q"), page.locator("#q-listbox")


def suggestions(box, listbox, query: str) -> list[str]:
    """The titles the box suggests for `query`, once the abstracts are searched too."""
    box.fill(query)
    expect(listbox).to_have_attribute("aria-busy", "false")
    expect(listbox).to_have_attribute("data-tier", "2")
    return listbox.locator(".option-title").all_text_contents()


def hold_then_type(page, box, listbox, text: str) -> None:
    """Type `text` while the search worker's requests are held: the answer is on its way."""
    page.evaluate("window.__held = []")
    box.type(text)
    expect(listbox).to_have_attribute("aria-busy", "true")
    expect(page.locator("html")).to_have_attribute("data-held", HELD)  # the query waits to be sent


def held_query(page, base_url, text: str):
    """The box and its listbox, `text` typed afresh with its answer held (the worker warmed up
    with another query first: both index tiers are in)."""
    box, listbox = type_ahead(page, base_url, hold=True)
    box.click()
    suggestions(box, listbox, "lora")
    box.fill("")
    hold_then_type(page, box, listbox, text)
    return box, listbox


def hold_abstracts(page) -> list:
    """Hold back the abstracts tier (its routes, to continue_()): the worker's first answer
    comes from titles, authors, topics and tags only."""
    held: list = []
    page.route("**/search/abstracts.json", lambda route: held.append(route))
    return held


def test_arrow_keys_pressed_before_the_answer_count_towards_it(page, base_url):
    box, listbox = type_ahead(page, base_url, hold=True)
    box.click()
    wanted = suggestions(box, listbox, "retrieval augmented")
    stale = suggestions(box, listbox, "retrieval")
    assert wanted[1] != stale[1] and wanted[2] != stale[2], (wanted, stale)
    hold_then_type(page, box, listbox, " augmented")
    box.press("ArrowDown")
    box.press("ArrowDown")
    expect(listbox.locator("[aria-selected=true]")).to_have_count(0)  # nothing chosen in the stale list
    page.evaluate("window.__release()")
    expect(listbox).to_have_attribute("aria-busy", "false")
    assert listbox.locator(".option-title").all_text_contents() == wanted
    selected = listbox.locator("[aria-selected=true]")
    expect(selected).to_have_count(1)
    expect(selected.locator(".option-title")).to_have_text(wanted[1])
    expect(box).to_have_attribute("aria-activedescendant", selected.get_attribute("id"))
    # Enter after them, before the answer: the paper they come to opens when it is there.
    suggestions(box, listbox, "retrieval")
    hold_then_type(page, box, listbox, " augmented")
    for _ in range(3):
        box.press("ArrowDown")
    box.press("Enter")
    page.wait_for_timeout(200)
    assert page.url == base_url  # still waiting for the answer
    page.evaluate("window.__release()")
    page.wait_for_url(base_url + "papers/**")
    assert page.locator("h1").text_content() == wanted[2]
    assert page.problems == []


def test_keys_pressed_before_the_first_answer_count(page, base_url):
    held_abstracts = hold_abstracts(page)
    box, listbox = type_ahead(page, base_url, hold=True)
    page.evaluate("window.__held = []")
    page.keyboard.press("/")
    expect(box).to_be_focused()
    page.keyboard.type("lora")
    expect(page.locator("html")).to_have_attribute("data-held", HELD)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(listbox).to_be_hidden()
    page.evaluate("window.__release()")
    expect(listbox).to_have_attribute("data-tier", "1")
    expect(listbox).to_have_attribute("aria-busy", "false")
    first_answer = listbox.locator(".option-title").all_text_contents()
    expect(listbox.locator("[role=option]").nth(1)).to_have_attribute("aria-selected", "true")
    # The worker answers again once the abstracts are in: the choice stays on that paper.
    assert len(held_abstracts) == 1
    held_abstracts[0].continue_()
    expect(listbox).to_have_attribute("data-tier", "2")
    second_answer = listbox.locator(".option-title").all_text_contents()
    assert second_answer != first_answer, first_answer  # the abstracts find more
    selected = listbox.locator("[aria-selected=true]")
    expect(selected).to_have_count(1)
    expect(selected.locator(".option-title")).to_have_text(first_answer[1])
    expect(box).to_have_attribute("aria-activedescendant", selected.get_attribute("id"))
    assert page.problems == []


def down_enter_then_answer(page, base_url, text: str) -> None:
    """Type `text` with its answer held, press ArrowDown and Enter, then let the answer come:
    with nothing to choose in it, the search page opens for `text`."""
    box, _ = held_query(page, base_url, text)
    box.press("ArrowDown")
    box.press("Enter")
    page.evaluate("window.__release()")
    page.wait_for_url(f"**/search/?q={text}")


def test_enter_after_arrow_keys_with_nothing_to_choose_searches(page, base_url):
    down_enter_then_answer(page, base_url, "xqzvw")
    # Back on the home page: a click on the "No papers match." line keeps the focus in the box.
    box, listbox = type_ahead(page, base_url)
    box.click()
    box.fill("xqzvw")
    expect(listbox.locator(".option.empty")).to_have_text("No papers match.")
    expect(listbox.locator(".option.empty")).to_be_visible()  # shown now, not only in the page
    listbox.locator(".option.empty").click(force=True)  # a real click, on an aria-disabled option
    expect(box).to_be_focused()
    page.go_back()
    page.wait_for_url("**/search/?q=xqzvw")
    settled(page)
    expect(page.locator("#search-status")).to_contain_text("No papers match")
    assert page.problems == []


def test_cursor_keys_drop_arrow_keys_pressed_before_the_answer(page, base_url):
    box, listbox = held_query(page, base_url, "lora")
    box.press("ArrowDown")
    box.press("Home")  # back to editing: the ArrowDown is dropped, Enter searches at once
    box.press("Enter")
    page.wait_for_url("**/search/?q=lora")
    assert page.problems == []


def test_enter_waiting_for_an_answer_with_no_words_searches(page, base_url):
    down_enter_then_answer(page, base_url, "the")
    expect(page.locator("#search-status")).to_contain_text("has no words to search for")
    assert page.problems == []


def test_suggestions_with_some_of_the_words_say_so_as_the_search_page_does(page, base_url):
    search_page(page, base_url, "?q=title%3Alora")
    settled(page)
    status = page.locator("#search-status").text_content()
    some = int(
        re.search(r"No paper has all of “title:lora”; (\d+) papers have some of the words", status).group(1)
    )
    box, listbox = type_ahead(page, base_url)
    box.click()
    titles = suggestions(box, listbox, "title:lora")
    assert 0 < len(titles) <= min(some, 8)
    spoken = page.locator(".search-form [role=status]")
    expect(spoken).to_contain_text("No paper has all the words")
    if some > 8:
        expect(listbox.locator(".option.all")).to_have_text(
            f"All {some} papers with some of the words on the search page"
        )
    assert page.problems == []


def test_words_in_another_script_are_said_to_be_unsearchable(page, base_url):
    search_page(page, base_url, "?q=%E6%97%A5%E6%9C%AC%E8%AA%9E")
    expect(page.locator("#search-status")).to_contain_text(
        "“日本語” has no words to search for: the search reads words in Latin letters and digits"
    )
    box, listbox = type_ahead(page, base_url)
    box.click()
    box.fill("日本語")
    expect(listbox.locator(".option.empty")).to_have_text(
        "No words to search for: the search reads Latin letters and digits."
    )
    box.fill("the")  # stop words alone: keep typing, no list
    expect(listbox).to_be_hidden()
    search_page(
        page, base_url, "?q=%E6%97%A5%E6%9C%AC%E8%AA%9E+lora"
    )  # with a Latin word: that one is searched
    expect(page.locator("#search-status")).to_contain_text(
        "Words in other scripts than Latin are not searched."
    )
    assert page.problems == []


def test_the_search_page_s_title_names_the_query(page, base_url):
    search_page(page, base_url)
    base = page.title()
    box = page.locator("#search-input")
    box.fill("lora")
    box.press("Enter")
    expect(page).to_have_title(f"“lora” · {base}")
    box.fill("")
    box.press("Enter")
    expect(page).to_have_title(base)
    page.go_back()
    expect(page).to_have_title(f"“lora” · {base}")
    page.locator("#facet-tag").select_option("lora")  # filters alone name the search too
    expect(page).to_have_title(f"“lora” tagged lora · {base}")
    box.fill("")
    box.press("Enter")
    expect(page).to_have_title(f"tagged lora · {base}")
    assert page.problems == []


def test_year_filters_show_where_there_are_years_or_one_is_set(page, dateless_url, hostile_url):
    """A catalogue without dates has no year filters, unless the address sets one: then it
    shows, to be cleared. One with dates always has them."""
    year_labels = page.locator("label", has=page.locator("#facet-from, #facet-to"))
    search_page(page, dateless_url)
    expect(page.locator("#search-status")).to_have_text(
        "Type a word or two, or choose a topic or tag to browse."
    )
    expect(year_labels.first).to_be_hidden()
    expect(year_labels.last).to_be_hidden()
    search_page(page, dateless_url, "?q=lora&year=2023-2024")
    expect(page.locator("#search-status")).to_contain_text("clear a filter")
    expect(year_labels.first).to_be_visible()
    page.locator("#facet-from").select_option("")
    page.locator("#facet-to").select_option("")
    settled(page)
    assert total(page) == 3
    search_page(page, hostile_url)
    expect(page.locator("#search-status")).to_have_text(
        "Type a word or two, or choose a topic, tag or years to browse."
    )
    expect(year_labels.first).to_be_visible()
    expect(page.locator("#facet-from option")).to_have_count(2)  # any year, 2024
    assert page.problems == []


def test_without_scripts_no_search_form_is_shown_only_the_way_to_browse(browser, base_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url)
    expect(page.locator(".search-form")).to_be_hidden()
    expect(page.locator("#theme-toggle")).to_be_hidden()
    page.goto(base_url + "search/?q=lora")
    expect(page.locator("#search-page-form")).to_be_hidden()
    expect(page.locator(".notice")).to_be_visible()
    expect(page.locator(".notice")).to_contain_text("Search needs JavaScript")
    context.close()
    context = browser.new_context()
    page = context.new_page()
    page.goto(base_url + "search/")
    expect(page.locator("#search-page-form")).to_be_visible()
    expect(page.locator("#search-page-form")).to_have_attribute("action", "../search/")
    context.close()


def test_a_search_worker_that_cannot_start_says_so(page, base_url):
    page.route("**/static/search-worker.js", lambda route: route.fulfill(status=404, body="gone"))
    box, listbox = type_ahead(page, base_url)
    box.click()
    box.fill("lora")
    expect(listbox.locator(".option.empty")).to_have_text("Search is unavailable right now.")
    expect(listbox).to_have_attribute("aria-busy", "false")
    box.press("ArrowDown")
    box.press("Enter")
    page.wait_for_url("**/search/?q=lora")


def test_coming_back_to_the_box_at_once_keeps_its_suggestions(page, base_url):
    page.clock.install()
    box, listbox = type_ahead(page, base_url)
    page.clock.pause_at(dt.datetime(2030, 1, 1))
    box.click()
    box.fill("lora")
    page.clock.run_for(100)  # past the typing's pause (60 ms)
    expect(listbox).to_have_attribute("aria-busy", "false")
    box.press("Tab")  # away: the list closes 150 ms later...
    box.focus()  # ...unless the box has the focus again
    box.type("x")
    page.clock.run_for(100)
    page.clock.run_for(100)
    expect(listbox).to_be_visible()
    expect(listbox).to_have_attribute("aria-busy", "false")
    expect(box).to_have_attribute("aria-expanded", "true")
    assert page.problems == []


def test_escape_closes_the_list_then_clears_the_box(page, base_url):
    box, listbox = type_ahead(page, base_url, hold=True)
    box.click()
    suggestions(box, listbox, "lora")
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_value("lora")
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#q-listbox + [role=status]")).to_have_text("")
    box.press("Escape")
    expect(box).to_have_value("")
    # Escape while an answer is on its way: it does not open the list when it comes.
    suggestions(box, listbox, "lora")
    hold_then_type(page, box, listbox, " adapters")
    box.press("Escape")
    expect(listbox).to_be_hidden()
    page.evaluate("window.__release()")
    page.wait_for_timeout(300)
    expect(listbox).to_be_hidden()
    expect(listbox).to_have_attribute("aria-busy", "false")
    expect(box).to_have_value("lora adapters")
    assert page.problems == []


def test_the_last_option_opens_all_the_matches(page, base_url):
    search_page(page, base_url, "?q=instruction+tuning")
    settled(page)
    matches = total(page)
    box, listbox = type_ahead(page, base_url)
    box.click()
    titles = suggestions(box, listbox, "instruction tuning")
    assert matches > len(titles) == 8, (matches, titles)
    status = page.locator("#q-listbox + [role=status]")
    expect(status).to_contain_text(f"{matches} papers match; the first 8 are listed")
    options = listbox.locator("[role=option]")
    expect(options).to_have_count(9)
    expect(options.last).to_have_text(f"All {matches} matches on the search page")
    box.press("ArrowUp")  # from the box, up goes round to the last option
    expect(options.last).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    page.wait_for_url("**/search/?q=instruction+tuning")
    settled(page)
    assert total(page) == matches
    # A query with fewer matches than the list holds has no such option.
    box, listbox = type_ahead(page, base_url)
    few = suggestions(box, listbox, "tulu")
    assert 0 < len(few) < 8, few
    expect(listbox.locator(".option.all")).to_have_count(0)
    expect(page.locator("#q-listbox + [role=status]")).to_contain_text(f"{len(few)} paper")
    assert page.problems == []


def test_typing_drops_the_choice(page, base_url):
    page.goto(base_url)
    box, listbox = page.locator("#q"), page.locator("#q-listbox")
    box.click()
    box.fill("instruction")
    expect(listbox).to_have_attribute("aria-busy", "false")
    box.press("ArrowDown")
    expect(listbox.locator("[aria-selected=true]")).to_have_count(1)
    box.press("Home")  # back to editing: no choice
    expect(listbox.locator("[aria-selected=true]")).to_have_count(0)
    assert box.get_attribute("aria-activedescendant") is None
    box.press("End")
    box.press("ArrowDown")
    expect(listbox.locator("[aria-selected=true]")).to_have_count(1)
    box.type(" tuning")
    expect(listbox).to_have_attribute("aria-busy", "false")
    expect(listbox.locator("[aria-selected=true]")).to_have_count(0)
    assert box.get_attribute("aria-activedescendant") is None
    box.press("Enter")
    page.wait_for_url("**/search/?q=instruction+tuning")
    assert page.problems == []


def test_enter_without_a_choice_opens_the_search_page(page, base_url):
    page.goto(base_url + "topics/")
    page.fill("#q", "instruction tuning")
    page.press("#q", "Enter")
    page.wait_for_url("**/papercat/search/?q=instruction+tuning")
    expect(page.locator("#search-results .paper-item").first).to_be_visible()
    cards = page.locator("#search-results > li")
    chips = [cards.nth(i).locator(".chips.topics").text_content() for i in range(5)]
    assert all("Instruction tuning" in c for c in chips), chips
    expect(page.locator("#search-status")).to_contain_text("papers match “instruction tuning”")
    assert page.locator("#search-input").input_value() == "instruction tuning"
    page.locator("#search-results .paper-title a").first.click()
    page.wait_for_url(base_url + "papers/**")
    assert page.problems == []


def test_typos_and_stock_lunr_py_misses_are_found(page, base_url):
    search_page(page, base_url, "?q=instrction+tunning")
    expect(page.locator("#search-status")).to_contain_text("allowing for typos")
    assert "Instruction" in titles_in_results(page)[0]
    page.fill("#search-input", "playlists")
    expect(page.locator("#search-results .paper-title a").first).to_have_text(
        "Representation, Exploration and Recommendation of Music Playlists"
    )
    page.fill("#search-input", "key")
    expect(page.locator("#search-status")).to_contain_text("“key”")
    assert len(titles_in_results(page)) >= 1
    page.fill("#search-input", "Tülu")
    expect(page.locator("#search-results .paper-title a").first).to_contain_text("How Far Can Camels Go")
    expect(page.locator("#search-results .summary mark").first).to_have_text("Tülu")
    assert page.problems == []


def test_facets_filter_count_and_live_in_the_url(page, base_url):
    search_page(page, base_url, "?q=tuning")
    settled(page)
    before = total(page)
    topic = page.locator("#facet-topic")
    expect(topic.locator("option[value=parameter-efficient-fine-tuning]")).to_contain_text("(")
    topic.select_option("parameter-efficient-fine-tuning")
    page.wait_for_url("**/search/?q=tuning&topic=parameter-efficient-fine-tuning")
    expect(page.locator("#search-status")).to_contain_text("in Parameter-efficient fine-tuning")
    settled(page)
    after = page.locator("#search-results .paper-item")
    assert 0 < after.count() == total(page) < before
    for i in range(after.count()):
        assert "Parameter-efficient fine-tuning" in after.nth(i).locator(".chips.topics").text_content()
    label = topic.locator("option[value=parameter-efficient-fine-tuning]").text_content()
    assert label.endswith(f"({after.count()})")
    page.fill("#search-input", "")
    expect(page.locator("#search-status")).to_contain_text("papers match these filters")
    assert page.problems == []


def test_deep_links_reload_and_back_forward(page, base_url):
    search_page(page, base_url, "?q=lora&topic=parameter-efficient-fine-tuning")
    settled(page)
    assert page.locator("#search-input").input_value() == "lora"
    assert page.locator("#facet-topic").input_value() == "parameter-efficient-fine-tuning"
    shared = titles_in_results(page)
    page.reload()
    settled(page)
    assert titles_in_results(page) == shared
    page.locator("#facet-topic").select_option("")
    page.fill("#search-input", "hedgehog")
    page.locator("#search-input").press("Enter")
    page.wait_for_url("**q=hedgehog**")
    expect(page.locator("#search-results .paper-title a").first).to_contain_text("Hedgehog")
    page.go_back()
    page.wait_for_url("**q=lora**")
    settled(page)
    expect(page.locator("#search-input")).to_have_value("lora")
    expect(page.locator("#search-results .paper-title a").first).to_have_text(shared[0])
    expect(page.locator("#facet-topic")).to_have_value("")  # the step that cleared the topic
    page.go_back()
    expect(page.locator("#facet-topic")).to_have_value("parameter-efficient-fine-tuning")
    expect(page.locator("#search-results .paper-title a").first).to_have_text(shared[0])
    page.go_forward()
    page.go_forward()
    expect(page.locator("#search-input")).to_have_value("hedgehog")
    assert page.problems == []


def test_typing_slowly_keeps_the_search_before_one_back_away(page, base_url):
    """While typing, the words go into a draft history entry of their own: the committed
    search before it must stay one Back away, however long the typing takes."""
    search_page(page, base_url, "?q=lora")
    settled(page)
    page.fill("#search-input", "hedgehog")
    page.wait_for_timeout(400)  # past the typing's history update (80 ms), before its commit (900 ms)
    page.locator("#search-input").press("Enter")
    page.wait_for_url("**q=hedgehog**")
    page.fill("#search-input", "adapter")
    page.wait_for_timeout(1500)  # a pause commits the search
    page.go_back()
    page.wait_for_url("**q=hedgehog**")
    expect(page.locator("#search-input")).to_have_value("hedgehog")
    page.go_back()
    page.wait_for_url("**q=lora**")
    expect(page.locator("#search-input")).to_have_value("lora")
    page.go_forward()
    page.go_forward()
    page.wait_for_url("**q=adapter**")
    assert page.problems == []


def test_keyboard_moves_through_results_and_escape_clears(page, base_url):
    search_page(page, base_url, "?q=instruction")
    settled(page)
    links = page.locator("#search-results .paper-title a")
    page.focus("#search-input")
    for key in ("Home", "ArrowRight", "End", "ArrowLeft"):  # cursor keys edit the text
        page.keyboard.press(key)
    expect(page.locator("#search-input")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(links.nth(0)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(links.nth(1)).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect(page.locator("#search-input")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#search-input")).to_have_value("")
    expect(page.locator("#search-results .paper-item")).to_have_count(0)
    page.keyboard.press("ArrowDown")
    page.fill("#search-input", "instruction")
    settled(page)
    page.keyboard.press("ArrowDown")
    expect(links.nth(0)).to_be_focused()
    name = links.nth(0).text_content()
    page.keyboard.press("Enter")
    page.wait_for_url(base_url + "papers/**")
    assert page.locator("h1").text_content() == name
    assert page.problems == []


def test_a_result_with_the_focus_keeps_it_when_the_abstracts_answer_comes(page, base_url):
    held_abstracts = hold_abstracts(page)
    search_page(page, base_url, "?q=lora")
    status = page.locator("#search-status")
    expect(status).to_contain_text("Searching abstracts too")
    links = page.locator("#search-results .paper-title a")
    first_answer = links.all_text_contents()
    page.focus("#search-input")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(links.nth(1)).to_be_focused()
    assert len(held_abstracts) == 1
    held_abstracts[0].continue_()
    settled(page)
    second_answer = links.all_text_contents()
    assert second_answer.index(first_answer[1]) != 1, (first_answer, second_answer)  # it moved
    focused = page.locator("#search-results .paper-title a:focus")
    expect(focused).to_have_text(first_answer[1])
    assert page.problems == []


HOSTILE = [*HOSTILE_QUERIES, "\\\\", "%", "&amp;"]


def test_hostile_queries_give_results_or_a_message_and_no_console_noise(page, base_url):
    for q in HOSTILE:
        search_page(page, base_url, "?q=" + quote(q))
        expect(page.locator("#search-status")).not_to_have_text("")
        expect(page.locator("#search-status")).not_to_contain_text("Searching")
        status = page.locator("#search-status").text_content()
        assert any(
            s in status
            for s in ("match", "No papers", "Type a word", "no words to search for", "some of the words")
        ), (
            q,
            status,
        )
    for q in HOSTILE:
        page.fill("#search-input", q)
    expect(page.locator("#search-status")).not_to_contain_text("Searching")
    assert page.problems == []


def test_pages_render_and_navigate_under_the_sub_path(page, base_url):
    page.goto(base_url)
    papers = len(list((SEED / "content" / "papers").glob("*.md")))
    assert page.locator(".paper-item").count() == min(papers, PAGE_SIZE)
    page.click("nav >> text=Topics")
    expect(page).to_have_url(base_url + "topics/")
    page.locator(".term-list a").first.click()
    expect(page).to_have_url(re.compile(re.escape(base_url) + r"topics/[a-z0-9-]+/$"))
    expect(page.locator(".paper-item").first).to_be_visible()  # count() alone would not wait for the page
    page.locator(".chips.tags a").first.click()
    expect(page).to_have_url(re.compile(re.escape(base_url) + r"tags/[a-z0-9-]+/$"))
    assert page.problems == []


@pytest.fixture
def preview(make_project):
    """`serve` on a small project, in a thread, on a free port."""
    project = make_project({"a-paper": paper_text("Before the Edit", tags='["x"]')})
    with serving(project) as url:
        yield project, url + "/"


def test_preview_reloads_the_open_page_and_shows_build_errors(page, preview):
    project, url = preview
    page.goto(url + "papers/a-paper/")
    expect(page.locator("h1")).to_have_text("Before the Edit")
    paper = project.content / "papers" / "a-paper.md"
    live = page.locator("html[data-papercat-live]")  # the page's event stream is connected
    expect(live).to_have_count(1, timeout=15000)
    paper.write_text(paper_text("After the Edit", tags='["x"]'))
    expect(page.locator("h1")).to_have_text("After the Edit", timeout=15000)
    expect(live).to_have_count(1, timeout=15000)  # the reloaded page's stream, this time
    paper.write_text(paper_text("Broken", tags='["x"]', topics='["nope"]'))
    overlay = page.locator("#papercat-build-error")
    expect(overlay).to_contain_text("content/papers/a-paper.md:5:10: unknown topic 'nope'", timeout=15000)
    expect(page.locator("h1")).to_have_text("After the Edit")  # the last good page stays
    paper.write_text(paper_text("Fixed Again", tags='["x"]'))
    expect(page.locator("h1")).to_have_text("Fixed Again", timeout=15000)
    expect(overlay).to_have_count(0)
    assert page.problems == []


EVIL = '<img src=x onerror=alert(1)>" </script><script>alert(2)</script>'


def hostile_paper(title: str, authors: list[str], source: str, body: str, added: str) -> str:
    """A paper file with arbitrary strings, quoted as JSON (valid YAML)."""
    return (
        f'---\ntitle: {json.dumps(title)}\nauthors: {json.dumps(authors)}\nadded: "{added}"\n'
        f'date: "2024"\ntopics: ["fine-tuning"]\ntags: ["adapters"]\nsource: {json.dumps(source)}\n---\n\n{body}\n'
    )


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory):
    """A catalogue whose every free-text field is an injection attempt, built and served."""
    root = tmp_path_factory.mktemp("hostile")
    papers = {
        "evil-one": hostile_paper(
            "Adapters " + EVIL,
            [EVIL, 'Ada "Quote" Lovelace'],
            EVIL,
            "Adapters &lt;script&gt;alert(3)&lt;/script&gt; and `<img src=x onerror=alert(4)>` "
            "with [a link](https://example.org/?q=%3Cscript%3E).",
            "2024-05-01",
        ),
        "plain": hostile_paper("Plain Adapters", [], "", "A plain abstract about adapters.", "2024-05-02"),
    }
    yield from served_catalogue(root, papers)


def served_catalogue(root, papers: dict[str, str]):
    """Yield the URL of a catalogue of `papers` (slug -> file text), built and served under /papercat/."""
    from .conftest import SITE_YML, TOPICS_YML, write_tree

    write_tree(
        root,
        {
            "content/site.yml": SITE_YML,
            "content/topics.yml": TOPICS_YML,
            **{f"content/papers/{k}.md": v for k, v in papers.items()},
        },
    )
    served = root / "served"
    build(Project(root, root / "content", REPO / "templates", served / "papercat"))
    handler = functools.partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/papercat/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def dateless_url(tmp_path_factory):
    """A catalogue of papers with no publication dates, built and served."""
    yield from served_catalogue(
        tmp_path_factory.mktemp("dateless"),
        {
            f"lora-{n}": paper_text(
                f"LoRA Study Number {n}", tags='["lora"]', body=f"LoRA adapters, study {n}."
            )
            for n in ("one", "two", "three")
        },
    )


def test_hostile_catalogue_never_executes_script(browser, hostile_url):
    context = browser.new_context()
    context.add_init_script(
        "window.alert = window.confirm = window.prompt = function () { console.error('injected script ran'); };"
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (problems.append("dialog " + d.message), d.dismiss()))
    for path in (
        "",
        "papers/evil-one/",
        "papers/plain/",
        "topics/fine-tuning/",
        "tags/adapters/",
        "topics/",
        "tags/",
    ):
        page.goto(hostile_url + path)
        page.wait_for_load_state("networkidle")
    page.goto(hostile_url + "papers/evil-one/")
    heading = page.locator("h1").text_content()
    assert "<img src=x onerror=alert(1)>" in heading and "<script>alert(2)</script>" in heading
    assert page.locator("main img, main script").count() == 0
    page.goto(hostile_url + "search/?q=adapters")
    expect(page.locator("#search-status")).to_contain_text("2 papers match")
    titles = page.locator("#search-results .paper-title a").all_text_contents()
    assert any("<img src=x onerror=alert(1)>" in t for t in titles), titles
    assert page.locator("#search-results img, #search-results script").count() == 0
    page.fill("#search-input", "onerror alert script")
    expect(page.locator("#search-status")).to_contain_text("“onerror alert script”")
    page.goto(hostile_url)
    page.fill("#q", "adapters")
    expect(page.locator("#q-listbox [role=option]").first).to_be_visible()
    assert page.locator("#q-listbox img, #q-listbox script").count() == 0
    page.wait_for_timeout(300)
    assert problems == []
    context.close()


def fuzz_queries(count: int, seed: int = 11) -> list[str]:
    """Seeded random queries: lunr operators, unicode, bidi marks, emoji, 1,000-char strings."""
    rng = random.Random(seed)
    alphabet = (
        list("abcdefghijklmnopqrstuvwxyz  ")
        + list(":+-~^*\\\"'()[]{}<>/?.,;!@#$%&=_|`")
        + ["é", "ü", "ß", "中", "文", "日", "🙂", "\u202e", "\u200b", "\t", "\n", "0", "7"]
    )
    words = [
        "lora",
        "tuning",
        "instruction",
        "title:",
        "abstract:",
        "+adapters",
        "-rag",
        "foo~2",
        "bar^10",
        "*",
        "~1",
        "http://x.org",
        "10:30",
        "C++",
        "C#",
        "instrction",
        "Tülu",
    ]
    out = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.4:
            out.append(" ".join(rng.choice(words) for _ in range(rng.randint(1, 4))))
        elif roll < 0.97:
            out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))))
        else:
            out.append("".join(rng.choice(alphabet) for _ in range(1000)))
    return out


def test_ten_thousand_fuzzed_queries_through_the_worker(page, base_url):
    """Every query is answered, none with an error, and none hangs the worker (10 s watchdog)."""
    page.goto(base_url + "search/")
    report = page.evaluate(
        """async (queries) => {
            const worker = new Worker(document.documentElement.dataset.root + "static/search-worker.js");
            const errors = [];
            let slowest = 0, answered = 0;
            for (let i = 0; i < queries.length; i++) {
                const started = performance.now();
                const reply = await new Promise((resolve) => {
                    const timer = setTimeout(() => resolve({ timeout: true }), 10000);
                    worker.onmessage = (event) => {
                        if (event.data.id === i) { clearTimeout(timer); resolve(event.data); }
                    };
                    worker.postMessage({ id: i, request: { q: queries[i], limit: 10 } });
                });
                slowest = Math.max(slowest, performance.now() - started);
                if (reply.timeout || reply.error || !reply.response) errors.push([queries[i], reply.error || "timeout"]);
                else answered += 1;
            }
            worker.terminate();
            return { errors: errors.slice(0, 5), answered, slowest };
        }""",
        fuzz_queries(10_000),
    )
    assert report["errors"] == []
    assert report["answered"] == 10_000
    assert page.problems == []


PAGE_TYPES = {
    "home": "",
    "paper": "papers/task-specific-skill-localization-in-fine-tuned-language-models/",
    "topic": "topics/instruction-tuning/",
    "topics": "topics/",
    "tag": "tags/lora/",
    "tags": "tags/",
    "search": "search/?q=instruction+tuning",
    "stats": "stats/",
    "404": "404.html",
}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_page_type_passes_axe_in_both_themes(browser, base_url, theme):
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(color_scheme=theme)
    page = context.new_page()
    axe = Axe()
    failures = {}
    for name, path in PAGE_TYPES.items():
        page.goto(base_url + path)
        if name == "search":
            expect(page.locator("#search-results .paper-item").first).to_be_visible()
        assert page.locator("html").get_attribute("data-theme") == theme
        results = axe.run(page)
        if results.violations_count:
            failures[name] = [
                (v["id"], [n["target"] for n in v["nodes"]][:3]) for v in results.response["violations"]
            ]
    context.close()
    assert failures == {}


WIDTHS = (320, 360, 390, 600, 700, 832, 840, 900, 1000, 1024, 1280)


def test_no_page_scrolls_sideways_at_any_width(browser, base_url):
    """Every page type fits from a 320 px phone (WCAG 1.4.10) to a desktop, with the header's
    search button and theme toggle inside the window: the header wraps where it must."""
    context = browser.new_context()
    page = context.new_page()
    overflows = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 700})
        for name, path in PAGE_TYPES.items():
            page.goto(base_url + path)
            found = page.evaluate(
                """() => {
                  const out = [], width = document.documentElement.clientWidth;
                  if (document.documentElement.scrollWidth > width) out.push("page " + document.documentElement.scrollWidth);
                  for (const sel of ["#theme-toggle", ".site-header button[type=submit]", ".site-header input"]) {
                    const el = document.querySelector(sel);
                    if (!el || el.hidden) continue;
                    const box = el.getBoundingClientRect();
                    if (box.right > width || box.left < 0) out.push(sel + " " + Math.round(box.right));
                  }
                  return out;
                }"""
            )
            if found:
                overflows.append((width, name, found))
    context.close()
    assert overflows == []


def test_theme_toggle_persists_across_pages(browser, base_url):
    context = browser.new_context(color_scheme="light")
    page = context.new_page()
    page.goto(base_url)
    toggle = page.locator("#theme-toggle")
    expect(toggle).to_have_text("Dark theme")
    assert page.locator("html").get_attribute("data-theme") == "light"
    background = page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor")
    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor") != background
    page.goto(base_url + "topics/")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.locator("#theme-toggle")).to_have_attribute("aria-pressed", "true")
    context.close()


def test_the_theme_follows_the_system_until_the_reader_picks_one(browser, base_url):
    context = browser.new_context(color_scheme="light")
    page = context.new_page()
    page.goto(base_url)
    toggle = page.locator("#theme-toggle")
    unpressed = toggle.evaluate("b => getComputedStyle(b).backgroundColor")
    page.emulate_media(color_scheme="dark")  # the system switches while the page is open
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert (
        toggle.evaluate("b => getComputedStyle(b).backgroundColor") != unpressed
    )  # seen, not only announced
    toggle.click()  # the reader picks light: the system no longer decides
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    page.emulate_media(color_scheme="light")
    page.emulate_media(color_scheme="dark")
    page.wait_for_timeout(100)
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    context.close()


def test_csp_holds_and_nothing_is_fetched_from_elsewhere(browser, base_url):
    context = browser.new_context()
    page = context.new_page()
    foreign, violations = [], []
    page.on(
        "request",
        lambda r: foreign.append(r.url) if not r.url.startswith(base_url.split("/papercat/")[0]) else None,
    )
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    for path in PAGE_TYPES.values():
        page.goto(base_url + path)
        page.wait_for_load_state("networkidle")
    page.goto(base_url + "search/")
    page.fill("#search-input", "lora")
    expect(page.locator("#search-results .paper-item").first).to_be_visible()
    assert foreign == [] and violations == []
    csp = page.locator('meta[http-equiv="Content-Security-Policy"]').get_attribute("content")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    context.close()


def test_copy_bibtex_puts_the_entry_on_the_clipboard(browser, base_url):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(base_url + "papers/task-specific-skill-localization-in-fine-tuned-language-models/")
    button = page.locator("button.copy")
    expect(button).to_be_visible()
    entry = page.locator("#bibtex").text_content()
    assert entry.startswith("@misc{") and "Skill Localization" in entry
    spoken = page.locator("#copy-status[role=status]")
    expect(spoken).to_have_text("")
    button.click()
    expect(button).to_have_text("Copied")
    expect(spoken).to_have_text("BibTeX copied to the clipboard.")  # a changed button label is not announced
    record_changes(page, "copy-status")
    button.click()  # again: the live region must change again, or nothing is said
    page.wait_for_function("() => window.changes.length > 0")
    assert page.evaluate("() => window.changes")[-1].strip() == "BibTeX copied to the clipboard."
    assert page.evaluate("() => navigator.clipboard.readText()") == entry
    download = page.locator("a[download]")
    href = download.get_attribute("href")
    assert href.endswith("task-specific-skill-localization-in-fine-tuned-language-models.bib")
    response = page.request.get(
        base_url + "papers/task-specific-skill-localization-in-fine-tuned-language-models.bib"
    )
    assert response.ok and response.text() == entry
    context.close()


def test_related_papers_link_to_each_other_with_reasons(page, base_url):
    page.goto(base_url + "papers/task-specific-skill-localization-in-fine-tuned-language-models/")
    items = page.locator(".related-list li")
    expect(items).to_have_count(5)
    for i in range(5):
        assert items.nth(i).locator(".reason").text_content().startswith("shared: ")
    first = items.first.locator("a")
    title = first.text_content()
    first.click()
    page.wait_for_url(base_url + "papers/**")
    assert page.locator("h1").text_content() == title
    assert page.problems == []


def test_clearing_the_query_frees_every_filter(page, base_url):
    search_page(page, base_url, "?q=retrieval")
    settled(page)
    disabled = page.locator("#facet-topic option[disabled]")
    assert disabled.count() > 0  # topics no "retrieval" paper has
    page.focus("#search-input")
    page.keyboard.press("Escape")
    expect(disabled).to_have_count(0)
    expect(page.locator("#facet-topic option[value=scaling-laws]")).to_have_text(
        "Scaling laws and predictability"
    )
    page.locator("#facet-topic").select_option("scaling-laws")
    expect(page.locator("#search-status")).to_contain_text("papers match these filters")
    assert page.problems == []


def test_the_search_page_speaks_its_count_once_the_typing_settles(page, base_url):
    """The visible status follows every keystroke; the live region a screen reader hears
    changes once, when the results have settled, not once per letter."""
    search_page(page, base_url)
    record_changes(page, "search-announce")
    page.locator("#search-input").press_sequentially("lora adapters", delay=60)
    settled(page)
    expect(page.locator("#search-announce")).to_have_text(page.locator("#search-status").text_content())
    page.wait_for_timeout(800)
    spoken = page.evaluate("() => window.changes")
    assert 1 <= len(spoken) <= 3 and spoken[-1] == page.locator("#search-status").text_content(), spoken
    assert page.locator("#search-status").get_attribute("role") is None  # not read twice
    assert page.problems == []


def arrow_through_topics(page, pause: int):
    """Press ArrowDown three times on the topic filter, `pause` ms apart, and wait past the
    choice's commit to the history; returns the filter."""
    topic = page.locator("#facet-topic")
    topic.focus()
    for _ in range(3):
        topic.press("ArrowDown")
        page.wait_for_timeout(pause)
    chosen = topic.input_value()
    assert chosen
    page.wait_for_url(f"**topic={chosen}")
    page.wait_for_timeout(1200)  # past the commit (900 ms)
    return topic


def test_arrowing_through_a_filter_leaves_one_history_entry(page, base_url):
    search_page(page, base_url, "?q=tuning")
    settled(page)
    before = page.evaluate("() => history.length")
    topic = arrow_through_topics(page, pause=150)
    assert page.evaluate("() => history.length") == before + 1
    page.go_back()
    page.wait_for_url("**/search/?q=tuning")
    expect(topic).to_have_value("")
    assert page.problems == []


@pytest.mark.parametrize("forced", ["none", "active"])
def test_the_chosen_suggestion_and_the_pressed_toggle_show_in_forced_colours(browser, base_url, forced):
    context = browser.new_context(color_scheme="light", forced_colors=forced)
    page = context.new_page()
    page.goto(base_url)
    page.fill("#q", "lora")
    options = page.locator("#q-listbox .option")
    # The answer with the abstracts redraws the list (the choice stays on its paper, which may
    # move): choose in that one. Under load a CI run read '' for every style of an option the
    # redraw had detached.
    expect(page.locator("#q-listbox")).to_have_attribute("data-tier", "2")
    expect(options.first).to_be_visible()
    page.locator("#q").press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(options.first).to_have_css("outline-style", "solid")
    expect(options.first).to_have_css("outline-width", "2px")
    expect(options.nth(1)).to_have_css("outline-style", "none")
    backgrounds = page.evaluate(
        "() => [...document.querySelectorAll('#q-listbox .option')].slice(0, 2)"
        ".map(o => [o.getAttribute('aria-selected'), getComputedStyle(o).backgroundColor])"
    )
    assert [chosen for chosen, _ in backgrounds] == ["true", "false"], backgrounds
    # a background of its own too, as a native list shows the choice
    assert backgrounds[0][1] != backgrounds[1][1], backgrounds
    page.locator("#q").press("Escape")
    toggle = page.locator("#theme-toggle")
    colours = "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]"
    unpressed = toggle.evaluate(colours)
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert toggle.evaluate(colours) != unpressed
    context.close()


def test_chip_lists_are_named_and_feed_links_differ(page, base_url):
    page.goto(base_url + "topics/parameter-efficient-fine-tuning/")
    lists = page.locator("ul.chips")
    assert lists.count() > 2
    assert set(lists.evaluate_all("ls => ls.map(l => l.getAttribute('aria-label'))")) == {"Topics", "Tags"}
    feeds = page.locator("a[href$='feed.xml']").all_text_contents()
    assert feeds == ["Atom feed of this topic", "Atom feed of all papers"]
    marker = page.locator("ul.chips.tags a").first.evaluate("a => getComputedStyle(a, '::before').content")
    assert marker == '"#" / ""'  # shown, not read aloud


def test_words_typed_then_a_filter_arrowed_through_at_once_are_two_steps_back(page, base_url):
    search_page(page, base_url)
    before = page.evaluate("() => history.length")
    page.locator("#search-input").press_sequentially("lora", delay=30)
    page.wait_for_timeout(150)  # past the typing's history update, well before its commit
    topic = arrow_through_topics(page, pause=200)
    assert page.evaluate("() => history.length") == before + 2  # the words, then the filter
    page.go_back()
    page.wait_for_url("**/search/?q=lora")
    expect(topic).to_have_value("")
    expect(page.locator("#search-input")).to_have_value("lora")
    page.go_back()
    page.wait_for_url("**/search/")
    expect(page.locator("#search-input")).to_have_value("")
    assert page.problems == []
