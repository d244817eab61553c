// The navigation bar's search box: suggestions from /status/search/ as one types, chosen with
// the arrow keys and Enter (or the mouse). Without JavaScript the form still searches the hosts list.
(function () {
  "use strict";
  const form = document.getElementById("nav-search");
  if (!form) return;
  const input = document.getElementById("nav-search-input");
  const list = document.getElementById("nav-search-list");
  let active = -1;
  let timer = null;
  let asked = 0; // answers to older keystrokes arrive late: only the newest is shown

  function options() {
    return Array.from(list.querySelectorAll("[role=option]"));
  }

  function close() {
    list.classList.remove("show");
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    const all = options();
    if (!all.length) return;
    active = (index + all.length) % all.length;
    all.forEach((option, i) => {
      option.classList.toggle("active", i === active);
      option.setAttribute("aria-selected", String(i === active));
    });
    input.setAttribute("aria-activedescendant", all[active].id);
    all[active].scrollIntoView({ block: "nearest" });
  }

  function show(results) {
    list.replaceChildren();
    if (!results.length) {
      const empty = document.createElement("li");
      empty.className = "dropdown-item-text text-body-secondary small";
      empty.textContent = gettext("Nothing found");
      list.append(empty);
    }
    results.forEach((result, i) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.className = "dropdown-item";
      link.href = result.url;
      link.id = "nav-search-option-" + i;
      link.setAttribute("role", "option");
      link.setAttribute("aria-selected", "false");
      const kind = document.createElement("span");
      kind.className = "badge text-bg-secondary me-2";
      kind.textContent = result.kind;
      link.append(kind, result.label);
      item.append(link);
      list.append(item);
    });
    active = -1;
    list.classList.add("show");
    input.setAttribute("aria-expanded", "true");
  }

  async function ask() {
    const text = input.value.trim();
    const mine = ++asked;
    if (!text) {
      close();
      return;
    }
    const response = await fetch(form.dataset.url + "?" + new URLSearchParams({ q: text }), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (mine !== asked || !response.ok) return;
    const body = await response.json();
    show(body.results);
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(ask, 150); // one request per pause in typing, not per key
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      highlight(active + 1);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      highlight(active - 1);
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      window.location.assign(options()[active].href);
    } else if (event.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 200)); // after a click on a suggestion
})();
