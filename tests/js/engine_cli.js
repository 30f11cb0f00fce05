// Runs the browser's search engine (templates/static/search-core.js) under Node.
// usage: node engine_cli.js STATIC_DIR META_JSON [ABSTRACTS_JSON] < requests.json
"use strict";
const fs = require("fs");
const path = require("path");
const staticDir = process.argv[2];
require(path.join(staticDir, "lunr-fold.js"));
const core = require(path.join(staticDir, "search-core.js"));
const engine = new core.Engine(JSON.parse(fs.readFileSync(process.argv[3], "utf8")));
if (process.argv[4]) engine.addAbstracts(JSON.parse(fs.readFileSync(process.argv[4], "utf8")));
const requests = JSON.parse(fs.readFileSync(0, "utf8"));
const out = requests.map((request) => {
  try {
    return engine.search(request);
  } catch (err) {
    return { error: String(err && err.stack || err) };
  }
});
process.stdout.write(JSON.stringify(out));
