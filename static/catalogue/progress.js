// Live progress for an import job's page (/imports/<id>/).
//
// Without this script the page works the same: it shows the progress when it
// was loaded and a "Refresh" link. With it, the bar and its text follow the
// job once a second, and the page reloads when the job changes state (for
// example when the preview is ready or the import is done).
(function () {
  "use strict";

  var box = document.querySelector("[data-progress-url]");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-progress-url");
  var status = box.getAttribute("data-status");
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");
  var hint = box.querySelector("[data-refresh-hint]");
  if (hint) {
    hint.hidden = true;
  }

  function show(data) {
    if (data.total) {
      bar.max = data.total;
      bar.value = data.processed;
    } else {
      bar.removeAttribute("value");
    }
    bar.textContent = data.text;
    text.textContent = data.text;
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        if (data.status !== status) {
          window.location.assign(data.url);
          return;
        }
        show(data);
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        // The server may be restarting: show the link and try again later.
        if (hint) {
          hint.hidden = false;
        }
        window.setTimeout(poll, 5000);
      });
  }

  window.setTimeout(poll, 1000);
})();
