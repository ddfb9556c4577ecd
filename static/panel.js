// The door panel keeps itself current: every 15 s it asks its JSON twin with
// If-None-Match; a 304 changes nothing, a 200 reloads the page (the server draws
// it), and no answer shows the "lost the server" notice until one comes back.
(function () {
  "use strict";
  var url = document.body.getAttribute("data-poll");
  var lost = document.getElementById("panel-lost");
  var etag = null;
  var EVERY_MS = 15000;

  function poll() {
    var headers = etag ? { "If-None-Match": etag } : {};
    fetch(url, { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status !== 200 && response.status !== 304) { throw new Error(response.status); }
        lost.hidden = true;
        var tag = response.headers.get("ETag");
        if (response.status === 200 && etag !== null && tag !== etag) { window.location.reload(); return; }
        if (tag) { etag = tag; }
      })
      .catch(function () { lost.hidden = false; })
      .then(function () { window.setTimeout(poll, EVERY_MS); });
  }
  poll();
})();
