// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Phones: the menu folds away behind a "Menu" button (open without JavaScript).
  var toggle = document.querySelector(".menu-toggle");
  var menu = document.getElementById("main-menu");
  if (toggle && menu) {
    toggle.hidden = false;
    var setOpen = function (open) {
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("collapsed", !open);
    };
    setOpen(!window.matchMedia("(max-width: 40rem)").matches);
    toggle.addEventListener("click", function () {
      setOpen(toggle.getAttribute("aria-expanded") !== "true");
    });
  }

  // The booking form: the repeat options only once "Repeats" says it repeats
  // (all shown without JavaScript), "Every" not for "Every weekday" (each week:
  // disabled, so it is neither sent nor reached with Tab), and the chosen
  // room's opening hours as the time fields' limits, its zone named beside them.
  var bookingForm = document.getElementById("booking-form");
  if (bookingForm) {
    var repeat = bookingForm.querySelector("#repeat");
    var details = bookingForm.querySelector(".repeat-details");
    var everyField = bookingForm.querySelector("#every-field");
    var every = bookingForm.querySelector("#every");
    if (repeat && details) {
      var showRepeat = function () {
        details.hidden = repeat.value === "none";
        if (everyField && every) {
          everyField.hidden = every.disabled = repeat.value === "weekdays";
        }
      };
      repeat.addEventListener("change", showRepeat);
      showRepeat();
    }
    var room = bookingForm.querySelector("#room_id");
    var zoneNote = bookingForm.querySelector("#room-zone");
    var lengthsNote = bookingForm.querySelector("#time-hint");
    if (room) {
      room.addEventListener("change", function () {
        var option = room.options[room.selectedIndex];
        ["start", "end"].forEach(function (id) {
          var input = bookingForm.querySelector("#" + id);
          if (!input) return;
          if (option && option.dataset.opens) {
            input.min = option.dataset.opens;
            input.max = option.dataset.closes;
          } else {
            input.removeAttribute("min");
            input.removeAttribute("max");
          }
        });
        if (zoneNote) {
          // The page's language: the note's two texts come translated in data attributes.
          zoneNote.textContent = option && option.dataset.timezone
            ? zoneNote.dataset.withRoom.replace("{zone}", option.dataset.timezone)
                .replace("{opens}", option.dataset.opens).replace("{closes}", option.dataset.closes)
            : zoneNote.dataset.withoutRoom;
        }
        if (lengthsNote) {
          // How long a booking may be there (its policy), said in the page's language.
          lengthsNote.textContent = option && option.dataset.lengths
            ? option.dataset.lengths : lengthsNote.dataset.withoutRoom;
        }
      });
    }
  }

  // A form sent back with errors: the keyboard starts at the first field at fault
  // (or at the form's own error when no field is), not at the top of the page.
  var wrong = document.querySelector("form [aria-invalid='true']");
  if (!wrong) {
    wrong = document.querySelector("main .form-error");
    if (wrong) { wrong.setAttribute("tabindex", "-1"); }
  }
  if (wrong) { wrong.focus(); }

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
