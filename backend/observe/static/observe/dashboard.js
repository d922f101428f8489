// The dashboard's live parts: its numbers re-read from /dashboard/data/ every 2 s, and the event stream
// (EventSource on /dashboard/events/, which the browser re-opens after each bounded stream ends).
(function () {
  "use strict";
  var body = document.body;
  var POLL_MS = 2000;
  var STREAM_ROWS = 50;

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value === null || value === undefined ? "–" : String(value); }
  }

  function cell(row, cls, value) {
    var el = row.querySelector("." + cls);
    if (el) { el.textContent = value === null || value === undefined ? "–" : String(value); }
  }

  function list(id, items, render) {
    var el = document.getElementById(id);
    el.replaceChildren();
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = render(item);
      el.appendChild(li);
    });
  }

  function show(data) {
    text("at", data.at);
    text("covered", data.window_covered_seconds);
    Object.keys(data.families).forEach(function (name) {
      var f = data.families[name];
      var row = document.querySelector('tr[data-family="' + name + '"]');
      if (!row) { return; }
      cell(row, "ratio", f.window_hit_ratio === null ? null : Math.round(f.window_hit_ratio * 100) + "%");
      cell(row, "hits", f.hits);
      cell(row, "misses", f.misses);
      cell(row, "fills", f.fills);
      cell(row, "lease_waits", f.lease_waits);
    });
    var o = data.outbox;
    text("events-per-second", o.events_per_second);
    text("events-seen", data.counters.events_seen || 0);
    text("events-rejected", data.counters.events_rejected || 0);
    text("unprocessed", o.unprocessed);
    text("unsent", o.unsent);
    text("oldest-unprocessed", o.oldest_unprocessed_age_s);
    text("oldest-unsent", o.oldest_unsent_age_s);
    Object.keys(o.lag_ms).forEach(function (name) {
      var row = document.querySelector('tr[data-lag="' + name + '"]');
      var l = o.lag_ms[name];
      ["p50", "p95", "p99", "count"].forEach(function (k) { cell(row, k, l[k]); });
    });
    list("hot-lists", data.hot_lists, function (h) {
      return h.username + " (user " + h.user_id + ", page " + h.page + ", " + h.lists + " lists)";
    });
    var r = data.redis;
    if (r.error) { text("used-memory", r.error); return; }
    text("used-memory", r.used_memory_human);
    text("peak-memory", r.used_memory_peak_human);
    text("fragmentation", r.mem_fragmentation_ratio);
    text("dbsize", r.dbsize);
    text("keyspace", r.keyspace_hits + " / " + r.keyspace_misses);
    list("slowlog", r.slowlog, function (e) { return e.duration_us + " µs " + e.command; });
  }

  function poll() {
    fetch(body.dataset.dataUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { show(data); } })
      .catch(function () { /* the next poll tries again */ })
      .finally(function () { window.setTimeout(poll, POLL_MS); });
  }

  var received = 0;
  function listen() {
    var source = new EventSource(body.dataset.eventsUrl);
    source.addEventListener("open", function () { text("stream-state", "open"); });
    source.addEventListener("outbox", function (message) {
      var event = JSON.parse(message.data);
      var li = document.createElement("li");
      li.className = "event";
      li.dataset.kind = event.kind || "";
      li.textContent = (event.kind || "?") + " " + JSON.stringify(event.data || event) + " #" + (event.id || "");
      var el = document.getElementById("stream");
      el.insertBefore(li, el.firstChild);
      while (el.children.length > STREAM_ROWS) { el.removeChild(el.lastChild); }
      received += 1;
      text("stream-count", received);
    });
    source.addEventListener("end", function () { text("stream-state", "reconnecting"); });
    source.onerror = function () { text("stream-state", "reconnecting"); };
  }

  poll();
  listen();
})();
