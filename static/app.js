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
})();
