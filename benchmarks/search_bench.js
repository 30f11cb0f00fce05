// Times the browser's search engine under Node: index load and query latency.
// usage: node search_bench.js STATIC_DIR SITE_DIR QUERIES_JSON
"use strict";
const fs = require("fs");
const path = require("path");
const [staticDir, siteDir, queriesFile] = process.argv.slice(2);
require(path.join(staticDir, "lunr-fold.js"));
const core = require(path.join(staticDir, "search-core.js"));
const queries = JSON.parse(fs.readFileSync(queriesFile, "utf8"));
const read = (name) => fs.readFileSync(path.join(siteDir, "search", name), "utf8");
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const median = (xs) => pct(xs, 0.5);

const loads1 = [], loads2 = [];
let engine;
for (let i = 0; i < 5; i++) {
  const metaText = read("meta.json"), tierText = read("abstracts.json");
  let t0 = process.hrtime.bigint();
  engine = new core.Engine(JSON.parse(metaText));
  loads1.push(ms(t0));
  t0 = process.hrtime.bigint();
  engine.addAbstracts(JSON.parse(tierText));
  loads2.push(ms(t0));
}
function timeQueries(e) {
  const times = [];
  for (let round = 0; round < 2; round++) {  // first round warms up the JIT; second is counted
    times.length = 0;
    for (const q of queries) {
      e.corrections = new Map();  // no help from earlier identical queries
      const t0 = process.hrtime.bigint();
      e.search({ q, limit: 50 });
      times.push(ms(t0));
    }
  }
  return times;
}
const tier1 = new core.Engine(JSON.parse(read("meta.json")));
const t1 = timeQueries(tier1);
const t2 = timeQueries(engine);
console.log(JSON.stringify({
  load_tier1_ms: median(loads1), load_tier2_ms: median(loads2),
  tier1_p50_ms: pct(t1, 0.5), tier1_p95_ms: pct(t1, 0.95),
  tier2_p50_ms: pct(t2, 0.5), tier2_p95_ms: pct(t2, 0.95), tier2_max_ms: Math.max(...t2),
  queries: queries.length,
}));
