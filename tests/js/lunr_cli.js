// Runs the vendored lunr.js under Node for parity tests with lunr.py.
// usage: node lunr_cli.js LUNR_JS MODE < request.json
//   MODE stem:      ["word", ...]                      -> ["stem", ...]
//   MODE trim:      ["token", ...]                     -> ["trimmed", ...]
//   MODE tokenize:  "text"                             -> ["token", ...] (tokenizer + trimmer)
//   MODE stopwords: null                               -> is each of a probe list a stop word
//   MODE search:    {"index": {...}, "queries": [...]}  -> [[{"ref", "score"}, ...], ...]
"use strict";
const lunr = require(process.argv[2]);
require(require("path").join(require("path").dirname(process.argv[2]), "..", "lunr-fold.js"));
const mode = process.argv[3];
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
let out;
if (mode === "stem") {
  out = input.map((w) => lunr.stemmer(new lunr.Token(w)).toString());
} else if (mode === "trim") {
  out = input.map((w) => lunr.trimmer(new lunr.Token(w)).toString());
} else if (mode === "tokenize") {
  out = lunr.tokenizer(input).map((t) => lunr.trimmer(t).toString());
} else if (mode === "expand") {
  const core = require(require("path").join(require("path").dirname(process.argv[2]), "..", "search-core.js"));
  out = core.expandIndex(input);
} else if (mode === "fold") {
  out = input.map((w) => lunr.foldText(w));
} else if (mode === "stopwords") {
  out = input.filter((w) => lunr.stopWordFilter(new lunr.Token(w)) === undefined);
} else if (mode === "search") {
  const idx = lunr.Index.load(input.index);
  out = input.queries.map((q) => idx.search(q).map((r) => ({ ref: r.ref, score: r.score })));
} else {
  throw new Error("unknown mode " + mode);
}
process.stdout.write(JSON.stringify(out));
