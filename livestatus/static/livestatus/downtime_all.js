// "Downtime this host and all its services" on a host page: one POST to the bulk API with
// with_services (the server expands the host to its services), then each object's outcome.
(function () {
  "use strict";
  const form = document.getElementById("downtime-all-form");
  if (!form) return;
  const result = document.getElementById("downtime-all-result");
  // The API's result codes (livestatus.bulk.Result) in the reader's language. Looked up on
  // submit, not here: this script runs inline, before base.html loads the catalogue (/jsi18n/).
  function resultLabel(code) {
    const labels = {
      sent: gettext("sent"),
      failed: gettext("failed"),
      refused: gettext("refused"),
      invalid: gettext("invalid"),
    };
    return labels[code] || code;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const payload = {
      kind: "downtime",
      targets: [{ host: form.dataset.host }],
      with_services: true,
      fixed: true,
      duration: Number(document.getElementById("downtime-all-minutes").value) * 60,
      comment: document.getElementById("downtime-all-comment").value,
    };
    const list = document.createElement("ul");
    list.className = "small mb-0";
    list.id = "downtime-all-outcomes";
    let response;
    try {
      response = await fetch(form.dataset.url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value,
        },
        body: JSON.stringify(payload),
      });
    } catch {
      show(list, [[gettext("The portal did not answer: try again."), "failed"]]);
      return;
    }
    const body = await response.json().catch(() => null);
    if (body === null || typeof body !== "object") {  // not JSON: a proxy's or the server's error page
      show(list, [[interpolate(gettext("The portal answered HTTP %s."), [response.status]), "failed"]]);
      return;
    }
    const lines = Array.isArray(body.results)
      ? body.results.map((o) => [
          (o.service ? o.host + " / " + o.service : o.host) +
            ": " +
            resultLabel(o.result) +
            (o.error ? " (" + o.error + ")" : ""),
          o.result,
        ])
      : Object.entries(body).map(([field, errors]) => [
          interpolate(gettext("%(field)s: %(message)s"), { field: field, message: [].concat(errors).join(" ") }, true),
          "invalid",
        ]);
    show(list, lines);
  });

  function show(list, lines) {
    for (const [text, outcome] of lines) {
      const item = document.createElement("li");
      item.textContent = text;
      item.dataset.result = outcome;
      if (outcome !== "sent") item.className = "text-danger";
      list.append(item);
    }
    result.replaceChildren(list);
  }
})();
