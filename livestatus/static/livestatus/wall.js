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
    timeZone: root.dataset.timeZone || undefined,
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

  // Every visible word goes through Django's catalogue (/jsi18n/, loaded before this script).
  const _ = (text, ...values) => interpolate(gettext(text), values);

  function hostsAndServices(hosts, services) {
    return interpolate(ngettext("%s host", "%s hosts", hosts), [hosts]) + " · " +
      interpolate(ngettext("%s service", "%s services", services), [services]);
  }

  function ago(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
    const s = Math.max(0, Math.round(seconds));
    if (s < 90) return _("%s s", s);
    const m = Math.round(s / 60);
    if (m < 90) return _("%s min", m);
    const h = Math.floor(s / 3600);
    if (h < 48) return _("%s h %s min", h, Math.floor(s / 60) % 60);
    return _("%s d", Math.floor(s / 86400));
  }

  // Seconds since the snapshot was taken, as of now (server clock at fetch + local elapsed).
  function snapshotAge() {
    if (!last || !last.snapshot) return null;
    return last.now - last.snapshot.taken_at + (Date.now() - receivedAt) / 1000;
  }

  // Counts are only true when every node was asked and answered: a node unreachable or not
  // watched at all leaves its objects out, and a 0 from nobody must never read as a green 0.
  function countsKnown(snap) {
    return snap.nodes.length > 0 && snap.nodes.every((node) => node.reachable) && !(snap.unwatched || []).length;
  }

  // key stays English (data-count is for scripts and tests); label is what the room reads.
  function pill(key, label, count, severity, known) {
    const node = el("span", "pill " + (!known ? "sev-nocount" : "sev-" + (count ? severity : "ok")));
    node.dataset.count = key;
    node.dataset.known = known ? "true" : "false";
    node.appendChild(el("span", "n", known ? count : "?"));
    node.appendChild(el("small", null, label));
    return node;
  }

  function renderSummary(snap) {
    const h = snap.hosts, s = snap.services;
    const known = countsKnown(snap);
    $("summary").replaceChildren(
      pill("down", gettext("down"), h.down, "down", known),
      pill("unreachable", gettext("unreachable"), h.unreachable, "unreachable", known),
      pill("critical", gettext("critical"), s.critical, "critical", known),
      pill("warning", gettext("warning"), s.warning, "warning", known),
      pill("unknown", gettext("unknown"), s.unknown, "unknown", known),
      pill("unhandled", gettext("unhandled"), snap.problems_total, "critical", known),
      el("span", "pill sev-pending totals", known ? hostsAndServices(h.total, s.total) : gettext("? hosts · ? services")),
    );
    // Objects nobody would be told about (preferences' coverage report), once it has been counted.
    if (snap.coverage) {
      $("summary").appendChild(pill("nobody told", gettext("nobody told"), snap.coverage.objects, "warning", true));
    }
  }

  function renderNodes(snap) {
    $("nodes").replaceChildren(...snap.nodes.map((node) => {
      const box = el("div", "node" + (node.reachable ? "" : " down"));
      box.dataset.node = node.name;
      box.dataset.reachable = node.reachable ? "true" : "false";
      box.appendChild(el("b", null, node.name));
      box.appendChild(el("span", null, " " + node.role + " · " + (node.reachable ? gettext("up") : gettext("UNREACHABLE"))));
      let meta;
      if (!node.reachable) {
        meta = (node.error || gettext("no answer")) + (node.last_ok ? " · " + _("last answer %s ago", ago(last.now - node.last_ok)) : "");
      } else {
        meta = (node.version || "") + (node.program_start ? " · " + _("started %s ago", ago(last.now - node.program_start)) : "");
      }
      const dep = node.deployment;
      if (dep) {
        meta += " · " + _("deploy %s", dep.no_core ? gettext("rendered only") : dep.state) +
          (dep.at ? " " + _("%s ago", ago(last.now - dep.at)) : "");
      }
      box.appendChild(el("span", "meta", meta));
      // The cluster watch's verdict: a node that is down, and who checks its share meanwhile.
      const watch = node.cluster;
      if (watch && !watch.healthy) {
        box.classList.add("down");
        box.dataset.clusterDown = "true";
        box.appendChild(el("span", "meta", _("DOWN since %s ago", ago(last.now - watch.since)) + " · " +
          (watch.taken_by ? _("share taken by %s", watch.taken_by) : gettext("nobody took its share"))));
      }
      // Drift: the node runs other than it was last deployed (a hand edit, a failed deploy).
      if (node.drift) {
        box.dataset.drift = "true";
        box.appendChild(el("span", "meta", _("DRIFT: %s", node.drift.kinds.join(", ")) +
          (node.drift.since ? " · " + _("since %s ago", ago(last.now - node.drift.since)) : "")));
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
      if (h.down) bad.push(_("%s down", h.down));
      if (h.unreachable) bad.push(_("%s unreach", h.unreachable));
      if (s.critical) bad.push(_("%s crit", s.critical));
      if (s.warning) bad.push(_("%s warn", s.warning));
      if (s.unknown) bad.push(_("%s unkn", s.unknown));
      tile.appendChild(el("span", "counts", bad.length ? bad.join(" · ") : group.severity === "pending" ? gettext("not checked yet") : gettext("all OK")));
      tile.appendChild(el("span", "counts", group.stale ? gettext("node unreachable: last known") : hostsAndServices(h.total, s.total)));
      if (group.unhandled) tile.appendChild(el("span", "badge", group.unhandled));
      return tile;
    });
    if (!tiles.length) tiles.push(el("div", "empty", gettext("No host groups.")));
    $("tiles").replaceChildren(...tiles);
  }

  function renderProblems(snap) {
    const known = countsKnown(snap);
    $("problems-count").textContent = !known
      ? _("(%s known; not every node counted)", snap.problems_total)
      : snap.problems_total > snap.problems.length
        ? _("(%s of %s)", snap.problems.length, snap.problems_total)
        : "(" + snap.problems_total + ")";
    const rows = snap.problems.map((p) => {
      const tr = el("tr", p.stale ? "stale" : "");
      tr.dataset.host = p.host;
      tr.dataset.service = p.service;
      tr.dataset.state = p.label;
      tr.appendChild(el("td", "p-state sev-" + p.severity, p.label + (p.hard ? "" : " " + gettext("(soft)"))));
      tr.appendChild(el("td", "p-host", p.host));
      tr.appendChild(el("td", "p-service", p.service || gettext("(host)")));
      tr.appendChild(el("td", "p-age", p.since ? ago(last.now - p.since) : ""));
      tr.appendChild(el("td", "p-node", p.stale ? _("%s (unreachable)", p.node) : p.node));
      tr.appendChild(el("td", "p-output", p.output));
      return tr;
    });
    if (!rows.length) {
      const tr = el("tr");
      // Nothing listed is only good news when every node was counted.
      tr.appendChild(el("td", "empty", known ? gettext("No unhandled problems.") : gettext("None known: not every node is counted.")));
      rows.push(tr);
    }
    $("problems").replaceChildren(...rows);
    // "All OK" only when every object was counted and every one is UP/OK (not pending, not
    // acknowledged-but-broken): then the calm word fills the space the problem list leaves.
    const h = snap.hosts, s = snap.services;
    const allOk = known && h.total + s.total > 0 && snap.problems_total === 0 &&
      !h.down && !h.unreachable && !h.pending && !s.warning && !s.critical && !s.unknown && !s.pending;
    $("all-ok").hidden = !allOk;
    $("problems").closest("table").hidden = allOk;
    root.dataset.allOk = allOk ? "true" : "false";
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
    if (!lis.length) lis.push(el("li", "empty", gettext("none")));
    $(listId).replaceChildren(...lis);
  }

  // What changed in the last hour: counts, then the latest events, newest first.
  function renderChanges(changes) {
    $("changes").hidden = !changes.available;
    if (!changes.available) return;
    const word = { problem: gettext("new problem"), recovery: gettext("recovered"), acknowledgement: gettext("acknowledged") };
    const css = { problem: "c-problem", recovery: "c-recovery", acknowledgement: "c-ack" };
    const items = [el("li", "c-counts", [
      interpolate(ngettext("%s new problem", "%s new problems", changes.problems), [changes.problems]),
      interpolate(ngettext("%s recovery", "%s recoveries", changes.recoveries), [changes.recoveries]),
      interpolate(ngettext("%s acknowledged", "%s acknowledged", changes.acknowledgements), [changes.acknowledgements]),
    ].join(" · "))];
    for (const c of changes.rows || []) {
      const li = el("li", css[c.kind] || "", word[c.kind] + ": " + c.host + (c.service ? " / " + c.service : "") +
        (c.state ? " " + c.state : "") + " · " + _("%s ago", ago(last.now - c.at)));
      li.dataset.kind = c.kind;
      li.dataset.host = c.host;
      items.push(li);
    }
    $("changes-list").replaceChildren(...items);
  }

  function renderTops(snap) {
    const tops = snap.tops || {};
    const hosts = tops.problem_hosts || [];
    renderList("panel-problem-hosts", "top-problem-hosts", hosts.map((r) => [r.problems, r.host, r.node]), hosts.length > 0);
    const noisy = tops.noisiest || {};
    renderList("panel-noisiest", "top-noisiest", (noisy.rows || []).map((r) => [r.changes, r.host + " / " + r.service]), !!noisy.available);
    const notified = tops.notified || {};
    renderList("panel-notified", "top-notified", (notified.rows || []).map((r) => [r.count, r.contact]), !!notified.available);
    renderChanges(tops.changes || {});
    const deps = snap.deployments || [];
    renderList("panel-deployments", "deployments", deps.map((d) => [
      d.node, (d.no_core ? gettext("rendered only — no core attached") : d.state) + (d.at ? " · " + _("%s ago", ago(last.now - d.at)) : ""),
      d.error || d.reason,
    ]), true);
    // The state word gets its colour; a config no core runs is not a green "confirmed".
    Array.prototype.forEach.call($("deployments").children, (li, i) => {
      if (deps[i]) li.classList.add(deps[i].no_core ? "dep-nocore" : "dep-" + deps[i].state);
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
      lines.push([gettext("Access refused"), deniedMessage]);
    } else if (failure === "lost") {
      status = "lost";
      lines.push([gettext("Connection lost: no new status from the portal"), lostDetail + "; " + gettext("retrying") +
        (receivedAt ? "; " + _("last data %s ago", ago((Date.now() - receivedAt) / 1000)) : "")]);
    }
    if (last && !snap) {
      if (status === "ok") status = "nosnapshot";
      lines.push([gettext("No status snapshot yet"), gettext("is the refresh task (Celery beat) running?")]);
    }
    const staleAfter = (last && last.stale_after) || cfg.staleAfter; // the server's setting wins
    const stale = !snap || age > staleAfter;
    if (snap && stale) {
      if (status === "ok") status = "stale";
      lines.push([_("STALE: this status is %s old", ago(age)), gettext("what you see may no longer be true")]);
    }
    if (snap) {
      for (const node of snap.nodes) {
        if (!node.reachable) {
          if (status === "ok") status = "partial";
          lines.push([_("Node %s unreachable", node.name), node.error || gettext("no answer")]);
        }
      }
      for (const name of snap.unwatched || []) {
        if (status === "ok") status = "partial";
        lines.push([_("Node %s not watched", name), gettext("it has no Livestatus address: its hosts are not counted here")]);
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
    $("age").textContent = snap ? _("updated %s ago", ago(age)) : "";
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
        let message = gettext("log in again, or ask for a new kiosk link");
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
      lostDetail = error && error.name === "AbortError" ? gettext("no answer within 10 s") : String((error && error.message) || error);
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
    const options = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };
    try {
      $("clock").textContent = now.toLocaleTimeString("en-GB", { ...options, timeZone: cfg.timeZone });
    } catch (e) {
      // A zone this browser does not know: its own time rather than no clock.
      $("clock").textContent = now.toLocaleTimeString("en-GB", options);
    }
    applyState();
  }

  tickClock();
  setInterval(tickClock, 1000);
  poll();
})();
