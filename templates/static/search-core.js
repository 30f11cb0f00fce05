/* papercat search core: runs in the Web Worker (and under Node for tests and benchmarks).
   Plain words in, ranked cards out. User text never reaches lunr's query parser: it is
   tokenised and added clause by clause, so no input can cause a syntax error, and fuzzy
   edit distance, wildcards and the number of words are capped so no query can freeze. */
(function (root, factory) {
  "use strict";
  if (typeof module === "object" && module.exports) {
    module.exports = factory(require("./vendor/lunr-2.3.9.min.js"));
  } else {
    root.PapercatSearch = factory(root.lunr);
  }
})(typeof self !== "undefined" ? self : this, function (lunr) {
  "use strict";

  var FORMAT = 2;
  var MAX_WORDS = 12;
  var MAX_WORD_CHARS = 40;
  var MAX_FUZZY_CHARS = 20;
  var SEPARATORS = /[*:^~+()[\]{}\/\\|]/g;  /* keep in step with WORD_BREAKS in generator/search.py */  /* typo correction is for words, not for pasted noise */
  var SNIPPET_WORDS = 32;
  var WORD_RE = /[A-Za-z0-9_\u00C0-\u024F\u0370-\u03FF\u0400-\u04FF]+|[^A-Za-z0-9_\u00C0-\u024F\u0370-\u03FF\u0400-\u04FF]+/g;
  var TRAILING = lunr.Query.wildcard.TRAILING;

  function fold(s) { return lunr.foldText ? lunr.foldText(s) : s; }

  /* The words of a query, as the index pipeline would see them before stemming. */
  function words(text) {
    if (typeof text !== "string") return [];
    var out = [];
    /* lunr's operators and brackets separate words, as in the index (generator/search.py) */
    lunr.tokenizer(text.slice(0, 1000).replace(SEPARATORS, " ")).forEach(function (token) {
      var w = lunr.trimmer(token.update(fold)).toString();
      if (w && w.length <= MAX_WORD_CHARS && lunr.stopWordFilter(new lunr.Token(w)) && out.indexOf(w) < 0) {
        out.push(w);
      }
    });
    return out.slice(0, MAX_WORDS);
  }

  /* What a misspelt word is compared with, letter by letter: index terms are stems, so
     besides the word's own stem, try it without a common suffix ("instrction" -> "instrct",
     one letter from the stem "instruct"). */
  function fuzzyForms(word) {
    var forms = [lunr.stemmer(new lunr.Token(word)).toString(), word.replace(/(ations?|ions?|ings?|ed|es|s)$/, "")];
    return forms.filter(function (f, i) { return f.length >= 4 && forms.indexOf(f) === i; });
  }

  function levenshtein(a, b) {
    var prev = [], cur, i, j;
    for (j = 0; j <= b.length; j++) prev.push(j);
    for (i = 1; i <= a.length; i++) {
      cur = [i];
      for (j = 1; j <= b.length; j++) {
        cur.push(Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
      }
      prev = cur;
    }
    return prev[b.length];
  }

  /* The index term a word of text stands for: used to highlight matches. */
  var termCache = new Map();
  function termOf(word) {
    var known = termCache.get(word);
    if (known !== undefined) return known;
    var token = lunr.trimmer(new lunr.Token(fold(word.toLowerCase())));
    var term = lunr.stemmer(token).toString();
    if (termCache.size > 50000) termCache.clear();
    termCache.set(word, term);
    return term;
  }

  function ref(position) { return position.toString(36); }

  /* Rebuild lunr's serialised index from the compact form generator/search.py writes:
     postings from delta-coded positions, and field vectors recomputed exactly as lunr's
     Builder.createFieldVectors does (BM25, k1 = 1.2, b = 0.75, rounded to thousandths). */
  function expandIndex(c) {
    var n = c.documents;
    var perField = c.fields.map(function () {
      var docs = [];
      for (var d = 0; d < n; d++) docs.push([]);
      return docs;  /* per document: [term position, …] */
    });
    var invertedIndex = c.terms.map(function (term, i) {
      var entry = { _index: c.postings[i][0] };
      c.fields.forEach(function (field, f) {
        var docs = {}, position = 0;
        c.postings[i][1][f].forEach(function (delta) {
          position += delta;
          docs[ref(position)] = {};
          perField[f][position].push(i);
        });
        entry[field] = docs;
      });
      return [term, entry];
    });
    var idf = c.terms.map(function (term, i) {
      var df = 0;
      c.postings[i][1].forEach(function (docs) { df += docs.length; });
      return Math.log(1 + Math.abs((n - df + 0.5) / (df + 0.5)));
    });
    var fieldVectors = [];
    c.fields.forEach(function (field, f) {
      var width = c.terms.length;
      var tf = new Map();
      c.tf[f].forEach(function (t) { tf.set(t[0] * width + t[1], t[2]); });
      var lengths = [], total = 0;
      for (var d = 0; d < n; d++) {
        var length = 0;
        var terms = perField[f][d];
        for (var k = 0; k < terms.length; k++) length += tf.get(d * width + terms[k]) || 1;
        lengths.push(length);
        total += length;
      }
      var average = total / n;
      for (d = 0; d < n; d++) {
        var pairs = perField[f][d].map(function (i) {
          var freq = tf.get(d * width + i) || 1;
          var score = idf[i] * ((1.2 + 1) * freq) / (1.2 * (1 - 0.75 + 0.75 * (lengths[d] / average)) + freq);
          score *= c.boosts[f];
          return [c.postings[i][0], Math.round(score * 1000) / 1000];
        });
        pairs.sort(function (a, b) { return a[0] - b[0]; });
        var elements = [];
        pairs.forEach(function (p) { elements.push(p[0], p[1]); });
        fieldVectors.push([field + "/" + ref(d), elements]);
      }
    });
    return { version: c.version, fields: c.fields, fieldVectors: fieldVectors, invertedIndex: invertedIndex, pipeline: c.pipeline };
  }

  function Engine(meta) {
    if (!meta || meta.format !== FORMAT) throw new Error("search index format mismatch");
    this.meta = meta;
    this.docs = meta.docs;
    this.meta_index = lunr.Index.load(expandIndex(meta.index));
    this.abstract_index = null;
    this.text = null;
    this.corrections = new Map();
  }

  Engine.prototype.addAbstracts = function (tier) {
    if (!tier || tier.format !== FORMAT) throw new Error("search index format mismatch");
    this.abstract_index = lunr.Index.load(expandIndex(tier.index));
    this.text = tier.text;
    this.corrections = new Map();
  };

  Engine.prototype.tier = function () { return this.abstract_index ? 2 : 1; };

  Engine.prototype.indexes = function () {
    return this.abstract_index ? [this.meta_index, this.abstract_index] : [this.meta_index];
  };

  /* The index term a misspelt word most likely meant: the closest term within the edit
     distance (1, or 2 for long words), the one in most papers on a tie. */
  Engine.prototype.correct = function (word) {
    if (word.length < 5 || word.length > MAX_FUZZY_CHARS || !/^[a-z]+$/.test(word)) return null;
    if (this.corrections.has(word)) return this.corrections.get(word);
    if (this.corrections.size > 500) this.corrections.clear();
    var best = null;
    var indexes = this.indexes();
    fuzzyForms(word).forEach(function (form) {
      var automaton = lunr.TokenSet.fromFuzzyString(form, form.length >= 8 ? 2 : 1);
      indexes.forEach(function (index) {
        index.tokenSet.intersect(automaton).toArray().forEach(function (term) {
          var distance = levenshtein(form, term);
          var posting = index.invertedIndex[term];
          var papers = 0;
          Object.keys(posting).forEach(function (f) { if (f !== "_index") papers += Object.keys(posting[f]).length; });
          if (!best || distance < best.distance || (distance === best.distance && papers > best.papers)) {
            best = { term: term, distance: distance, papers: papers };
          }
        });
      });
    });
    this.corrections.set(word, best && best.term);
    return best && best.term;
  };

  /* {ref: {score, terms}} for one word in every loaded index; `fuzzy` uses its correction. */
  Engine.prototype.scoresFor = function (word, prefix, fuzzy) {
    var found = {};
    var term = fuzzy ? this.correct(word) : word;
    if (!term) return found;
    var titles = this.meta_index;
    this.indexes().forEach(function (index) {
      var results = index.query(function (q) {
        q.term(term, { usePipeline: !fuzzy });
        /* type-ahead: a word being typed completes from its second letter against titles,
           tags, topics and authors, from its fourth in abstracts (shorter prefixes there
           would match thousands of terms for little gain) */
        if (prefix && !fuzzy && word.length >= (index === titles ? 2 : 4)) {
          q.term(word, { wildcard: TRAILING, usePipeline: false });
        }
      });
      results.forEach(function (r) {
        var hit = found[r.ref] || (found[r.ref] = { score: 0, terms: {} });
        hit.score += r.score;
        Object.keys(r.matchData.metadata).forEach(function (t) { hit.terms[t] = true; });
      });
    });
    return found;
  };

  /* Documents matching every word (mode "all") or any word ("any"), with summed scores. */
  Engine.prototype.match = function (ws, fuzzy, mode) {
    var self = this;
    var perWord = ws.map(function (w, i) {
      var exact = self.scoresFor(w, i === ws.length - 1, false);
      return fuzzy && !Object.keys(exact).length ? self.scoresFor(w, false, true) : exact;
    });
    var combined = {};
    perWord.forEach(function (found) {
      Object.keys(found).forEach(function (ref) {
        var c = combined[ref] || (combined[ref] = { score: 0, terms: {}, words: 0 });
        c.score += found[ref].score;
        c.words += 1;
        Object.keys(found[ref].terms).forEach(function (t) { c.terms[t] = true; });
      });
    });
    return Object.keys(combined).filter(function (ref) {
      return mode === "any" || combined[ref].words === ws.length;
    }).map(function (ref) {
      var c = combined[ref];
      return { ref: ref, score: c.score * (mode === "any" ? c.words / ws.length : 1), terms: c.terms };
    });
  };

  function position(ref) { return parseInt(ref, 36); }

  Engine.prototype.filter = function (hits, req, skip) {
    var docs = this.docs;
    var topic = req.topic, tag = req.tag;
    var from = req.yearFrom || 0, to = req.yearTo || 0;
    var topicIdx = -1, tagIdx = -1;
    if (topic) this.meta.topics.forEach(function (t, i) { if (t[0] === topic) topicIdx = i; });
    if (tag) tagIdx = this.meta.tags.indexOf(tag);
    return hits.filter(function (h) {
      var d = docs[position(h.ref)];
      if (!d) return false;
      if (topic && skip !== "topic" && d[5].indexOf(topicIdx) < 0) return false;
      if (tag && skip !== "tag" && d[6].indexOf(tagIdx) < 0) return false;
      if (skip !== "year" && (from || to)) {
        if (!d[2] || (from && d[2] < from) || (to && d[2] > to)) return false;
      }
      return true;
    });
  };

  /* Counts per facet value, each facet counted with the other facets applied. */
  Engine.prototype.facets = function (hits, req) {
    var self = this;
    var out = { topics: [], tags: [], years: [] };
    var counts = { topic: {}, tag: {}, year: {} };
    ["topic", "tag", "year"].forEach(function (dim) {
      self.filter(hits, req, dim).forEach(function (h) {
        var d = self.docs[position(h.ref)];
        if (dim === "topic") d[5].forEach(function (i) { counts.topic[i] = (counts.topic[i] || 0) + 1; });
        if (dim === "tag") d[6].forEach(function (i) { counts.tag[i] = (counts.tag[i] || 0) + 1; });
        if (dim === "year" && d[2]) counts.year[d[2]] = (counts.year[d[2]] || 0) + 1;
      });
    });
    this.meta.topics.forEach(function (t, i) {
      if (counts.topic[i] || t[0] === req.topic) out.topics.push([t[0], t[1], counts.topic[i] || 0]);
    });
    Object.keys(counts.tag).forEach(function (i) {
      out.tags.push([self.meta.tags[i], counts.tag[i]]);
    });
    out.tags.sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); });
    out.tags = out.tags.slice(0, 40);
    if (req.tag && !out.tags.some(function (t) { return t[0] === req.tag; })) {
      out.tags.push([req.tag, counts.tag[self.meta.tags.indexOf(req.tag)] || 0]);
    }
    out.years = Object.keys(counts.year).map(Number).sort().map(function (y) { return [y, counts.year[y]]; });
    return out;
  };

  /* Split text into [text, isMatch] pieces; matches are words whose index term was hit. */
  function highlight(text, terms) {
    var pieces = [];
    (text.match(WORD_RE) || []).forEach(function (part) {
      var hit = /[A-Za-z0-9\u00C0-\u04FF]/.test(part) && terms[termOf(part)] === true;
      var last = pieces[pieces.length - 1];
      if (last && last[1] === hit && !hit) last[0] += part; else pieces.push([part, hit]);
    });
    return pieces;
  }

  function snippet(text, terms) {
    var parts = text.split(/\s+/);
    var first = 0;
    for (var i = 0; i < parts.length; i++) {
      if (terms[termOf(parts[i])] === true) { first = Math.max(0, i - 8); break; }
    }
    var chosen = parts.slice(first, first + SNIPPET_WORDS).join(" ");
    var pieces = highlight(chosen, terms);
    if (first > 0) pieces.unshift(["… ", false]);
    if (first + SNIPPET_WORDS < parts.length) pieces.push([" …", false]);
    return pieces;
  }

  Engine.prototype.card = function (hit, withSnippet) {
    var d = this.docs[position(hit.ref)];
    var self = this;
    var card = {
      url: "papers/" + d[0] + "/",
      title: highlight(d[1], hit.terms),
      year: d[2],
      authors: d[3],
      moreAuthors: d[4] > d[3].length,
      topics: d[5].map(function (i) { return self.meta.topics[i][1]; }),
      tags: d[6].map(function (i) { return self.meta.tags[i]; })
    };
    if (withSnippet && this.text) card.snippet = snippet(this.text[position(hit.ref)], hit.terms);
    return card;
  };

  /* request: {q, topic, tag, yearFrom, yearTo, limit, snippets} */
  Engine.prototype.search = function (req) {
    req = req || {};
    var ws = words(req.q);
    var hits, mode = "all", fuzzy = false;
    var filtered = !!(req.topic || req.tag || req.yearFrom || req.yearTo);
    if (!ws.length && typeof req.q === "string" && req.q.trim() && !filtered) {
      hits = [];
      mode = "nowords";  /* only punctuation or stop words: nothing to look for */
    } else if (!ws.length) {
      hits = this.docs.map(function (d, i) { return { ref: i.toString(36), score: -i, terms: {} }; });
      mode = "browse";
    } else {
      hits = this.match(ws, false, "all");
      if (!hits.length) { hits = this.match(ws, true, "all"); fuzzy = true; }
      if (!hits.length && ws.length > 1) { hits = this.match(ws, true, "any"); mode = "any"; }
    }
    var facets = this.facets(hits, req);
    hits = this.filter(hits, req);
    hits.sort(function (a, b) { return b.score - a.score || position(a.ref) - position(b.ref); });
    var limit = Math.max(1, Math.min(req.limit || 50, 200));
    var self = this;
    return {
      total: hits.length,
      mode: mode,
      fuzzy: fuzzy,
      words: ws,
      tier: this.tier(),
      abstractsFailed: !!this.abstractsFailed,
      facets: facets,
      results: hits.slice(0, limit).map(function (h) { return self.card(h, req.snippets !== false); })
    };
  };

  return { Engine: Engine, words: words, termOf: termOf, expandIndex: expandIndex, FORMAT: FORMAT };
});
