/*
 * The progress bar of an import's admin page (templates/admin/imports/status.html).
 *
 * Polls the page's JSON endpoint (data-progress-url) once a second, fills in the
 * counts, and reloads the page when the import has finished, which then shows the
 * preview or the summary. Without JavaScript the page refreshes itself instead.
 */
(function () {
  "use strict";

  var POLL_MILLISECONDS = 1000;

  function start() {
    var panel = document.getElementById("import-progress");
    if (!panel || !window.fetch) {
      return;
    }
    var url = panel.getAttribute("data-progress-url");
    var bar = panel.querySelector("progress");

    function show(progress) {
      var fields = panel.querySelectorAll("[data-field]");
      for (var i = 0; i < fields.length; i++) {
        var name = fields[i].getAttribute("data-field");
        var value = progress[name];
        fields[i].textContent = value === null || value === undefined ? "?" : String(value);
      }
      if (bar && typeof progress.percent === "number") {
        bar.value = progress.percent;
        bar.textContent = progress.percent + "%";
      }
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (response.redirected || response.status === 403 || response.status === 404) {
            // Logged out (sent to the login page) or gone: polling again would not help;
            // the Refresh link remains.
            throw new Error("stop");
          }
          if (!response.ok) {
            throw new Error("retry");
          }
          return response.json();
        })
        .then(function (progress) {
          show(progress);
          if (progress.finished) {
            window.location.reload();
          } else {
            window.setTimeout(poll, POLL_MILLISECONDS);
          }
        })
        .catch(function (error) {
          // A network hiccup or a busy server: try again at the same pace.
          if (error.message !== "stop") {
            window.setTimeout(poll, POLL_MILLISECONDS);
          }
        });
    }

    window.setTimeout(poll, POLL_MILLISECONDS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
