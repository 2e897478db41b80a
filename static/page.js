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

  // The filters the server applied (the page's query): a row whose new state no longer
  // matches them is hidden rather than shown against the filter. Rows the server left out
  // appear at the next reload of the page.
  const QUERY = new URLSearchParams(window.location.search);
  const ATTENTION = new Set(["fail", "error", "stale"]);
  function matches(state) {
    if (QUERY.get("filter") === "attention" && !ATTENTION.has(state)) return false;
    const wanted = QUERY.get("state");
    return !wanted || wanted === state;
  }

  // The reason, with an attestation's evidence address as a link, as the server renders it
  // (web::view::split_evidence): only for attested items, only http(s) without user-info.
  const EVIDENCE_MARK = "; evidence: ";
  const SAFE_URL = /^https?:\/\/[^\/?#@\s"<>`]+[^\s"<>`]*$/;
  function setReason(element, reason, kind) {
    element.textContent = "";
    const at = kind === "attested" ? reason.lastIndexOf(EVIDENCE_MARK) : -1;
    const url = at >= 0 ? reason.slice(at + EVIDENCE_MARK.length) : "";
    if (at < 0 || !SAFE_URL.test(url)) {
      element.textContent = reason;
      return;
    }
    element.append(reason.slice(0, at) + EVIDENCE_MARK);
    const link = document.createElement("a");
    link.className = "evidence";
    link.href = url;
    link.rel = "noopener noreferrer";
    link.textContent = url;
    element.append(link);
  }

  function apply(document_) {
    const counts = { pass: 0, fail: 0, error: 0, pending: 0, stale: 0, not_applicable: 0 };
    for (const item of document_.items) {
      const state = item.stale ? "stale" : item.state;
      counts[state] += 1;
      const row = document.querySelector('[data-id="' + CSS.escape(item.id) + '"]');
      if (!row) continue;
      row.classList.remove("state-" + row.dataset.state);
      row.classList.add("state-" + state);
      row.dataset.state = state;
      // A group stays: hiding it would hide members that may still match.
      row.hidden = !matches(state) && !row.classList.contains("group");
      const badge = row.querySelector('[data-role="state"]');
      badge.className = "badge state-" + state;
      badge.textContent = LABELS[state] || state;
      setReason(row.querySelector('[data-role="reason"]'), item.reason || "", row.dataset.kind);
      row.querySelector('[data-role="last"]').textContent = item.last_evaluation || "never";
      row.querySelector('[data-role="next"]').textContent =
        item.next_evaluation || (state === "not_applicable" ? "never" : "soon");
      row.querySelector('[data-role="last-ago"]').textContent = relative(item.last_evaluation);
      row.querySelector('[data-role="next-in"]').textContent = relative(item.next_evaluation);
    }
    // A group's "2 of 3 members pass", as web::page::members_summary counts it.
    const stateOf = new Map(document_.items.map((item) => [item.id, item.stale ? "stale" : item.state]));
    for (const group of document.querySelectorAll("[data-members]")) {
      const states = group.dataset.members.split(" ").map((id) => stateOf.get(id))
        .filter((state) => state !== undefined && state !== "not_applicable");
      const passing = states.filter((state) => state === "pass").length;
      const label = group.querySelector('[data-role="members"]');
      if (label) label.textContent = passing + " of " + states.length + (states.length === 1 ? " member passes" : " members pass");
    }
    // "Fix these first" keeps the causes the server ranked; a refresh updates how many items
    // each still blocks and marks the ones fixed since (a reload re-ranks them).
    const causes = new Map((document_.root_causes || []).map((c) => [c.name ? c.kind + " " + c.name : c.kind, c]));
    for (const entry of document.querySelectorAll("#root-causes li[data-subject]")) {
      const cause = causes.get(entry.dataset.subject);
      const count = entry.querySelector(".root-cause-count");
      entry.classList.toggle("cleared", !cause);
      if (count) count.textContent = cause ? "clears " + cause.items.length + (cause.items.length === 1 ? " item" : " items") : "fixed";
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
