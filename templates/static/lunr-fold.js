/* papercat: accent folding for lunr.js, the same function the Python index builder runs
   (generator/lunr_js.py), so "Tülu" and "Tulu" index and query alike. */
(function (root) {
  "use strict";
  var lunr = root.lunr || (typeof require === "function" ? require("./vendor/lunr-2.3.9.min.js") : null);
  function foldText(s) {
    return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }
  function papercatFold(token) {
    return token.update(foldText);
  }
  lunr.Pipeline.registerFunction(papercatFold, "papercatFold");
  lunr.papercatFold = papercatFold;
  lunr.foldText = foldText;
})(typeof self !== "undefined" ? self : this);
