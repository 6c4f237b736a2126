// Lockstep web UI: progressive enhancement over server-rendered pages. Every page works without this
// file; with it, pages follow the run events live, the pause toggle needs no reload, and the grid and
// lists are keyboard-navigable. Hand-written, no dependencies, loaded with `script-src 'self'`.
(function () {
  "use strict";

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = csrfMeta ? csrfMeta.getAttribute("content") : "";

  // ---- Live regions: one event stream per page, refetch the regions it names -----------------------
  // A region is an element with data-live="<url of its fragment>". A burst of events costs one fetch
  // per region, not one per run (Airflow's auto-refresh asked for every run every 3 s).
  var LIFECYCLE = ["run.queued", "run.started", "run.succeeded", "run.failed", "run.cancelled", "task.queued",
    "task.scheduled", "task.started", "task.succeeded", "task.failed", "task.up_for_retry", "task.skipped",
    "task.upstream_failed", "task.cancelled"];
  var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live]"));
  var statusEl = document.getElementById("live-status");
  var refreshTimer = null, inFlight = false, again = false, pollTimer = null, stopped = false;

  function setStatus(text) { if (statusEl) { statusEl.textContent = text; } }

  function focusKey(el) {
    if (!el || el === document.body) { return null; }
    return el.id ? { id: el.id } : (el.getAttribute("data-key") ? { key: el.getAttribute("data-key") } : null);
  }

  function refreshRegion(region) {
    var url = region.getAttribute("data-live");
    return fetch(url, { credentials: "same-origin", headers: { "X-Lockstep-Fragment": "1", "Accept": "text/html" } })
      .then(function (response) {
        if (response.status === 401) { stopped = true; setStatus("session ended: reload to log in"); return null; }
        if (!response.ok) { return null; }
        return response.text();
      })
      .then(function (html) {
        if (html === null || html === undefined) { return; }
        // Nothing changed (the usual answer to the refresh on connecting): leave the DOM alone, so
        // focus, selection and the reader's place are untouched.
        var scratch = document.createElement(region.tagName);
        scratch.innerHTML = html;
        if (scratch.innerHTML === region.innerHTML) { return; }
        var active = region.contains(document.activeElement) ? focusKey(document.activeElement) : null;
        // What the reader opened stays open: a refresh must not fold a try or an output away.
        var open = Array.prototype.map.call(region.querySelectorAll("details[open][data-key]"),
          function (d) { return d.getAttribute("data-key"); });
        region.innerHTML = html;
        open.forEach(function (key) {
          var d = region.querySelector('details[data-key="' + CSS.escape(key) + '"]');
          if (d) { d.open = true; }
        });
        if (active) {
          var el = active.id ? document.getElementById(active.id)
            : region.querySelector('[data-key="' + CSS.escape(active.key) + '"]');
          if (el) { el.focus({ preventScroll: true }); }
        }
        region.dispatchEvent(new CustomEvent("lockstep:refreshed", { bubbles: true }));
      });
  }

  function refreshAll() {
    if (stopped || regions.length === 0) { return; }
    if (inFlight) { again = true; return; }
    inFlight = true;
    Promise.all(regions.map(refreshRegion)).catch(function () { /* the next event or poll tries again */ })
      .then(function () {
        inFlight = false;
        if (again) { again = false; scheduleRefresh(); }
      });
  }

  // A burst of events is one refresh 120 ms after its first event; under a steady stream, at most
  // one refresh starts every 500 ms, so a busy deployment costs a page two requests a second at most.
  var lastStart = 0;
  function scheduleRefresh() {
    if (refreshTimer) { return; }
    var wait = Math.max(120, lastStart + 500 - Date.now());
    refreshTimer = setTimeout(function () { refreshTimer = null; lastStart = Date.now(); refreshAll(); }, wait);
  }

  function startPolling() {
    if (pollTimer || stopped) { return; }
    setStatus("polling every 5 s");
    pollTimer = setInterval(refreshAll, 5000);
  }

  function stopPolling() { if (pollTimer) { clearInterval(pollTimer); pollTimer = null; } }

  var streamURL = document.body.getAttribute("data-stream");
  if (streamURL && regions.length > 0) {
    if (!window.EventSource) {
      startPolling();
    } else {
      var source = new EventSource(streamURL, { withCredentials: true });
      var fallback = null;
      source.addEventListener("open", function () {
        if (fallback) { clearTimeout(fallback); fallback = null; }
        stopPolling();
        setStatus("live");
        // Whatever happened between rendering the page and opening the stream.
        scheduleRefresh();
      });
      source.addEventListener("error", function () {
        if (source.readyState === EventSource.CLOSED) { startPolling(); return; }
        setStatus("reconnecting…");
        if (!fallback) { fallback = setTimeout(function () { fallback = null; startPolling(); }, 3000); }
      });
      LIFECYCLE.forEach(function (type) { source.addEventListener("lockstep." + type, scheduleRefresh); });
      window.addEventListener("pagehide", function () { source.close(); });
    }
  }

  // ---- Pause toggle: PATCH /api/v1/dags/{id} with the CSRF header; the form posts without JS -------
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("pause-toggle")) { return; }
    event.preventDefault();
    var button = form.querySelector("button");
    var pause = form.querySelector('input[name="is_paused"]').value === "true";
    var message = form.querySelector(".toggle-error");
    button.disabled = true;
    fetch(form.getAttribute("data-api"), {
      method: "PATCH", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken },
      body: JSON.stringify({ is_paused: pause })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      button.disabled = false;
      if (!result.ok) {
        if (message) { message.textContent = result.body.detail || "could not change it"; message.hidden = false; }
        return;
      }
      var paused = result.body.is_paused === true;
      var api = form.getAttribute("data-api");
      // The coordinator applies the pause from the ops topic a moment later; until the store shows
      // it, a live refresh would render the old state, so the toggle is held at what was asked for.
      pendingPause[api] = paused;
      showPaused(form, paused);
      if (message) { message.hidden = true; }
      confirmPaused(api, paused, Date.now() + 10000);
    }).catch(function () {
      button.disabled = false;
      if (message) { message.textContent = "the server did not answer; try again"; message.hidden = false; }
    });
  });

  var pendingPause = {};

  function showPaused(form, paused) {
    var button = form.querySelector("button");
    form.querySelector('input[name="is_paused"]').value = paused ? "false" : "true";
    button.setAttribute("aria-pressed", paused ? "true" : "false");
    button.querySelector(".label").textContent = paused ? "Paused" : "Active";
    button.querySelector(".glyph").textContent = paused ? "⏸" : "▶";
    button.title = paused ? "Paused: click to unpause" : "Active: click to pause";
    var row = form.closest("[data-paused]");
    if (row) { row.setAttribute("data-paused", paused ? "true" : "false"); }
  }

  function applyPending(root) {
    Object.keys(pendingPause).forEach(function (api) {
      root.querySelectorAll('form.pause-toggle[data-api="' + CSS.escape(api) + '"]').forEach(function (form) {
        showPaused(form, pendingPause[api]);
      });
    });
  }
  document.addEventListener("lockstep:refreshed", function (event) { applyPending(event.target); });

  // Asks the API until the DAG reads as asked (or 10 s pass), then lets the page refresh from the store.
  function confirmPaused(api, paused, deadline) {
    fetch(api, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (dag) {
        if ((dag && dag.is_paused === paused) || Date.now() > deadline) {
          delete pendingPause[api];
          scheduleRefresh();
        } else {
          setTimeout(function () { confirmPaused(api, paused, deadline); }, 100);
        }
      })
      .catch(function () { setTimeout(function () { confirmPaused(api, paused, deadline); }, 250); });
  }

  // ---- Grid: arrow keys move between cells, Home/End to the row's ends -----------------------------
  document.addEventListener("keydown", function (event) {
    var cell = event.target;
    if (!cell.classList || !cell.classList.contains("cell")) { return; }
    var td = cell.closest("td");
    var tr = td && td.parentElement;
    if (!tr) { return; }
    var row = Array.prototype.indexOf.call(tr.children, td);
    var target = null;
    switch (event.key) {
      case "ArrowRight": target = sibling(tr, row + 1); break;
      case "ArrowLeft": target = sibling(tr, row - 1); break;
      case "ArrowDown": target = tr.nextElementSibling && sibling(tr.nextElementSibling, row); break;
      case "ArrowUp": target = tr.previousElementSibling && sibling(tr.previousElementSibling, row); break;
      case "Home": target = tr.querySelector(".cell"); break;
      case "End": { var all = tr.querySelectorAll(".cell"); target = all[all.length - 1]; break; }
      default: return;
    }
    if (target) { event.preventDefault(); target.focus(); }
  });
  // Roving focus: Tab enters a grid once (at the cell last focused), the arrows move inside it.
  function rove(grid) {
    var cells = grid.querySelectorAll("a.cell");
    var current = grid.querySelector('a.cell[tabindex="0"]') || cells[cells.length - 1];
    Array.prototype.forEach.call(cells, function (c) { c.setAttribute("tabindex", c === current ? "0" : "-1"); });
  }
  document.querySelectorAll("table.grid").forEach(rove);
  document.addEventListener("lockstep:refreshed", function (event) {
    event.target.querySelectorAll("table.grid").forEach(rove);
    if (search) { search.dispatchEvent(new Event("input")); }
  });
  document.addEventListener("focusin", function (event) {
    var cell = event.target;
    if (!cell.classList || !cell.classList.contains("cell")) { return; }
    var grid = cell.closest("table.grid");
    if (!grid) { return; }
    grid.querySelectorAll('a.cell[tabindex="0"]').forEach(function (c) { c.setAttribute("tabindex", "-1"); });
    cell.setAttribute("tabindex", "0");
  });
  function sibling(tr, index) {
    var td = tr.children[index];
    return td ? td.querySelector(".cell") : null;
  }

  // ---- A task log: follow the try live without taking the scroll from a reader ---------------------
  // New lines are appended; the box scrolls with them only while the reader is at the bottom. A reader
  // who scrolled up keeps their place and gets a button to jump down. The DOM keeps the newest
  // MAX_LINES, so a log of any length never grows the page without bound.
  var logBox = document.getElementById("log-box");
  // The tail view opens at the newest line, where a reader of a log starts.
  if (logBox && logBox.getAttribute("data-at") === "end") { logBox.scrollTop = logBox.scrollHeight; }
  if (logBox && logBox.getAttribute("data-follow") && window.EventSource) {
    var MAX_LINES = 5000;
    var list = document.getElementById("log-lines");
    var newButton = document.getElementById("log-new");
    var logStatus = document.getElementById("log-status");
    var unseen = 0;
    var atBottom = function () { return logBox.scrollHeight - logBox.scrollTop - logBox.clientHeight < 8; };
    var follow = new EventSource(logBox.getAttribute("data-follow"));
    follow.addEventListener("line", function (event) {
      var line = JSON.parse(event.data);
      if (document.getElementById("L" + line.seq)) { return; }
      var stick = atBottom();
      var li = document.createElement("li");
      li.id = "L" + line.seq;
      li.setAttribute("data-seq", String(line.seq));
      if (line.stream === "stderr") { li.className = "stderr"; }
      [["t", line.time.slice(11, 19)], ["s", line.stream], ["x", line.text]].forEach(function (part) {
        var span = document.createElement("span");
        span.className = part[0];
        span.textContent = part[1];
        li.appendChild(span);
      });
      list.appendChild(li);
      var empty = document.getElementById("log-empty");
      if (empty) { empty.remove(); }
      while (list.children.length > MAX_LINES) { list.removeChild(list.firstElementChild); }
      if (stick) { logBox.scrollTop = logBox.scrollHeight; } else { unseen += 1; newButton.textContent = unseen + " new line" + (unseen === 1 ? "" : "s") + " below ↓"; newButton.hidden = false; }
    });
    follow.addEventListener("end", function () {
      follow.close();
      if (logStatus) { logStatus.textContent = "the try has ended"; }
    });
    follow.addEventListener("error", function () {
      if (follow.readyState === EventSource.CLOSED && logStatus) { logStatus.textContent = "not following: reload to try again"; }
    });
    logBox.addEventListener("scroll", function () { if (atBottom()) { unseen = 0; newButton.hidden = true; } });
    newButton.addEventListener("click", function () { logBox.scrollTop = logBox.scrollHeight; logBox.focus(); });
    window.addEventListener("pagehide", function () { follow.close(); });
  }

  // ---- DAG list: filter as you type (the form still searches on the server) ------------------------
  var search = document.getElementById("dag-search");
  if (search) {
    search.addEventListener("input", function () {
      var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      document.querySelectorAll("tr[data-search]").forEach(function (tr) {
        var hay = tr.getAttribute("data-search");
        tr.hidden = !words.every(function (w) { return hay.indexOf(w) >= 0; });
      });
    });
  }
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || !search) { return; }
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") { return; }
    event.preventDefault();
    search.focus();
  });
})();
