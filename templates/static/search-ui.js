/* papercat search UI, on every page: the header type-ahead, the search page, and "/".
   Nothing heavy loads until someone searches: the worker (lunr.js and the index) starts
   on the first focus of a search box, on "/", or when the search page opens with a query.
   Everything shown is built with DOM APIs and textContent, never from HTML strings. */
(function () {
  "use strict";
  var root = document.documentElement.getAttribute("data-root") || "";

  /* ---- worker client ---------------------------------------------------------------- */
  var worker = null;
  var nextId = 1;
  var handlers = {};

  /* Stands in for a worker that could not start: every request gets an error at once. */
  var deadWorker = { postMessage: function (m) { deliver({ id: m.id, error: "search unavailable" }); } };

  function startWorker() {
    if (worker) return worker;
    try {
      worker = new Worker(root + "static/search-worker.js");
    } catch (err) {
      worker = deadWorker;
      return worker;
    }
    worker.onmessage = function (event) { deliver(event.data || {}); };
    worker.onerror = function (event) {  // its scripts did not load or run: it answers nothing
      event.preventDefault();
      worker = deadWorker;
      Object.keys(handlers).forEach(function (id) { deliver({ id: Number(id), error: "search unavailable" }); });
    };
    return worker;
  }

  function deliver(message) {
    var handler = handlers[message.id];
    if (handler) handler(message);
  }

  /* Only the newest request of each client is shown; older answers are dropped. */
  function Client() { this.current = 0; }
  Client.prototype.ask = function (request, callback) {
    var id = nextId++;
    var self = this;
    if (this.current) delete handlers[this.current];
    this.current = id;
    handlers[id] = function (message) { if (self.current === id) callback(message); };
    startWorker().postMessage({ id: id, request: request });
  };
  Client.prototype.forget = function () {  // drop the answer on its way, if any
    if (this.current) delete handlers[this.current];
    this.current = 0;
  };

  /* ---- DOM helpers ----------------------------------------------------------------- */
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function pieces(target, parts) {
    parts.forEach(function (p) {
      target.appendChild(p[1] ? el("mark", "", p[0]) : document.createTextNode(p[0]));
    });
    return target;
  }

  function byline(card) {
    var bits = [];
    if (card.authors.length) bits.push(card.authors.join(", ") + (card.moreAuthors ? ", et al." : ""));
    if (card.year) bits.push(String(card.year));
    return bits.join(" · ");
  }

  function debounce(fn, ms) {
    var timer = null;
    var later = function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
    later.cancel = function () { clearTimeout(timer); };
    return later;
  }

  /* A live region that speaks once its text has settled for `ms`: results that change with
     every keystroke would otherwise be announced one over the other. `now`: at once. */
  function announcer(node, ms) {
    var timer = null;
    return function (text, now) {
      clearTimeout(timer);
      if (now || !text) node.textContent = text;
      else timer = setTimeout(function () { node.textContent = text; }, ms);
    };
  }

  function typingInField(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  /* ---- header type-ahead (ARIA combobox with a listbox) ------------------------------ */
  /* While an answer for the text in the box is on its way (aria-busy), the list on show is
     stale: arrow keys pressed then count towards the answer, and Enter after them opens the
     paper they come to, once it is there. */
  function Typeahead(input) {
    this.input = input;
    this.client = new Client();
    this.active = -1;
    this.targets = [];  // the options' addresses, in order: papers, then "all results"
    this.shown = null;  // the text the list on show answers
    this.busy = false;
    this.moves = 0;  // arrow-key steps taken while busy
    this.openWhenShown = false;
    this.list = el("ul", "typeahead");
    this.list.id = input.id + "-listbox";
    this.list.setAttribute("role", "listbox");
    this.list.setAttribute("aria-label", "Matching papers");
    this.list.setAttribute("aria-busy", "false");
    this.list.hidden = true;
    this.status = el("p", "visually-hidden");
    this.status.setAttribute("role", "status");
    this.status.setAttribute("aria-live", "polite");
    input.parentNode.appendChild(this.list);
    input.parentNode.appendChild(this.status);
    this.say = announcer(this.status, 500);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", this.list.id);
    var self = this;
    this.later = debounce(function () { self.query(); }, 60);
    this.closing = null;  // a close on its way after the box lost the focus
    input.addEventListener("focus", function () { clearTimeout(self.closing); startWorker(); });
    input.addEventListener("input", function () { self.typed(); });
    input.addEventListener("keydown", function (e) { self.key(e); });
    input.addEventListener("blur", function () { self.closing = setTimeout(function () { self.close(); }, 150); });
  }

  Typeahead.prototype.setBusy = function (busy) {
    this.busy = busy;
    this.dropKeys();
    this.list.setAttribute("aria-busy", busy ? "true" : "false");
  };

  /* Forget the arrow keys and Enter pressed while busy. */
  Typeahead.prototype.dropKeys = function () {
    this.moves = 0;
    this.openWhenShown = false;
  };

  /* Typing makes the list stale, and any answer on its way: drop the choice, ask again shortly. */
  Typeahead.prototype.typed = function () {
    this.client.forget();
    this.select(-1);
    this.setBusy(true);
    this.later();
  };

  Typeahead.prototype.query = function () {
    var self = this;
    var q = this.input.value;
    if (!q.trim()) { this.closeOrSearch(); return; }
    if (!this.busy) this.setBusy(true);
    this.client.ask({ q: q, limit: 8, snippets: false }, function (message) {
      if (message.error) { self.show(q, [], -1); return; }
      var r = message.response;
      if (r.mode === "browse" || r.mode === "nowords" && !foreign(q)) { self.closeOrSearch(); return; }  /* keep typing */
      self.list.setAttribute("data-tier", String(r.tier));
      self.show(q, r.results, r.total, r.mode);
    });
  };

  /* An option of the list; without `onClick`, one that cannot be chosen. */
  function option(id, cls, onClick) {
    var li = el("li", cls);
    li.id = id;
    li.setAttribute("role", "option");
    li.addEventListener("mousedown", function (e) { e.preventDefault(); });  // keep the focus
    if (onClick) {
      li.setAttribute("aria-selected", "false");
      li.addEventListener("click", onClick);
    } else {
      li.setAttribute("aria-disabled", "true");
    }
    return li;
  }

  function go(url) { window.location.href = url; }

  /* Letters of another script than Latin: the index holds none (words are folded to Latin
     letters and digits), so a query of them alone has no words to look for. */
  var FOREIGN = /(?!\p{Script=Latin})\p{L}/u;
  function foreign(q) { return FOREIGN.test(q); }

  /* The answer for `q`: `cards`, the first of `total` matches (-1: the search could not run).
     The worker answers again when the abstracts have loaded: a choice made in the first
     answer's list stays on the same paper (if it is still listed). */
  Typeahead.prototype.show = function (q, cards, total, mode) {
    var self = this;
    var moves = this.moves, open = this.openWhenShown;
    var chosen = this.active >= 0 && q === this.shown ? this.targets[this.active] : null;
    this.shown = q;
    this.active = -1;
    this.targets = [];
    this.list.replaceChildren();
    cards.forEach(function (card, i) {
      var url = root + card.url;
      var li = option(self.list.id + "-" + i, "option", function () { go(url); });
      li.appendChild(pieces(el("span", "option-title"), card.title));
      var meta = byline(card);
      if (meta) li.appendChild(el("span", "option-meta", meta));
      self.targets.push(url);
      self.list.appendChild(li);
    });
    var text;
    if (total > cards.length && cards.length) {
      var all = root + "search/?" + new URLSearchParams({ q: q }).toString();
      var more = option(this.list.id + "-all", "option all", function () { go(all); });
      more.textContent = "All " + total + (mode === "any" ? " papers with some of the words" : " matches") + " on the search page";
      this.targets.push(all);
      this.list.appendChild(more);
      text = mode === "any" ? "No paper has all the words; " + total + " have some of them, the first " + cards.length + " listed, then a link to all of them."
        : total + " papers match; the first " + cards.length + " are listed, then a link to all of them.";
    } else if (cards.length) {
      text = mode === "any" ? "No paper has all the words; " + (total === 1 ? "1 has" : total + " have") + " some of them."
        : total === 1 ? "1 paper matches." : total + " papers match.";
    } else if (mode === "nowords") {
      text = "No words to search for: the search reads Latin letters and digits.";
    } else {
      text = total < 0 ? "Search is unavailable right now." : "No papers match.";
    }
    if (!cards.length) {
      var empty = option(this.list.id + "-none", "option empty");
      empty.textContent = text;
      this.list.appendChild(empty);
    } else {
      text += " Use the arrow keys to choose, Enter to open.";
    }
    this.list.hidden = false;
    this.setBusy(false);
    this.input.setAttribute("aria-expanded", "true");
    this.input.removeAttribute("aria-activedescendant");
    this.say(text);
    if (chosen) this.select(this.targets.indexOf(chosen));
    if (moves) this.move(moves);
    if (open && this.active >= 0) go(this.targets[this.active]);
    else if (open) this.search();  // nothing to choose
  };

  /* The search page for the text in the box (what Enter does with nothing chosen). */
  Typeahead.prototype.search = function () {
    if (this.input.form) this.input.form.requestSubmit();
  };

  /* An answer with nothing to list: close, and search if Enter is waiting for it. */
  Typeahead.prototype.closeOrSearch = function () {
    var open = this.openWhenShown;
    this.close();
    if (open) this.search();
  };

  /* Close the list, and forget an answer still on its way. */
  Typeahead.prototype.close = function () {
    this.shown = null;
    this.later.cancel();
    this.client.forget();
    this.select(-1);
    this.setBusy(false);
    this.list.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.say("");
  };

  /* Make option i the chosen one (-1: none, the focus stays in the box). */
  Typeahead.prototype.select = function (i) {
    var options = this.list.querySelectorAll("[role=option]");
    if (this.active >= 0 && options[this.active]) options[this.active].setAttribute("aria-selected", "false");
    this.active = i >= 0 && i < this.targets.length ? i : -1;
    if (this.active >= 0) {
      options[this.active].setAttribute("aria-selected", "true");
      this.input.setAttribute("aria-activedescendant", options[this.active].id);
      options[this.active].scrollIntoView({ block: "nearest" });
    } else {
      this.input.removeAttribute("aria-activedescendant");
    }
  };

  /* Step through the options and the box itself, round and round. */
  Typeahead.prototype.move = function (steps) {
    var n = this.targets.length + 1;
    if (n === 1) return;
    var next = (((this.active + 1 + steps) % n) + n) % n - 1;
    this.select(next);
  };

  Typeahead.prototype.key = function (e) {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      var step = e.key === "ArrowDown" ? 1 : -1;
      if (this.busy) this.moves += step;
      else if (this.list.hidden) this.query();
      else this.move(step);
    } else if (e.key === "Enter") {
      if (this.busy && this.moves) { e.preventDefault(); this.openWhenShown = true; }
      else if (!this.busy && !this.list.hidden && this.active >= 0) { e.preventDefault(); go(this.targets[this.active]); }
      /* else: the form opens the search page for the text in the box */
    } else if (e.key === "ArrowLeft" || e.key === "ArrowRight" || e.key === "Home" || e.key === "End") {
      this.select(-1);  // back to editing the text: no choice, and none on its way
      this.dropKeys();
    } else if (e.key === "Escape") {
      e.preventDefault();  // not the browser's own clearing of a search field
      if (!this.list.hidden || this.busy) this.close();
      else if (this.input.value) this.input.value = "";
    }
  };

  /* ---- the search page --------------------------------------------------------------- */
  function SearchPage(form) {
    this.form = form;
    this.input = form.querySelector("#search-input");
    this.topic = form.querySelector("#facet-topic");
    this.tag = form.querySelector("#facet-tag");
    this.from = form.querySelector("#facet-from");
    this.to = form.querySelector("#facet-to");
    this.results = document.getElementById("search-results");
    this.status = document.getElementById("search-status");  // shown at once
    this.say = announcer(document.getElementById("search-announce"), 700);  // spoken once it settles
    this.client = new Client();
    this.pushed = "";  // the address of the current history entry
    this.draft = false;  // "typing" or "filter": the current entry follows that, not yet committed
    this.title = document.title;  // the query goes before it: history entries tell searches apart
    this.years = this.from.options.length > 1;  // a catalogue without dates shows no year filters
    this.idle = "Type a word or two, or choose " + (this.years ? "a topic, tag or years" : "a topic or tag") + " to browse.";
    var self = this;
    this.input.addEventListener("focus", startWorker);
    this.input.addEventListener("input", debounce(function () { self.run("replace"); }, 80));
    this.input.addEventListener("input", debounce(function () { if (self.draft !== "filter") self.commit(); }, 900));
    this.input.addEventListener("keydown", function (e) { self.key(e); });
    // A filter is committed once the choice settles: arrowing through a closed list fires a
    // change for every option passed, and each would have left an entry in the history.
    var chosen = debounce(function () { if (self.draft === "filter") self.commit(); }, 900);
    [this.topic, this.tag, this.from, this.to].forEach(function (select) {
      select.addEventListener("change", function () {
        if (self.draft === "typing") self.draft = false;  // the words typed stay a step of their own
        self.run("filter");
        chosen();
      });
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); self.run("push"); });
    this.results.addEventListener("keydown", function (e) { self.resultKey(e); });
    window.addEventListener("popstate", function () {
      self.draft = false;
      self.restore();
      self.pushed = self.url();
      self.run("none");
    });
    this.restore();
    this.pushed = this.url();
    if (this.stateFromUrl().any) this.run("none");
    else this.tell(this.idle, true);
  }

  /* The status line, shown at once and spoken after a pause (`now`: spoken at once too). */
  SearchPage.prototype.tell = function (text, now) {
    this.status.textContent = text;
    this.say(text, now);
  };

  SearchPage.prototype.stateFromUrl = function () {
    var p = new URLSearchParams(window.location.search);
    var year = (p.get("year") || "").split("-");
    var state = { q: p.get("q") || "", topic: p.get("topic") || "", tag: p.get("tag") || "",
                  from: year[0] || "", to: year[1] || year[0] || "" };
    state.any = !!(state.q.trim() || state.topic || state.tag || state.from || state.to);
    return state;
  };

  /* The filters of a request, in words: "in Instruction tuning", "tagged lora", "from 2023". */
  SearchPage.prototype.filters = function (request) {
    var filters = [];
    if (request.topic) filters.push("in " + (this.topic.selectedOptions[0].getAttribute("data-name") || request.topic));
    if (request.tag) filters.push("tagged " + request.tag);
    if (request.yearFrom || request.yearTo) {
      filters.push(request.yearFrom === request.yearTo ? "from " + request.yearFrom
        : "from " + (request.yearFrom || "any year") + " to " + (request.yearTo || "now"));
    }
    return filters;
  };

  function choose(select, value) {
    if (!value) { select.value = ""; return; }
    var exists = Array.prototype.some.call(select.options, function (o) { return o.value === value; });
    if (!exists) select.appendChild(el("option", "", value)).value = value;
    select.value = value;
  }

  SearchPage.prototype.restore = function () {
    var s = this.stateFromUrl();
    this.input.value = s.q;
    choose(this.topic, s.topic);
    choose(this.tag, s.tag);
    choose(this.from, s.from);
    choose(this.to, s.to);
    var hidden = !this.years && !s.from && !s.to;  /* a year filter from the address shows, to be cleared */
    this.from.parentNode.hidden = this.to.parentNode.hidden = hidden;
  };

  SearchPage.prototype.url = function () {
    var p = new URLSearchParams();
    if (this.input.value.trim()) p.set("q", this.input.value);
    if (this.topic.value) p.set("topic", this.topic.value);
    if (this.tag.value) p.set("tag", this.tag.value);
    if (this.from.value || this.to.value) {
      p.set("year", (this.from.value || this.to.value) + (this.to.value && this.to.value !== this.from.value ? "-" + this.to.value : ""));
    }
    var query = p.toString();
    return window.location.pathname + (query ? "?" + query : "");
  };

  // History: a search is committed (an entry of its own) on Enter or a pause in typing or in
  // choosing filters; while typing, or arrowing through a filter's options, one draft entry
  // follows the change, pushed at its first step so that the search before stays one Back away.
  SearchPage.prototype.commit = function () {
    var url = this.url();
    if (url !== this.pushed) {  // words typed after a filter's draft: a step of their own
      if (this.draft === "typing") window.history.replaceState(null, "", url);
      else window.history.pushState(null, "", url);
      this.pushed = url;
    }
    this.draft = false;
  };

  /* A step of typing or of choosing a filter (`kind`): the draft entry of that kind follows it. */
  SearchPage.prototype.step = function (kind) {
    var url = this.url();
    if (this.draft === kind) window.history.replaceState(null, "", url);
    else if (url !== this.pushed) { window.history.pushState(null, "", url); this.draft = kind; }
    this.pushed = url;
  };

  SearchPage.prototype.run = function (history) {
    var self = this;
    if (history === "push") this.commit();
    else if (history === "replace") this.step("typing");
    else if (history === "filter") this.step("filter");
    var request = {
      q: this.input.value, topic: this.topic.value, tag: this.tag.value,
      yearFrom: Number(this.from.value) || 0, yearTo: Number(this.to.value) || 0, limit: 50
    };
    var q = request.q.trim();
    var named = (q ? ["“" + (q.length > 60 ? q.slice(0, 60) + "…" : q) + "”"] : []).concat(this.filters(request));
    document.title = (named.length ? named.join(" ") + " · " : "") + this.title;
    if (!q && !request.topic && !request.tag && !request.yearFrom && !request.yearTo) {
      this.client.ask({ q: "", limit: 1 }, function () {});  /* drop any answer still on its way */
      this.results.replaceChildren();
      this.resetFacets();
      this.tell(this.idle);
      return;
    }
    if (!this.results.childNodes.length) this.tell("Searching…");
    this.client.ask(request, function (message) {
      if (message.error) {
        self.results.replaceChildren();
        self.tell("Search is unavailable right now. Browse the topics and tags instead.", true);
        return;
      }
      self.render(message.response, request);
    });
  };

  function label(option, text, count, selected) {
    option.textContent = text + " (" + count + ")";
    option.disabled = count === 0 && !selected;
  }

  /* Every filter choice available again, without counts: nothing is being searched. */
  SearchPage.prototype.resetFacets = function () {
    [this.topic, this.tag, this.from, this.to].forEach(function (select) {
      Array.prototype.forEach.call(select.options, function (o) {
        if (!o.value) return;
        o.textContent = o.getAttribute("data-name") || o.value;
        o.disabled = false;
      });
    });
  };

  SearchPage.prototype.facets = function (f) {
    var topics = {}, tags = {}, years = {};
    f.topics.forEach(function (t) { topics[t[0]] = t; });
    f.tags.forEach(function (t) { tags[t[0]] = t[1]; });
    f.years.forEach(function (y) { years[y[0]] = y[1]; });
    var self = this;
    Array.prototype.forEach.call(this.topic.options, function (o) {
      if (!o.value) return;
      label(o, o.getAttribute("data-name") || o.value, topics[o.value] ? topics[o.value][2] : 0, o.value === self.topic.value);
    });
    Array.prototype.forEach.call(this.tag.options, function (o) {
      if (!o.value) return;
      label(o, o.value, tags[o.value] || 0, o.value === self.tag.value);
    });
    [this.from, this.to].forEach(function (select) {
      Array.prototype.forEach.call(select.options, function (o) {
        if (o.value) label(o, o.value, years[o.value] || 0, o.value === select.value);
      });
    });
  };

  SearchPage.prototype.render = function (r, request) {
    var self = this;
    /* keep the reader's place: the same paper if it is still listed, else the same row */
    var focused = this.links().indexOf(document.activeElement);
    var focusedUrl = focused >= 0 ? document.activeElement.getAttribute("href") : null;
    this.facets(r.facets);
    this.results.replaceChildren();
    r.results.forEach(function (card) {
      var li = el("li", "paper-item");
      var h = el("h2", "paper-title");
      var a = el("a");
      a.href = root + card.url;
      pieces(a, card.title);
      h.appendChild(a);
      li.appendChild(h);
      var meta = byline(card);
      if (meta) li.appendChild(el("p", "meta", meta));
      if (card.topics.length) {
        var ul = el("ul", "chips topics");
        ul.setAttribute("aria-label", "Topics");
        card.topics.forEach(function (name) { ul.appendChild(el("li")).appendChild(el("span", "chip", name)); });
        li.appendChild(ul);
      }
      if (card.tags && card.tags.length) {
        var tagList = el("ul", "chips tags");
        tagList.setAttribute("aria-label", "Tags");
        card.tags.slice(0, 6).forEach(function (name) { tagList.appendChild(el("li")).appendChild(el("span", "chip", name)); });
        li.appendChild(tagList);
      }
      if (card.snippet) li.appendChild(pieces(el("p", "summary"), card.snippet));
      self.results.appendChild(li);
    });
    var q = request.q.trim();
    var filters = this.filters(request);
    var shown = q.length > 80 ? q.slice(0, 80) + "…" : q;
    var what = (q ? "“" + shown + "”" : "these filters") + (q && filters.length ? " " + filters.join(", ") : "");
    var text;
    if (r.mode === "nowords" && foreign(q)) {
      text = "“" + shown + "” has no words to search for: the search reads words in Latin letters and digits. Try a word from a title, an author, a topic or a tag.";
    } else if (r.mode === "nowords") {
      text = "“" + shown + "” has no words to search for. Try a word from a title, an author, a topic or a tag.";
    } else if (!r.total) {
      text = "No papers match " + what + ". Try fewer or other words" + (filters.length ? ", or clear a filter." : ".");
    } else if (r.mode === "any") {
      text = "No paper has all of " + what + "; " + r.total + (r.total === 1 ? " paper has" : " papers have") + " some of the words.";
    } else {
      text = r.total + (r.total === 1 ? " paper matches " : " papers match ") + what +
        (r.fuzzy ? " (allowing for typos)" : "") + ".";
    }
    if (r.mode !== "nowords" && foreign(q)) text += " Words in other scripts than Latin are not searched.";
    if (r.total > r.results.length) text += " Showing the best " + r.results.length + ".";
    if (r.tier === 1 && q && r.abstractsFailed) text += " (Abstracts could not be loaded: titles, authors, topics and tags only.)";
    else if (r.tier === 1 && q) text += " Searching abstracts too…";
    this.tell(text);
    var links = this.links();
    var same = links.filter(function (a) { return a.getAttribute("href") === focusedUrl; })[0];
    if (same) same.focus();
    else if (focused >= 0 && links.length) links[Math.min(focused, links.length - 1)].focus();
  };

  SearchPage.prototype.links = function () {
    return Array.prototype.slice.call(this.results.querySelectorAll(".paper-title a"));
  };

  SearchPage.prototype.key = function (e) {
    if (e.key === "ArrowDown") {
      var links = this.links();
      if (links.length) { e.preventDefault(); links[0].focus(); }
    } else if (e.key === "Escape") {
      this.input.value = "";
      this.run("push");
    }
  };

  SearchPage.prototype.resultKey = function (e) {
    var links = this.links();
    var i = links.indexOf(document.activeElement);
    if (i < 0) return;
    if (e.key === "ArrowDown" && i + 1 < links.length) { e.preventDefault(); links[i + 1].focus(); }
    else if (e.key === "ArrowUp") { e.preventDefault(); (i ? links[i - 1] : this.input).focus(); }
    else if (e.key === "Escape") { e.preventDefault(); this.input.focus(); }
  };

  /* ---- wiring ---------------------------------------------------------------------- */
  var pageForm = document.getElementById("search-page-form");
  var page = pageForm ? new SearchPage(pageForm) : null;
  var header = document.getElementById("q");
  if (header) new Typeahead(header);

  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey || typingInField(e.target)) return;
    var box = page ? page.input : header || document.querySelector("input[type=search]");
    if (box) { e.preventDefault(); startWorker(); box.focus(); box.select(); }
  });
})();
