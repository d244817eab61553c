// Status lists: a selection of rows (checkboxes) and the bulk bar that acts on it.
//
// The table is swapped in place every few seconds (htmx), so the selection lives here, keyed by
// host and service, and is put back on the new rows after each swap. One action is one POST to
// the bulk API (session cookie + CSRF token); its answer lists every object's outcome.
(function () {
  "use strict";
  const bar = document.getElementById("bulk-bar");
  if (!bar) return;
  const selected = new Map(); // "host\tservice" -> {host, service}
  const count = document.getElementById("bulk-count");
  const kind = document.getElementById("bulk-kind");
  const result = document.getElementById("bulk-result");

  function keyOf(row) {
    return row.dataset.host + "\t" + row.dataset.service;
  }

  function boxes() {
    return document.querySelectorAll("#status-table input[data-select]");
  }

  // The row boxes under a group header: those of its host (compared as text, not as a selector).
  function hostBoxes(group) {
    const host = group.closest("tr").dataset.groupHost;
    return Array.from(boxes()).filter((box) => box.closest("tr").dataset.host === host);
  }

  function render() {
    for (const box of boxes()) box.checked = selected.has(keyOf(box.closest("tr")));
    const all = document.getElementById("select-all");
    const shown = Array.from(boxes());
    if (all) all.checked = shown.length > 0 && shown.every((box) => box.checked);
    // Grouped by host (?group=host): a host's box is ticked when every row of that host is.
    for (const group of document.querySelectorAll("#status-table input[data-select-group]")) {
      const mine = hostBoxes(group);
      group.checked = mine.length > 0 && mine.every((box) => box.checked);
    }
    count.textContent = interpolate(ngettext("%s selected", "%s selected", selected.size), [selected.size]);
    bar.hidden = selected.size === 0;
  }

  function showFields() {
    for (const part of bar.querySelectorAll("[data-for]")) {
      part.hidden = !part.dataset.for.split(" ").includes(kind.value);
    }
  }

  document.addEventListener("change", (event) => {
    const box = event.target;
    if (box.id === "select-all" || (box.matches && box.matches("#status-table input[data-select-group]"))) {
      for (const other of box.id === "select-all" ? boxes() : hostBoxes(box)) {
        const row = other.closest("tr");
        if (box.checked) selected.set(keyOf(row), { host: row.dataset.host, service: row.dataset.service });
        else selected.delete(keyOf(row));
      }
    } else if (box.matches && box.matches("#status-table input[data-select]")) {
      const row = box.closest("tr");
      if (box.checked) selected.set(keyOf(row), { host: row.dataset.host, service: row.dataset.service });
      else selected.delete(keyOf(row));
    } else {
      return;
    }
    render();
  });
  // After every in-place refresh, the new rows get their ticks back.
  document.addEventListener("htmx:load", render);
  kind.addEventListener("change", showFields);
  document.getElementById("bulk-clear").addEventListener("click", () => {
    selected.clear();
    render();
  });

  function line(text, className) {
    const item = document.createElement("li");
    item.textContent = text;
    if (className) item.className = className;
    return item;
  }

  // The API's result codes (livestatus.bulk.Result) in the reader's language, as downtime_all.js.
  function resultLabel(code) {
    const labels = {
      sent: gettext("sent"),
      failed: gettext("failed"),
      refused: gettext("refused"),
      invalid: gettext("invalid"),
    };
    return labels[code] || code;
  }

  function showAnswer(status, body) {
    result.replaceChildren();
    const box = document.createElement("div");
    box.className = "alert " + (status === 200 ? "alert-success" : "alert-warning");
    box.setAttribute("role", "status");
    const list = document.createElement("ul");
    list.className = "mb-0";
    list.id = "bulk-outcomes";
    if (body && Array.isArray(body.results)) {
      const counts = Object.entries(body.counts || {}).filter(([, n]) => n > 0);
      box.append(kind.selectedOptions[0].text + ": " + counts.map(([name, n]) => n + " " + resultLabel(name)).join(", "));
      for (const outcome of body.results) {
        const name = outcome.service ? outcome.host + " / " + outcome.service : outcome.host;
        const text = name + ": " + resultLabel(outcome.result) + (outcome.error ? " (" + outcome.error + ")" : "");
        const item = line(text, outcome.result === "sent" ? "" : "text-danger");
        item.dataset.result = outcome.result;
        list.append(item);
      }
    } else {
      // A 400 names the field: {"comment": ["A comment is required."]}.
      box.append(interpolate(gettext("Nothing was sent (%s)."), [status]));
      for (const [field, errors] of Object.entries(body || {})) {
        list.append(line(field + ": " + [].concat(errors).join(" "), "text-danger"));
      }
    }
    box.append(list);
    result.append(box);
  }

  bar.addEventListener("submit", async (event) => {
    event.preventDefault();
    const payload = { kind: kind.value, targets: Array.from(selected.values()) };
    if (["acknowledge", "downtime", "comment"].includes(kind.value)) {
      payload.comment = document.getElementById("bulk-comment").value;
    }
    if (kind.value === "downtime") {
      payload.fixed = true;
      payload.duration = Number(document.getElementById("bulk-duration").value) * 60;
    }
    const send = document.getElementById("bulk-send");
    send.disabled = true;
    try {
      const response = await fetch(bar.dataset.url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": bar.querySelector("[name=csrfmiddlewaretoken]").value,
        },
        body: JSON.stringify(payload),
      });
      let body = null;
      try {
        body = await response.json();
      } catch (error) {
        body = { error: [response.statusText || "no JSON answer"] };
      }
      showAnswer(response.status, body);
      if (response.status === 200) {
        selected.clear();
        render();
      }
    } catch (error) {
      showAnswer(0, { error: [String(error)] });
    } finally {
      send.disabled = false;
    }
  });

  showFields();
  render();
})();
