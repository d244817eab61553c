/* Control-room wall: polls /wall/data/ and redraws in place.
 *
 * Built to run for days on one screen: one polling timer and one clock timer for the page's
 * life, no listeners added per refresh, every panel replaced with replaceChildren() (old
 * nodes are freed), all text set through textContent (host names are data, not HTML).
 * When the portal does not answer, the wall says "connection lost", keeps retrying with
 * back-off, and greys out once its last data is older than the stale threshold.
 */
(function () {
  "use strict";

  const root = document.getElementById("wall");
  if (!root) return;
  const cfg = {
    url: root.dataset.dataUrl,
    kiosk: root.dataset.kiosk || "",
    // The setting is whole seconds; the floor only keeps a bad value from hammering the portal
    // (tests poll faster to see many refreshes in little time).
    refreshMs: Math.max(200, parseFloat(root.dataset.refresh || "5") * 1000),
    staleAfter: parseFloat(root.dataset.staleAfter || "30"),
    version: parseInt(root.dataset.version || "1", 10),
  };
  const $ = (id) => document.getElementById(id);
  const FETCH_TIMEOUT_MS = 10000;
  const MAX_BACKOFF_MS = 30000;

  // What we know: the last good answer, when it arrived (local clock), the current failure.
  let last = null;
  let receivedAt = 0;
  let failures = 0;
  let failure = ""; // "", "lost", "denied"
  let deniedMessage = "";
  let lostDetail = "";

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  function ago(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
    const s = Math.max(0, Math.round(seconds));
    if (s < 90) return s + " s";
    const m = Math.round(s / 60);
    if (m < 90) return m + " min";
    const h = Math.floor(s / 3600);
    if (h < 48) return h + " h " + (Math.floor(s / 60) % 60) + " min";
    return Math.floor(s / 86400) + " d";
  }

  // Seconds since the snapshot was taken, as of now (server clock at fetch + local elapsed).
  function snapshotAge() {
    if (!last || !last.snapshot) return null;
    return last.now - last.snapshot.taken_at + (Date.now() - receivedAt) / 1000;
  }

  function pill(label, count, severity, extra) {
    const node = el("span", "pill sev-" + (count ? severity : "ok"));
    node.dataset.count = label;
    node.appendChild(el("span", "n", count));
    node.appendChild(el("small", null, extra ? label + " " + extra : label));
    return node;
  }

  function renderSummary(snap) {
    const h = snap.hosts, s = snap.services;
    $("summary").replaceChildren(
      pill("down", h.down, "down"),
      pill("unreachable", h.unreachable, "unreachable"),
      pill("critical", s.critical, "critical"),
      pill("warning", s.warning, "warning"),
      pill("unknown", s.unknown, "unknown"),
      pill("unhandled", snap.problems_total, "critical"),
      el("span", "pill sev-pending", plural(h.total, "host") + " · " + plural(s.total, "service")),
    );
    // Objects nobody would be told about (preferences' coverage report), once it has been counted.
    if (snap.coverage) $("summary").appendChild(pill("nobody told", snap.coverage.objects, "warning"));
  }

  function renderNodes(snap) {
    $("nodes").replaceChildren(...snap.nodes.map((node) => {
      const box = el("div", "node" + (node.reachable ? "" : " down"));
      box.dataset.node = node.name;
      box.dataset.reachable = node.reachable ? "true" : "false";
      box.appendChild(el("b", null, node.name));
      box.appendChild(el("span", null, " " + node.role + (node.reachable ? " · up" : " · UNREACHABLE")));
      let meta;
      if (!node.reachable) {
        meta = (node.error || "no answer") + (node.last_ok ? " · last answer " + ago(last.now - node.last_ok) + " ago" : "");
      } else {
        meta = (node.version || "") + (node.program_start ? " · started " + ago(last.now - node.program_start) + " ago" : "");
      }
      const dep = node.deployment;
      if (dep) meta += " · deploy " + dep.state + (dep.at ? " " + ago(last.now - dep.at) + " ago" : "");
      box.appendChild(el("span", "meta", meta));
      // The cluster watch's verdict: a node that is down, and who checks its share meanwhile.
      const watch = node.cluster;
      if (watch && !watch.healthy) {
        box.classList.add("down");
        box.dataset.clusterDown = "true";
        box.appendChild(el("span", "meta", "DOWN since " + ago(last.now - watch.since) + " ago · " +
          (watch.taken_by ? "share taken by " + watch.taken_by : "nobody took its share")));
      }
      return box;
    }));
  }

  function renderTiles(snap) {
    const tiles = snap.hostgroups.map((group) => {
      const handled = !group.stale && group.unhandled === 0 && ["ok", "pending"].indexOf(group.severity) < 0;
      const tile = el("div", "tile sev-" + group.severity + (group.stale ? " stale" : "") + (handled ? " handled" : ""));
      tile.dataset.group = group.name;
      tile.dataset.severity = group.stale ? "stale" : group.severity;
      tile.appendChild(el("span", "name", group.name));
      const h = group.hosts, s = group.services;
      const bad = [];
      if (h.down) bad.push(h.down + " down");
      if (h.unreachable) bad.push(h.unreachable + " unreach");
      if (s.critical) bad.push(s.critical + " crit");
      if (s.warning) bad.push(s.warning + " warn");
      if (s.unknown) bad.push(s.unknown + " unkn");
      tile.appendChild(el("span", "counts", bad.length ? bad.join(" · ") : group.severity === "pending" ? "not checked yet" : "all OK"));
      tile.appendChild(el("span", "counts", group.stale ? "node unreachable: last known" : plural(h.total, "host") + " · " + plural(s.total, "service")));
      if (group.unhandled) tile.appendChild(el("span", "badge", group.unhandled));
      return tile;
    });
    if (!tiles.length) tiles.push(el("div", "empty", "No host groups."));
    $("tiles").replaceChildren(...tiles);
  }

  function renderProblems(snap) {
    $("problems-count").textContent = snap.problems_total > snap.problems.length
      ? "(" + snap.problems.length + " of " + snap.problems_total + ")"
      : "(" + snap.problems_total + ")";
    const rows = snap.problems.map((p) => {
      const tr = el("tr", p.stale ? "stale" : "");
      tr.dataset.host = p.host;
      tr.dataset.service = p.service;
      tr.dataset.state = p.label;
      tr.appendChild(el("td", "p-state sev-" + p.severity, p.label + (p.hard ? "" : " (soft)")));
      tr.appendChild(el("td", "p-host", p.host));
      tr.appendChild(el("td", "p-service", p.service || "(host)"));
      tr.appendChild(el("td", "p-age", p.since ? ago(last.now - p.since) : ""));
      tr.appendChild(el("td", "p-node", p.stale ? p.node + " (unreachable)" : p.node));
      tr.appendChild(el("td", "p-output", p.output));
      return tr;
    });
    if (!rows.length) {
      const tr = el("tr");
      tr.appendChild(el("td", "empty", "No unhandled problems."));
      rows.push(tr);
    }
    $("problems").replaceChildren(...rows);
  }

  function renderList(panelId, listId, items, available) {
    $(panelId).hidden = !available;
    if (!available) return;
    const lis = items.map(([n, text, extra]) => {
      const li = el("li");
      li.appendChild(el("span", "n", n));
      li.appendChild(document.createTextNode(" " + text));
      if (extra) li.appendChild(el("span", "empty", " " + extra));
      return li;
    });
    if (!lis.length) lis.push(el("li", "empty", "none"));
    $(listId).replaceChildren(...lis);
  }

  function renderTops(snap) {
    const tops = snap.tops || {};
    const hosts = tops.problem_hosts || [];
    renderList("panel-problem-hosts", "top-problem-hosts", hosts.map((r) => [r.problems, r.host, r.node]), hosts.length > 0);
    const noisy = tops.noisiest || {};
    renderList("panel-noisiest", "top-noisiest", (noisy.rows || []).map((r) => [r.changes, r.host + " / " + r.service]), !!noisy.available);
    const notified = tops.notified || {};
    renderList("panel-notified", "top-notified", (notified.rows || []).map((r) => [r.count, r.contact]), !!notified.available);
    const deps = snap.deployments || [];
    renderList("panel-deployments", "deployments", deps.map((d) => [
      d.node, d.state + (d.at ? " · " + ago(last.now - d.at) + " ago" : ""), d.error || d.reason,
    ]), true);
    // The state word gets its colour.
    Array.prototype.forEach.call($("deployments").children, (li, i) => {
      if (deps[i]) li.classList.add("dep-" + deps[i].state);
    });
  }

  // Banner, grey-out and data-status from what we know right now (also between polls).
  let bannerKey = "";

  function applyState() {
    if (!last && !failure) {
      root.dataset.status = "loading";
      return;
    }
    const snap = last && last.snapshot;
    const age = snapshotAge();
    const lines = [];
    let status = "ok";
    if (failure === "denied") {
      status = "denied";
      lines.push(["Access refused", deniedMessage]);
    } else if (failure === "lost") {
      status = "lost";
      lines.push(["Connection lost: no new status from the portal", lostDetail + "; retrying" + (receivedAt ? "; last data " + ago((Date.now() - receivedAt) / 1000) + " ago" : "")]);
    }
    if (last && !snap) {
      if (status === "ok") status = "nosnapshot";
      lines.push(["No status snapshot yet", "is the refresh task (Celery beat) running?"]);
    }
    const staleAfter = (last && last.stale_after) || cfg.staleAfter; // the server's setting wins
    const stale = !snap || age > staleAfter;
    if (snap && stale) {
      if (status === "ok") status = "stale";
      lines.push(["STALE: this status is " + ago(age) + " old", "what you see may no longer be true"]);
    }
    if (snap) {
      for (const node of snap.nodes) {
        if (!node.reachable) {
          if (status === "ok") status = "partial";
          lines.push(["Node " + node.name + " unreachable", node.error || "no answer"]);
        }
      }
      for (const name of snap.unwatched || []) {
        if (status === "ok") status = "partial";
        lines.push(["Node " + name + " not watched", "it has no Livestatus address: its hosts are not counted here"]);
      }
    }
    const banner = $("banner");
    const key = JSON.stringify(lines);
    if (key === bannerKey) {
      // unchanged: leave the DOM alone
    } else if (lines.length) {
      banner.replaceChildren(...lines.map(([title, detail]) => {
        const div = el("div", null, title);
        if (detail) div.appendChild(el("span", "detail", detail));
        return div;
      }));
      banner.hidden = false;
    } else {
      banner.hidden = true;
      banner.replaceChildren();
    }
    bannerKey = key;
    root.classList.toggle("is-stale", stale);
    root.dataset.status = status;
    $("age").textContent = snap ? "updated " + ago(age) + " ago" : "";
  }

  function render(data) {
    last = data;
    receivedAt = Date.now();
    const snap = data.snapshot;
    if (snap) {
      root.dataset.takenAt = String(snap.taken_at);
      renderSummary(snap);
      renderNodes(snap);
      renderTiles(snap);
      renderProblems(snap);
      renderTops(snap);
    }
    applyState();
  }

  function dataUrl() {
    return cfg.kiosk ? cfg.url + "?kiosk=" + encodeURIComponent(cfg.kiosk) : cfg.url;
  }

  async function poll() {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
    try {
      const response = await fetch(dataUrl(), {
        cache: "no-store", credentials: "same-origin", signal: controller.signal,
        headers: { Accept: "application/json" },
      });
      if (response.status === 401 || response.status === 403) {
        let message = "log in again, or ask for a new kiosk link";
        try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
        failure = "denied";
        deniedMessage = message;
        failures += 1;
      } else if (!response.ok) {
        let detail = "HTTP " + response.status;
        try { detail = (await response.json()).error || detail; } catch (e) { /* not JSON */ }
        throw new Error(detail);
      } else {
        const data = await response.json();
        if (data.version !== cfg.version) {
          window.location.reload(); // the portal was upgraded: load the matching page
          return;
        }
        failure = "";
        failures = 0;
        render(data);
      }
    } catch (error) {
      failure = "lost";
      lostDetail = error && error.name === "AbortError" ? "no answer within 10 s" : String((error && error.message) || error);
      failures += 1;
    } finally {
      clearTimeout(timer);
    }
    if (failure) applyState();
    const delay = failures ? Math.min(cfg.refreshMs * Math.pow(2, failures - 1), MAX_BACKOFF_MS) : cfg.refreshMs;
    setTimeout(poll, delay);
  }

  function tickClock() {
    const now = new Date();
    $("clock").textContent = now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    applyState();
  }

  tickClock();
  setInterval(tickClock, 1000);
  poll();
})();
