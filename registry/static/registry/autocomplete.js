/* Name lists of the registry forms (templates, groups, contacts, parents): chips and suggestions.
 *
 * Progressive enhancement of registry/forms.py's NamesInput, a text input of comma-separated
 * names that works as it is without JavaScript. Here it is hidden and kept in sync (same field
 * name, so the form and the serializer see what they always saw) behind a combobox:
 *   - typing suggests names: from the page (data-options) for small sets, else from the registry
 *     API (data-source, ?q=, debounced) so that thousands of hosts are never put in the page;
 *   - ArrowDown/ArrowUp move through the suggestions, Enter (or a comma) adds the highlighted one
 *     (or the typed name), Escape closes them, Backspace in an empty box removes the last chip;
 *   - each chip has a remove button and, where the order matters (templates: the first wins),
 *     move up/down buttons.
 * Strings go through Django's JavaScript catalogue (gettext, interpolate).
 */
(function () {
  "use strict";

  const DEBOUNCE_MS = 200;
  const MAX_SUGGESTIONS = 20;
  let counter = 0;

  function split(value) {
    return value.split(",").map((name) => name.trim()).filter(Boolean);
  }

  function button(text, label, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "btn btn-sm btn-link p-0 text-reset text-decoration-none";
    b.textContent = text;
    b.setAttribute("aria-label", label);
    b.title = label;
    b.addEventListener("click", onClick);
    return b;
  }

  /* Names matching the typed text, not chosen yet: an exact match first, then prefixes. */
  function rank(text, names, chosen) {
    const t = text.toLowerCase();
    const score = (n) => (n.toLowerCase() === t ? 0 : n.toLowerCase().startsWith(t) ? 1 : 2);
    return names
      .filter((n) => !chosen.includes(n) && n.toLowerCase().includes(t))
      .sort((a, b) => score(a) - score(b) || a.localeCompare(b))
      .slice(0, MAX_SUGGESTIONS);
  }

  function enhance(field) {
    const n = ++counter;
    const ordered = field.dataset.ordered === "true";
    const options = field.dataset.options ? JSON.parse(field.dataset.options) : null;
    const source = field.dataset.source || "";
    const slug = field.dataset.slug || "name";
    let tokens = split(field.value);
    let suggestions = [];
    let active = -1;
    let timer = null;
    let pending = null;

    const wrapper = document.createElement("div");
    wrapper.className = "position-relative";
    const box = document.createElement("div");
    box.className = "form-control d-flex flex-wrap gap-1 align-items-center";
    const chips = document.createElement("ul");
    chips.className = "list-unstyled d-flex flex-wrap gap-1 mb-0";
    chips.dataset.chips = field.name;
    const input = document.createElement("input");
    input.type = "text";
    input.className = "border-0 flex-grow-1 bg-transparent text-reset";
    input.style.outline = "none";
    input.style.minWidth = "10em";
    input.autocomplete = "off";
    // The page's <label for> names the box the user types in.
    input.id = field.id;
    field.id = `${field.id}-value`;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    if (field.getAttribute("aria-required")) input.setAttribute("aria-required", "true");
    const listbox = document.createElement("ul");
    listbox.id = `autocomplete-${n}-listbox`;
    listbox.className = "list-group position-absolute w-100 shadow-sm";
    listbox.style.zIndex = "1050";
    listbox.setAttribute("role", "listbox");
    listbox.hidden = true;
    input.setAttribute("aria-controls", listbox.id);
    const status = document.createElement("div");
    status.className = "visually-hidden";
    status.setAttribute("aria-live", "polite");
    box.append(chips, input);
    box.addEventListener("click", (event) => {
      if (event.target === box || event.target === chips) input.focus();
    });
    wrapper.append(box, listbox, status);
    field.hidden = true;
    field.after(wrapper);

    function say(text) {
      status.textContent = text;
    }

    function sync() {
      field.value = tokens.join(", ");
      field.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function render() {
      chips.replaceChildren(
        ...tokens.map((name, i) => {
          const chip = document.createElement("li");
          chip.className = "badge text-bg-secondary d-inline-flex align-items-center gap-1 fs-6 fw-normal";
          chip.dataset.token = name;
          const text = document.createElement("span");
          text.textContent = name;
          chip.append(text);
          if (ordered) {
            const up = button("↑", interpolate(gettext("Move %s up"), [name]), () => move(i, -1));
            const down = button("↓", interpolate(gettext("Move %s down"), [name]), () => move(i, 1));
            up.disabled = i === 0;
            down.disabled = i === tokens.length - 1;
            chip.append(up, down);
          }
          chip.append(button("×", interpolate(gettext("Remove %s"), [name]), () => remove(i)));
          return chip;
        }),
      );
    }

    function add(name) {
      name = name.trim();
      input.value = "";
      close();
      if (!name) return;
      if (tokens.includes(name)) {
        say(interpolate(gettext("%s is already chosen."), [name]));
        return;
      }
      tokens.push(name);
      render();
      sync();
      say(interpolate(gettext("%s added."), [name]));
    }

    function remove(i) {
      const [name] = tokens.splice(i, 1);
      render();
      sync();
      say(interpolate(gettext("%s removed."), [name]));
      input.focus();
    }

    function move(i, by) {
      const j = i + by;
      if (j < 0 || j >= tokens.length) return;
      [tokens[i], tokens[j]] = [tokens[j], tokens[i]];
      render();
      sync();
      say(interpolate(gettext("%(name)s is now number %(position)s."), { name: tokens[j], position: j + 1 }, true));
      // Keep the focus on the moved chip's same button, for pressing it again.
      const again = chips.children[j].querySelectorAll("button")[by < 0 ? 0 : 1];
      (again && !again.disabled ? again : input).focus();
    }

    function close() {
      suggestions = [];
      active = -1;
      listbox.hidden = true;
      listbox.replaceChildren();
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight() {
      [...listbox.children].forEach((option, i) => {
        option.classList.toggle("active", i === active);
        option.setAttribute("aria-selected", String(i === active));
      });
      if (active >= 0) input.setAttribute("aria-activedescendant", `${listbox.id}-${active}`);
      else input.removeAttribute("aria-activedescendant");
    }

    function show(names) {
      suggestions = names;
      active = names.length ? 0 : -1;
      listbox.replaceChildren(
        ...names.map((name, i) => {
          const option = document.createElement("li");
          option.id = `${listbox.id}-${i}`;
          option.className = "list-group-item list-group-item-action";
          option.setAttribute("role", "option");
          option.textContent = name;
          // mousedown, not click: the box keeps the focus.
          option.addEventListener("mousedown", (event) => {
            event.preventDefault();
            add(name);
          });
          return option;
        }),
      );
      listbox.hidden = !names.length;
      input.setAttribute("aria-expanded", String(names.length > 0));
      highlight();
      if (!names.length && input.value.trim()) say(gettext("No matches."));
    }

    async function fetchSuggestions(text) {
      if (pending) pending.abort();
      pending = new AbortController();
      const url = new URL(source, window.location.href);
      if (text) url.searchParams.set("q", text);
      url.searchParams.set("limit", String(MAX_SUGGESTIONS));
      try {
        const response = await fetch(url, {
          signal: pending.signal,
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        if (!response.ok) throw new Error(String(response.status));
        const body = await response.json();
        const rows = Array.isArray(body) ? body : body.results || [];
        // An older answer than what the box says now: a newer request is on its way.
        if (input.value.trim() !== text) return;
        show(rank(text, rows.map((row) => String(row[slug])), tokens));
        input.setAttribute("aria-busy", "false");
      } catch (error) {
        if (error.name !== "AbortError") {
          input.setAttribute("aria-busy", "false");
          say(gettext("Suggestions are unavailable: type the names."));
        }
      }
    }

    function suggest() {
      const text = input.value.trim();
      if (options) {
        show(rank(text, options, tokens));
      } else if (source) {
        // Busy until the answer for what the box says now is shown (assistive technology, tests).
        input.setAttribute("aria-busy", "true");
        clearTimeout(timer);
        timer = setTimeout(() => fetchSuggestions(text), DEBOUNCE_MS);
      }
    }

    input.addEventListener("input", suggest);
    input.addEventListener("focus", suggest);
    input.addEventListener("blur", close);
    input.addEventListener("keydown", (event) => {
      const open = !listbox.hidden && suggestions.length > 0;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (!open) {
          suggest();
          return;
        }
        const step = event.key === "ArrowDown" ? 1 : -1;
        active = (active + step + suggestions.length) % suggestions.length;
        highlight();
      } else if (event.key === "Enter" || event.key === ",") {
        const text = input.value.trim();
        if (open && active >= 0) {
          event.preventDefault();
          add(suggestions[active]);
        } else if (text) {
          event.preventDefault();
          add(text);
        }
        // Enter in an empty box submits the form, as in any text field.
      } else if (event.key === "Backspace" && input.value === "" && tokens.length) {
        event.preventDefault();
        remove(tokens.length - 1);
      } else if (event.key === "Escape" && open) {
        event.preventDefault();
        close();
      }
    });
    // A name typed but not added yet is still meant: keep it when the form is sent.
    field.form?.addEventListener("submit", () => {
      if (input.value.trim()) add(input.value);
    });
    render();
  }

  document.querySelectorAll('input[data-autocomplete="names"]').forEach(enhance);
})();
