// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Ask before destructive buttons (cancel, revoke).
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // Booking and finder forms: once a start time is chosen, suggest an end one hour later.
  ["booking-form", "find-form"].forEach(function (id) {
    var form = document.getElementById(id);
    if (!form) return;
    var start = form.querySelector("#start");
    var end = form.querySelector("#end");
    start.addEventListener("change", function () {
      if (!start.value || (end.value && end.value > start.value)) return;
      var parts = start.value.split(":");
      var minutes = Math.min(parseInt(parts[0], 10) * 60 + parseInt(parts[1], 10) + 60, 23 * 60 + 59);
      end.value = String(Math.floor(minutes / 60)).padStart(2, "0") + ":" + String(minutes % 60).padStart(2, "0");
    });
  });

  // Live pages (the rooms overview, a room's day) stay current: every 30 s
  // ask the page's JSON twin whether anything changed. A 304 (nothing did)
  // costs no body at all; on a 200, fetch this page again and swap in its
  // fresh region. Without JavaScript the page simply stays as it was drawn.
  var live = document.querySelector("[data-refresh]");
  if (live && window.fetch && window.DOMParser) {
    var etag = live.getAttribute("data-etag");
    window.setInterval(function () {
      if (document.hidden) return;                 // a background tab asks nothing
      var headers = {"Accept": "application/json"};
      if (etag) headers["If-None-Match"] = etag;
      fetch(live.getAttribute("data-refresh"), {headers: headers, credentials: "same-origin",
                                                cache: "no-store"})
        .then(function (answer) {
          if (answer.status !== 200) return null;
          etag = answer.headers.get("ETag") || etag;
          return fetch(window.location.href, {credentials: "same-origin", cache: "no-store"})
            .then(function (page) { return page.ok ? page.text() : null; });
        })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-refresh]");
          if (!fresh) return;
          fresh.setAttribute("data-etag", etag);
          live.replaceWith(fresh);
          live = fresh;
        })
        .catch(function () { /* offline for a moment: try again next time */ });
    }, 30000);
  }
})();
