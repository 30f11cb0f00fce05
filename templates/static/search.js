/* Search page: loads the prebuilt lunr index and shows result cards.
   Results are built with DOM APIs and textContent only, never from HTML strings. */
(function () {
  "use strict";
  var input = document.getElementById("search-input");
  var results = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  if (!input || !results || !status) return;

  var MAX_RESULTS = 50;
  var data = null;
  var index = null;
  var loading = null;

  function load() {
    if (!loading) {
      status.textContent = "Loading the search index…";
      loading = fetch("index.json")
        .then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        })
        .then(function (json) {
          data = json;
          index = lunr.Index.load(json.index);
        });
    }
    return loading;
  }

  /* Plain words, never lunr query syntax: tokenise and trim like the index did,
     drop stop words, and add a prefix match on the last word for type-ahead. */
  function terms(text) {
    return lunr.tokenizer(text)
      .map(function (t) { return lunr.trimmer(t); })
      .filter(function (t) { return t && t.toString().length > 0 && lunr.stopWordFilter(t); })
      .map(function (t) { return t.toString().replace(/\*/g, ""); })  /* `*` is lunr's wildcard */
      .filter(function (w) { return w.length > 0; });
  }

  var REQUIRED = lunr.Query.presence.REQUIRED;

  /* Papers matching every word; the last word may also be a prefix (type-ahead). */
  function allWords(words) {
    var exact = index.query(function (q) {
      words.forEach(function (word) { q.term(word, { presence: REQUIRED }); });
    });
    var last = words[words.length - 1];
    if (last.length < 2) return exact;
    var prefixed = index.query(function (q) {
      words.slice(0, -1).forEach(function (word) { q.term(word, { presence: REQUIRED }); });
      q.term(last, { wildcard: lunr.Query.wildcard.TRAILING, usePipeline: false, presence: REQUIRED });
    });
    var seen = {};
    exact.forEach(function (r) { seen[r.ref] = true; });
    return exact.concat(prefixed.filter(function (r) { return !seen[r.ref]; }));
  }

  /* Papers matching any word, best first: the fallback when no paper has them all. */
  function anyWord(words) {
    return index.query(function (q) {
      words.forEach(function (word) { q.term(word); });
    });
  }

  function run(text) {
    var words = terms(text);
    if (!words.length) return { results: [], partial: false };
    var all = allWords(words);
    if (all.length || words.length === 1) return { results: all, partial: false };
    return { results: anyWord(words), partial: true };
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  function card(ref) {
    var doc = data.store[ref];
    var li = el("li", "paper-item");
    var h = el("h3", "paper-title");
    var a = el("a", "", doc.title);
    a.href = "../" + doc.url;
    h.appendChild(a);
    li.appendChild(h);
    var meta = el("p", "meta");
    if (doc.authors.length) meta.appendChild(el("span", "authors", doc.authors.join(", ")));
    if (doc.year) meta.appendChild(el("span", "year", String(doc.year)));
    if (meta.childNodes.length) li.appendChild(meta);
    if (doc.topics.length) {
      var ul = el("ul", "chips topics");
      doc.topics.forEach(function (name) { ul.appendChild(el("li", "chip", name)); });
      li.appendChild(ul);
    }
    if (doc.summary) li.appendChild(el("p", "summary", doc.summary));
    return li;
  }

  function show(text) {
    var query = text.trim();
    results.replaceChildren();
    if (!query) {
      status.textContent = "Type a word or two: titles, authors, topics, tags and abstracts are searched.";
      return;
    }
    var outcome;
    try {
      outcome = run(query);
    } catch (err) {
      outcome = { results: [], partial: false };
    }
    var found = outcome.results;
    if (!found.length) {
      status.textContent = "No papers match “" + query + "”. Try fewer or different words, or browse by topic.";
      return;
    }
    var shown = found.slice(0, MAX_RESULTS);
    shown.forEach(function (r) { results.appendChild(card(r.ref)); });
    status.textContent = (outcome.partial ? "No paper has all of “" + query + "”; " +
        found.length + (found.length === 1 ? " paper has" : " papers have") + " some of the words"
      : found.length + (found.length === 1 ? " paper matches" : " papers match") + " “" + query + "”") +
      (found.length > shown.length ? "; showing the best " + shown.length + "." : ".");
  }

  function update(pushUrl) {
    var text = input.value;
    load().then(function () {
      show(text);
      if (pushUrl) {
        var url = new URL(window.location.href);
        if (text.trim()) url.searchParams.set("q", text); else url.searchParams.delete("q");
        window.history.replaceState(null, "", url);
      }
    }).catch(function () {
      status.textContent = "The search index could not be loaded. Browse by topic or tag instead.";
    });
  }

  var timer = null;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { update(true); }, 120);
  });
  input.form.addEventListener("submit", function (event) {
    event.preventDefault();
    update(true);
  });

  var initial = new URLSearchParams(window.location.search).get("q") || "";
  input.value = initial;
  var header = document.getElementById("q");
  if (header) header.value = initial;
  if (initial.trim()) update(false); else show("");
})();
