/* papercat serve: reload the page after a good rebuild; show the errors after a failed one. */
(function () {
  "use strict";
  var source = new EventSource("/__papercat__/events");
  function overlay(text) {
    var box = document.getElementById("papercat-build-error");
    if (!box) {
      box = document.createElement("pre");
      box.id = "papercat-build-error";
      box.setAttribute("role", "alert");
      box.style.cssText = "position:fixed;inset:auto 0 0 0;max-height:60vh;overflow:auto;margin:0;" +
        "padding:1rem;background:#3b0d0d;color:#ffe5e5;font:14px/1.4 monospace;z-index:99999;white-space:pre-wrap";
      document.body.appendChild(box);
    }
    box.textContent = "Build failed; showing the last good site.\n\n" + text;
  }
  source.addEventListener("open", function () { document.documentElement.dataset.papercatLive = ""; });
  source.addEventListener("reload", function () { window.location.reload(); });
  source.addEventListener("error-report", function (e) { overlay(JSON.parse(e.data)); });
})();
