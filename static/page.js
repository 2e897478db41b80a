// Keeps the checklist page current: every 10 s it reads /api/v1/items and updates each item's
// state, reason and times in place. Text is set with textContent, never as HTML. Without
// JavaScript the server-rendered page is complete; it just does not refresh itself.
"use strict";
(function () {
  const PERIOD_MS = 10000;
  const LABELS = { pass: "Passing", fail: "Failing", error: "Undecidable", pending: "Not evaluated yet", stale: "Stale", not_applicable: "Not applicable" };

  function text(id, value) {
    const element = document.getElementById(id);
    if (element) element.textContent = String(value);
  }

  // The same words as the server's web::view::relative: whole units, cut.
  function relative(iso) {
    const at = Date.parse(iso || "");
    if (Number.isNaN(at)) return "";
    const delta = Math.round((Date.now() - at) / 1000);
    const seconds = Math.abs(delta);
    if (seconds < 10) return delta >= 0 ? "(just now)" : "(in a few seconds)";
    const amount = seconds < 60 ? seconds + " s" : seconds < 3600 ? Math.floor(seconds / 60) + " min"
      : seconds < 86400 ? Math.floor(seconds / 3600) + " h" : Math.floor(seconds / 86400) + " d";
    return delta >= 0 ? "(" + amount + " ago)" : "(in " + amount + ")";
  }

  function percent(part, whole) {
    return whole === 0 ? "100" : String(Math.round((part * 100) / whole));
  }

  function apply(document_) {
    const counts = { pass: 0, fail: 0, error: 0, pending: 0, stale: 0, not_applicable: 0 };
    for (const item of document_.items) {
      const state = item.stale ? "stale" : item.state;
      counts[state] += 1;
      const row = document.querySelector('[data-id="' + CSS.escape(item.id) + '"]');
      if (!row) continue;
      row.dataset.state = state;
      row.className = "item state-" + state;
      row.querySelector('[data-role="state"]').textContent = LABELS[state] || state;
      row.querySelector('[data-role="reason"]').textContent = item.reason || "";
      row.querySelector('[data-role="last"]').textContent = item.last_evaluation || "never";
      row.querySelector('[data-role="next"]').textContent =
        item.next_evaluation || (state === "not_applicable" ? "never" : "soon");
      row.querySelector('[data-role="last-ago"]').textContent = relative(item.last_evaluation);
      row.querySelector('[data-role="next-in"]').textContent = relative(item.next_evaluation);
    }
    const summary = document_.summary;
    const applicable = summary.items - summary.not_applicable;
    text("all-percent", percent(summary.pass, applicable) + "%");
    text("all-pass", summary.pass);
    text("all-items", applicable);
    text("critical-percent", percent(summary.critical_pass, summary.critical_items) + "%");
    text("critical-pass", summary.critical_pass);
    text("critical-items", summary.critical_items);
    for (const state of Object.keys(counts)) text("count-" + state, counts[state]);
    text("generated-at", document_.generated_at);
    text("live-status", " · live");
  }

  async function refresh() {
    try {
      // Relative to the page, so that it works below --web.route-prefix and behind a proxy path.
      // The environment the page shows, when the config declares environments.
      const environment = document.body.dataset.environment;
      const query = environment ? "?environment=" + encodeURIComponent(environment) : "";
      const response = await fetch("api/v1/items" + query, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error("HTTP " + response.status);
      apply(await response.json());
    } catch (error) {
      text("live-status", " · refresh failed (" + error.message + "); retrying");
    }
  }

  refresh();
  setInterval(refresh, PERIOD_MS);
})();
