/* papercat theme: follows the system (prefers-color-scheme) until the reader picks one
   with the toggle; the choice is kept in localStorage. Loaded in <head>, before paint. */
(function () {
  "use strict";
  var KEY = "papercat-theme";
  var root = document.documentElement;
  function stored() {
    try { return localStorage.getItem(KEY); } catch (err) { return null; }
  }
  function system() {
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  function apply(theme) { root.setAttribute("data-theme", theme); }
  apply(stored() || system());
  root.classList.add("js");  /* search forms show only where scripts run (style.css) */
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("theme-toggle");
    if (!button) return;
    function label() {  /* a toggle button keeps its name; its pressed state tells which theme */
      button.setAttribute("aria-pressed", root.getAttribute("data-theme") === "dark" ? "true" : "false");
    }
    button.hidden = false;
    label();
    var chosen = false;  /* in this page, where localStorage is unavailable */
    button.addEventListener("click", function () {
      var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
      apply(next);
      chosen = true;
      try { localStorage.setItem(KEY, next); } catch (err) { /* private mode: this page only */ }
      label();
    });
    var media = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)");
    if (media && media.addEventListener) {
      media.addEventListener("change", function () {  /* the system's, until the reader picks one */
        if (chosen || stored()) return;
        apply(system());
        label();
      });
    }
    var copy = document.querySelector("button.copy[data-copy]");
    var source = copy && document.getElementById(copy.getAttribute("data-copy"));
    if (copy && source && navigator.clipboard) {
      copy.hidden = false;
      var spoken = document.getElementById(copy.getAttribute("data-status") || "");
      var quiet = null;
      // Spoken once per click: the same words again get a trailing no-break space, so that the
      // live region changes; they are cleared once said.
      var say = function (text) {
        if (!spoken) return;
        spoken.textContent = spoken.textContent === text ? text + "\u00a0" : text;
        clearTimeout(quiet);
        quiet = setTimeout(function () { spoken.textContent = ""; }, 5000);
      };
      var label = function (text, ms) {
        copy.textContent = text;
        setTimeout(function () { copy.textContent = "Copy BibTeX"; }, ms);
      };
      copy.addEventListener("click", function () {
        navigator.clipboard.writeText(source.textContent).then(function () {
          label("Copied", 2000);
          say("BibTeX copied to the clipboard.");
        }, function () {
          label("Copy failed: select the text", 5000);
          say("Copying failed: select the BibTeX text and copy it.");
        });
      });
    }
  });
})();
