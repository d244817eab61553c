// "Downtime this host and all its services" on a host page: one POST to the bulk API with
// with_services (the server expands the host to its services), then each object's outcome.
(function () {
  "use strict";
  const form = document.getElementById("downtime-all-form");
  if (!form) return;
  const result = document.getElementById("downtime-all-result");

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
    const response = await fetch(form.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value,
      },
      body: JSON.stringify(payload),
    });
    const body = await response.json().catch(() => ({}));
    const list = document.createElement("ul");
    list.className = "small mb-0";
    list.id = "downtime-all-outcomes";
    const lines = Array.isArray(body.results)
      ? body.results.map((o) => [
          (o.service ? o.host + " / " + o.service : o.host) + ": " + o.result + (o.error ? " (" + o.error + ")" : ""),
          o.result,
        ])
      : Object.entries(body).map(([field, errors]) => [field + ": " + [].concat(errors).join(" "), "invalid"]);
    for (const [text, outcome] of lines) {
      const item = document.createElement("li");
      item.textContent = text;
      item.dataset.result = outcome;
      if (outcome !== "sent") item.className = "text-danger";
      list.append(item);
    }
    result.replaceChildren(list);
  });
})();
