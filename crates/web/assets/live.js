// Tend: keeps the ward board live. Score and alert events for the ward (server-sent
// events from /api/events) trigger a refetch of the board's rows; patients whose band rose
// are announced to screen readers and highlighted. No inline script: the page's data
// attributes say which ward.
(function () {
  "use strict";
  var RANK = { none: 0, zero: 0, low: 1, "low-medium": 2, medium: 3, high: 4 };
  var BAND = { zero: "zero", low: "low", "low-medium": "low-medium", medium: "medium", high: "high", none: "no score" };

  function bands(tbody) {
    var out = {};
    tbody.querySelectorAll("tr[data-patient]").forEach(function (tr) {
      out[tr.dataset.patient] = tr.dataset.band;
    });
    return out;
  }

  function announce(text) {
    var region = document.getElementById("announce");
    if (!region) return;
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  function start() {
    var table = document.querySelector("table.board");
    var tbody = document.getElementById("board-rows");
    if (!table || !tbody || !window.EventSource) return;
    var ward = table.dataset.ward || "all";
    var state = document.getElementById("live-state");
    var pending = null;
    var inflight = false;

    function refresh() {
      pending = null;
      if (inflight) { pending = window.setTimeout(refresh, 200); return; }
      inflight = true;
      var before = bands(tbody);
      fetch("/board/rows?ward=" + encodeURIComponent(ward), { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) {
          tbody.innerHTML = html;
          var news = [];
          tbody.querySelectorAll("tr[data-patient]").forEach(function (tr) {
            var was = before[tr.dataset.patient];
            var now = tr.dataset.band;
            if (was === undefined || RANK[now] > RANK[was]) {
              if (RANK[now] >= 2) {
                tr.classList.add("changed");
                news.push(tr.dataset.label + ": NEWS2 " + tr.dataset.score + ", " + BAND[now] + " risk");
              }
            }
          });
          if (news.length) announce(news.join(". "));
          document.body.dataset.updated = String(Date.now());
        })
        .catch(function () { if (state) state.textContent = "could not refresh; retrying"; })
        .then(function () { inflight = false; });
    }

    function soon() {
      if (pending === null) pending = window.setTimeout(refresh, 150);
    }

    var url = "/api/events" + (ward === "all" ? "" : "?ward=" + encodeURIComponent("Location/" + ward));
    var source = new EventSource(url);
    source.addEventListener("open", function () { if (state) state.textContent = "live"; });
    source.addEventListener("error", function () { if (state) state.textContent = "reconnecting…"; });
    source.addEventListener("score", soon);
    source.addEventListener("alert", soon);
    // Times since the last set and to deadlines move on even without events.
    window.setInterval(soon, 60000);
  }

  // Charts open on the newest set: scrolled to their right-hand end.
  function newest() {
    document.querySelectorAll('[data-newest="right"]').forEach(function (el) {
      el.scrollLeft = el.scrollWidth;
    });
  }

  function ready() { newest(); start(); }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
