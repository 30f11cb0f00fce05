/* papercat search worker: loads the index tiers and answers queries off the UI thread.
   Messages in: {id, request}; out: {id, response} or {id, error}. The first tier (titles,
   authors, tags, topics) answers first; when the abstracts tier arrives, the latest
   request is answered again with snippets and abstract matches. */
"use strict";
importScripts("vendor/lunr-2.3.9.min.js", "lunr-fold.js", "search-core.js");

var engine = null;
var failed = null;
var latest = null;
var queue = [];

function answer(message) {
  try {
    self.postMessage({ id: message.id, response: engine.search(message.request) });
  } catch (err) {
    self.postMessage({ id: message.id, error: String(err && err.message || err) });
  }
}

function fail(err) {
  failed = String(err && err.message || err);
  queue.forEach(function (m) { self.postMessage({ id: m.id, error: failed }); });
  queue = [];
}

function getJSON(url) {
  return fetch(url).then(function (r) {
    if (!r.ok) throw new Error("HTTP " + r.status + " for " + url);
    return r.json();
  });
}

getJSON("../search/meta.json").then(function (meta) {
  engine = new PapercatSearch.Engine(meta);
  queue.forEach(answer);
  queue = [];
  return getJSON("../search/abstracts.json").then(function (tier) {
    engine.addAbstracts(tier);
    if (latest) answer(latest);
  });
}).catch(function (err) {
  if (!engine) { fail(err); return; }
  engine.abstractsFailed = true;  /* titles, tags, topics and authors still answer */
  if (latest) answer(latest);
});

self.onmessage = function (event) {
  var message = event.data || {};
  latest = message;
  if (failed) self.postMessage({ id: message.id, error: failed });
  else if (engine) answer(message);
  else queue.push(message);
};
