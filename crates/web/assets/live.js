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
      var q = "ward=" + encodeURIComponent(ward) +
        "&view=" + encodeURIComponent(table.dataset.view || "standard") +
        "&show=" + encodeURIComponent(table.dataset.show || "all") +
        "&sort=" + encodeURIComponent(table.dataset.sort || "risk");
      fetch("/board/rows?" + q, { credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) throw new Error(r.status);
          var counts = r.headers.get("x-tend-counts");
          var tab = document.getElementById("ward-counts");
          if (counts && tab) tab.textContent = counts.replace(", 0 alerts", "");
          return r.text();
        })
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
    source.addEventListener("sepsis", soon);
    source.addEventListener("alert", function (e) { soon(); if (table.dataset.sound === "on") chime(e); });
    // Times since the last set and to deadlines move on even without events.
    window.setInterval(soon, 60000);
  }

  // A new high alert, when the user turned sound on: a short tone (no sound file), and a
  // notification if the browser allows them.
  var audio = null;
  function chime(e) {
    var a;
    try { a = JSON.parse(e.data); } catch (err) { return; }
    var alert = a.data || a;
    // NEWS2 high, or PEWS high or emergency.
    if ((alert.band !== "high" && alert.band !== "emergency") || alert.lifecycle !== "raised") return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [0, 0.35].forEach(function (at) {
        var o = audio.createOscillator(), g = audio.createGain();
        o.frequency.value = 880; g.gain.value = 0.15;
        o.connect(g); g.connect(audio.destination);
        o.start(audio.currentTime + at); o.stop(audio.currentTime + at + 0.2);
      });
    } catch (err) { /* no audio on this device */ }
    if (window.Notification && Notification.permission === "granted") {
      new Notification("New high alert", { body: "NEWS2 high: open the alert inbox" });
    }
  }

  // Charts open on the newest set: scrolled to their right-hand end.
  function newest() {
    document.querySelectorAll('[data-newest="right"]').forEach(function (el) {
      el.scrollLeft = el.scrollWidth;
    });
  }

  // Turning sound on is the moment to ask for notifications (the browser needs a click).
  function askNotify() {
    document.querySelectorAll("a[data-ask-notify]").forEach(function (a) {
      a.addEventListener("click", function () {
        if (window.Notification && Notification.permission === "default") Notification.requestPermission();
      });
    });
  }

  // The alert inbox: refetched when a score or alert event arrives, unless the user is
  // typing a response or note (then a notice offers the refresh instead).
  function inbox() {
    var list = document.querySelector('ul.inbox[data-live="alerts"]');
    if (!list || !window.EventSource) return;
    var state = document.getElementById("inbox-state");
    var pending = null;
    function busy() {
      return Array.prototype.some.call(list.querySelectorAll("input[name=note], select"), function (f) {
        return f.value !== "" || f === document.activeElement;
      });
    }
    function refresh() {
      pending = null;
      if (busy()) {
        if (state) state.innerHTML = 'Alerts changed. <a href="/alerts">Show the latest</a>';
        return;
      }
      fetch("/alerts", { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.querySelector('ul.inbox[data-live="alerts"]');
          if (!fresh || busy()) return;
          var before = {};
          list.querySelectorAll("li[id]").forEach(function (li) { before[li.id] = true; });
          list.innerHTML = fresh.innerHTML;
          var added = [];
          list.querySelectorAll("li[id]").forEach(function (li) {
            if (!before[li.id]) { li.classList.add("changed"); added.push(li.querySelector(".alert-head").textContent.replace(/\s+/g, " ").trim()); }
          });
          if (added.length) announce("New alert: " + added.join(". "));
          document.body.dataset.updated = String(Date.now());
        })
        .catch(function () { if (state) state.textContent = "could not refresh; retrying"; });
    }
    function soon() { if (pending === null) pending = window.setTimeout(refresh, 150); }
    var source = new EventSource("/api/events");
    source.addEventListener("open", function () { if (state) state.textContent = "live"; });
    source.addEventListener("error", function () { if (state) state.textContent = "reconnecting…"; });
    source.addEventListener("alert", soon);
    source.addEventListener("sepsis", soon);
    window.setInterval(soon, 60000);
  }

  function ready() { newest(); askNotify(); start(); inbox(); }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
