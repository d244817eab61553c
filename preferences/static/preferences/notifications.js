/* My notifications and "Who would be notified?": every read and write goes through the
   public REST API (/api/v1/preferences/), with the session cookie and the CSRF token, so
   anything these pages do a script can do too. Plain JavaScript, no build step. */
(function () {
  "use strict";

  // --- helpers --------------------------------------------------------------------------

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function ApiError(status, body) {
    this.status = status;
    this.body = body;
    this.message = describeErrors(body) || "HTTP " + status;
  }

  function describeErrors(body) {
    if (!body || typeof body !== "object") return "";
    if (body.detail) return String(body.detail);
    return Object.keys(body)
      .map(function (key) { return key + ": " + [].concat(body[key]).join(" "); })
      .join("; ");
  }

  /** fetch JSON from the API; rejects with ApiError on a non-2xx answer. */
  function api(base, method, path, body) {
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    };
    if (method !== "GET") options.headers["X-CSRFToken"] = csrfToken();
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(base + path, options).then(function (response) {
      if (response.status === 204) return null;
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text.slice(0, 200) }; }
        if (!response.ok) throw new ApiError(response.status, data);
        return data;
      });
    });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    [].concat(children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  // Every visible word goes through Django's catalogue (/jsi18n/, loaded by base.html first).
  function _(text) {
    return interpolate(gettext(text), [].slice.call(arguments, 1));
  }

  // The API's words ("notify", "suppress", field names) stay in data-* attributes; these are
  // only what the page shows.
  var DECISION_LABELS = { notify: gettext("notify"), suppress: gettext("suppress") };

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  function splitNames(value) {
    return value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  }

  function fillSelect(select, values, selected) {
    select.replaceChildren.apply(select, values.map(function (v) {
      return el("option", { value: v, text: v, selected: v === selected });
    }));
  }

  function fillDatalist(list, values) {
    list.replaceChildren.apply(list, values.map(function (v) { return el("option", { value: v }); }));
  }

  /** Suggest registry names in a datalist; for comma-separated inputs, for the last name. */
  function suggestNames(base, input, list, kind, multiple) {
    var update = debounce(function () {
      var value = input.value;
      var cut = multiple ? value.lastIndexOf(",") + 1 : 0;
      var prefix = value.slice(0, cut);
      if (prefix && prefix.slice(-1) !== " ") prefix += " ";
      var query = value.slice(cut).trim();
      api(base, "GET", "choices/" + kind + "/?limit=20&q=" + encodeURIComponent(query)).then(function (data) {
        fillDatalist(list, data.results.map(function (name) { return prefix + name; }));
      }).catch(function () { /* suggestions are a convenience */ });
    }, 150);
    input.addEventListener("input", update);
    input.addEventListener("focus", update);
  }

  function decisionBadge(decision) {
    return el("span", {
      className: "badge fs-6 " + (decision === "notify" ? "text-bg-success" : "text-bg-secondary"),
      text: DECISION_LABELS[decision] || decision,
      "data-decision": decision,
    });
  }

  function showFieldErrors(form, body) {
    form.querySelectorAll(".is-invalid").forEach(function (n) { n.classList.remove("is-invalid"); });
    form.querySelectorAll("[data-error-for]").forEach(function (n) { n.textContent = ""; n.classList.remove("d-block"); });
    if (!body) return;
    Object.keys(body).forEach(function (field) {
      var target = form.querySelector('[data-error-for="' + field + '"]') || form.querySelector('[data-error-for="non_field_errors"]');
      var message = [].concat(body[field]).join(" ");
      if (target) {
        target.textContent = (target.getAttribute("data-error-for") === field ? "" : field + ": ") + message;
        target.classList.add("d-block");
      }
      var input = form.querySelector('[name="' + field + '"]');
      if (input) input.classList.add("is-invalid");
    });
  }

  // --- My notifications ---------------------------------------------------------------------

  var DAY_LABELS = {
    mon: gettext("Mon"), tue: gettext("Tue"), wed: gettext("Wed"), thu: gettext("Thu"),
    fri: gettext("Fri"), sat: gettext("Sat"), sun: gettext("Sun"),
  };
  var FIELD_LABELS = {
    hosts: gettext("hosts"), hostgroups: gettext("hostgroups"), services: gettext("services"),
    servicegroups: gettext("servicegroups"), states: gettext("states"), types: gettext("types"),
    channels: gettext("channels"),
  };
  var NAME_FIELDS = ["hosts", "hostgroups", "services", "servicegroups"];
  var CHECK_FIELDS = ["states", "types", "channels", "days"];

  function notificationsPage(root) {
    var base = root.getAttribute("data-api");
    var rules = [];
    var choices = null;
    var lastPreview = null;
    var errorBox = document.getElementById("page-error");
    var body = document.getElementById("rules-body");
    var editor = document.getElementById("rule-editor");
    var ruleForm = document.getElementById("rule-form");
    var profileForm = document.getElementById("profile-form");
    var previewForm = document.getElementById("preview-form");
    var result = document.getElementById("preview-result");

    function fail(error) {
      errorBox.textContent = error && error.message ? error.message : String(error);
      errorBox.classList.remove("d-none");
    }

    function clearFailure() { errorBox.classList.add("d-none"); }

    function summary(rule) {
      var parts = [];
      NAME_FIELDS.concat(["states", "types", "channels"]).forEach(function (field) {
        if (rule[field].length) parts.push(FIELD_LABELS[field] + ": " + rule[field].join(", "));
      });
      var windowed = rule.days.length || rule.start !== "00:00" || rule.end !== "24:00";
      if (windowed) {
        var days = rule.days.length ? rule.days.map(function (d) { return DAY_LABELS[d]; }).join(" ") : gettext("every day");
        parts.push(days + " " + rule.start + "–" + rule.end);
      }
      return parts.length ? parts.join("; ") : gettext("any notification");
    }

    function renderRules() {
      if (!rules.length) {
        body.replaceChildren(el("tr", {}, el("td", {
          colspan: "6", className: "text-body-secondary",
          text: gettext("No rules: your default decides every notification."),
        })));
        return;
      }
      body.replaceChildren.apply(body, rules.map(function (rule, index) {
        var decided = lastPreview && lastPreview.rule && lastPreview.rule.id === rule.id;
        return el("tr", {
          "data-rule-id": rule.id,
          className: [decided ? "table-info" : "", rule.enabled ? "" : "text-body-tertiary"].join(" ").trim() || null,
        }, [
          el("td", { text: String(index + 1) }),
          el("td", {}, el("div", { className: "form-check form-switch mb-0" }, el("input", {
            className: "form-check-input rule-enabled", type: "checkbox", role: "switch",
            checked: rule.enabled, "aria-label": _("Rule %s enabled", index + 1),
            onchange: function (event) { setEnabled(rule, event.target.checked); },
          }))),
          el("td", {}, el("span", {
            className: "badge " + (rule.action === "notify" ? "text-bg-success" : "text-bg-secondary"),
            text: DECISION_LABELS[rule.action] || rule.action,
          })),
          el("td", { className: "small" }, [summary(rule)].concat((rule.warnings || []).map(function (w) {
            return el("div", { className: "text-warning-emphasis rule-warning", role: "note", text: "⚠ " + w });
          }))),
          el("td", { className: "small", text: rule.comment }),
          el("td", { className: "text-end text-nowrap" }, [
            el("button", {
              type: "button", className: "btn btn-sm btn-outline-secondary", text: "↑",
              title: gettext("Move up"), "aria-label": _("Move rule %s up", index + 1), disabled: index === 0,
              onclick: function () { move(index, -1); },
            }),
            " ",
            el("button", {
              type: "button", className: "btn btn-sm btn-outline-secondary", text: "↓",
              title: gettext("Move down"), "aria-label": _("Move rule %s down", index + 1), disabled: index === rules.length - 1,
              onclick: function () { move(index, 1); },
            }),
            " ",
            el("button", {
              type: "button", className: "btn btn-sm btn-outline-primary", text: gettext("Edit"),
              "aria-label": _("Edit rule %s", index + 1), onclick: function () { openEditor(rule); },
            }),
            " ",
            el("button", {
              type: "button", className: "btn btn-sm btn-outline-danger", text: gettext("Delete"),
              "aria-label": _("Delete rule %s", index + 1), onclick: function () { remove(rule, index); },
            }),
          ]),
        ]);
      }));
    }

    function loadRules() {
      return api(base, "GET", "rules/?limit=1000&user=" + encodeURIComponent(root.getAttribute("data-username")))
        .then(function (data) { rules = data.results; renderRules(); });
    }

    function changed() {
      clearFailure();
      return loadRules().then(runPreview);
    }

    function setEnabled(rule, enabled) {
      api(base, "PATCH", "rules/" + rule.id + "/", { enabled: enabled }).then(changed).catch(function (e) {
        fail(e);
        renderRules();
      });
    }

    function move(index, delta) {
      var ids = rules.map(function (r) { return r.id; });
      var other = index + delta;
      var swap = ids[other];
      ids[other] = ids[index];
      ids[index] = swap;
      api(base, "POST", "rules/reorder/", { ids: ids }).then(changed).catch(fail);
    }

    function remove(rule, index) {
      var label = rule.comment ? _("Delete rule %s (%s)?", index + 1, rule.comment) : _("Delete rule %s?", index + 1);
      if (!window.confirm(label)) return;
      api(base, "DELETE", "rules/" + rule.id + "/").then(changed).catch(fail);
    }

    // The editor ----------------------------------------------------------------------------

    function checkboxes(field, values) {
      var container = ruleForm.querySelector('[data-checks="' + field + '"]');
      container.replaceChildren.apply(container, values.map(function (value) {
        var id = "rule-" + field + "-" + value;
        return el("div", { className: "form-check form-check-inline" }, [
          el("input", { className: "form-check-input", type: "checkbox", id: id, name: field, value: value }),
          el("label", { className: "form-check-label", for: id, text: field === "days" ? DAY_LABELS[value] : value }),
        ]);
      }));
    }

    function openEditor(rule) {
      showFieldErrors(ruleForm, null);
      ruleForm.reset();
      document.getElementById("rule-editor-heading").textContent = rule ? gettext("Edit rule") : gettext("New rule");
      document.getElementById("rule-id").value = rule ? rule.id : "";
      document.getElementById("rule-action").value = rule ? rule.action : "notify";  // what a new user means to add
      replayBox.replaceChildren();
      document.getElementById("rule-comment").value = rule ? rule.comment : "";
      document.getElementById("rule-enabled").checked = rule ? rule.enabled : true;
      NAME_FIELDS.forEach(function (field) {
        document.getElementById("rule-" + field).value = rule ? rule[field].join(", ") : "";
      });
      CHECK_FIELDS.forEach(function (field) {
        ruleForm.querySelectorAll('input[name="' + field + '"]').forEach(function (box) {
          box.checked = !!rule && rule[field].indexOf(box.value) >= 0;
        });
      });
      document.getElementById("rule-start").value = rule && rule.start !== "00:00" ? rule.start : "";
      document.getElementById("rule-end").value = rule && rule.end !== "24:00" ? rule.end : "";
      editor.classList.remove("d-none");
      document.getElementById("rule-action").focus();
    }

    function closeEditor() { editor.classList.add("d-none"); }

    function ruleFromForm() {
      var data = {
        action: document.getElementById("rule-action").value,
        comment: document.getElementById("rule-comment").value.trim(),
        enabled: document.getElementById("rule-enabled").checked,
        start: document.getElementById("rule-start").value.trim() || "00:00",
        end: document.getElementById("rule-end").value.trim() || "24:00",
      };
      NAME_FIELDS.forEach(function (field) { data[field] = splitNames(document.getElementById("rule-" + field).value); });
      CHECK_FIELDS.forEach(function (field) {
        data[field] = [].map.call(ruleForm.querySelectorAll('input[name="' + field + '"]:checked'), function (b) { return b.value; });
      });
      return data;
    }

    ruleForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var id = document.getElementById("rule-id").value;
      var request = id
        ? api(base, "PUT", "rules/" + id + "/", ruleFromForm())
        : api(base, "POST", "rules/", ruleFromForm());
      request.then(function () {
        closeEditor();
        return changed();
      }).catch(function (error) {
        if (error.status === 400) showFieldErrors(ruleForm, error.body);
        else fail(error);
      });
    });
    document.getElementById("add-rule").addEventListener("click", function () { openEditor(null); });

    // "Only notify me about this": the criteria as a notify rule, and the default to suppress.
    document.getElementById("only-rule").addEventListener("click", function () {
      var draft = ruleFromForm();
      delete draft.action;
      api(base, "POST", "rules/only/", draft).then(function () {
        closeEditor();
        return loadProfile().then(changed);
      }).catch(function (error) {
        if (error.status === 400) showFieldErrors(ruleForm, error.body);
        else fail(error);
      });
    });

    // Replay the draft in the editor over my last 7 days of real decisions.
    var replayBox = document.getElementById("replay-result");
    document.getElementById("replay-rule").addEventListener("click", function () {
      var id = document.getElementById("rule-id").value;
      var request = { rule: ruleFromForm() };
      if (id) request.replaces = Number(id);
      replayBox.setAttribute("aria-busy", "true");
      api(base, "POST", "replay/", request).then(function (answer) {
        showFieldErrors(ruleForm, null);
        renderReplay(answer);
      }).catch(function (error) {
        if (error.status === 400) showFieldErrors(ruleForm, error.body);
        replayBox.replaceChildren(el("div", { className: "text-danger small", text: error.message }));
      }).then(function () { replayBox.removeAttribute("aria-busy"); });
    });

    function renderReplay(answer) {
      var parts = [el("p", { className: "mb-2", id: "replay-summary" }, [
        el("strong", { text: _("%s fewer", answer.fewer) }), " " + gettext("and") + " ", el("strong", { text: _("%s more", answer.more) }),
        " " + _("notifications over your last 7 days (%s replayed, times in %s).", answer.replayed, answer.timezone),
      ])];
      if (answer.differences.length) {
        var zone = answer.timezone;
        parts.push(el("table", { className: "table table-sm small mb-0", id: "replay-table" }, [
          el("thead", {}, el("tr", {}, [gettext("Time"), gettext("Object"), gettext("Type"), gettext("Before → after"), gettext("Decided by")].map(function (t) {
            return el("th", { scope: "col", text: t });
          }))),
          el("tbody", {}, answer.differences.map(function (d) {
            var when;
            try { when = new Date(d.time).toLocaleString("sv-SE", { timeZone: zone }).slice(0, 16); } catch (e) { when = d.time; }
            return el("tr", { "data-decision-id": String(d.decision), "data-change": d.before + "-" + d.after }, [
              el("td", { className: "text-nowrap", text: when }),
              el("td", { text: d.service ? _("%s on %s", d.service, d.host) : d.host }),
              el("td", { text: d.type + " " + d.state }),
              el("td", {}, [decisionBadge(d.before), " → ", decisionBadge(d.after)]),
              el("td", { text: d.rule }),
            ]);
          })),
        ]));
      }
      replayBox.replaceChildren.apply(replayBox, parts);
    }
    document.getElementById("cancel-rule").addEventListener("click", closeEditor);
    NAME_FIELDS.forEach(function (field) {
      suggestNames(base, document.getElementById("rule-" + field), document.getElementById("choices-" + field), field, true);
    });

    // The profile ---------------------------------------------------------------------------

    function loadProfile() {
      return api(base, "GET", "profile/").then(function (profile) {
        document.getElementById("profile-default").value = profile.default;
        document.getElementById("profile-timezone").value = profile.timezone;
        if (profile.updated_at === null) return adoptBrowserZone(profile);
      });
    }

    /* First visit (a profile never saved): the browser's time zone is a better guess than the
       site's. Sent once: the saved profile has an updated_at from then on. The server checks
       the name; one it does not know leaves the site's zone. */
    function adoptBrowserZone(profile) {
      var zone = "";
      try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
      if (!zone || zone === profile.timezone) return null;
      return api(base, "PATCH", "profile/", { timezone: zone }).then(function (saved) {
        document.getElementById("profile-timezone").value = saved.timezone;
        document.getElementById("profile-status").textContent = _("Time zone set from your browser: %s.", saved.timezone);
      }).catch(function () { /* an unknown zone: keep the site's */ });
    }

    profileForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var status = document.getElementById("profile-status");
      status.textContent = "";
      api(base, "PUT", "profile/", {
        default: document.getElementById("profile-default").value,
        timezone: document.getElementById("profile-timezone").value.trim(),
      }).then(function () {
        showFieldErrors(profileForm, null);
        status.textContent = gettext("Saved.");
        return changed();
      }).catch(function (error) {
        if (error.status === 400) showFieldErrors(profileForm, error.body);
        else fail(error);
      });
    });

    // The preview ---------------------------------------------------------------------------

    var stateSelect = document.getElementById("preview-state");
    var serviceInput = document.getElementById("preview-service");

    function fillStates() {
      if (!choices) return;
      var service = serviceInput.value.trim() !== "";
      var states = service ? choices.service_states : choices.host_states;
      if (states.indexOf(stateSelect.value) < 0 || stateSelect.options.length !== states.length) {
        fillSelect(stateSelect, states, service ? "CRITICAL" : "DOWN");
      }
    }

    var previewSerial = 0;

    function runPreview() {
      var host = document.getElementById("preview-host").value.trim();
      if (!host || !choices) return Promise.resolve();
      var serial = ++previewSerial;
      var time = document.getElementById("preview-time").value;
      var request = {
        host: host,
        service: serviceInput.value.trim(),
        state: stateSelect.value,
        type: document.getElementById("preview-type").value,
        channel: document.getElementById("preview-channel").value.trim() || "email",
      };
      // The wall clock as typed, in the profile's time zone (the server places it there).
      if (time) request.local_time = time;
      result.setAttribute("aria-busy", "true");
      return api(base, "POST", "test/", request).then(function (answer) {
        if (serial !== previewSerial) return;  // a newer question is on its way
        lastPreview = answer;
        renderPreview(answer);
        renderRules();
      }).catch(function (error) {
        if (serial !== previewSerial) return;
        lastPreview = null;
        result.replaceChildren(el("div", { className: "text-danger small", text: error.message }));
        renderRules();
      }).then(function () { result.removeAttribute("aria-busy"); });
    }

    function renderPreview(answer) {
      var position = answer.rule ? rules.findIndex(function (r) { return r.id === answer.rule.id; }) + 1 : 0;
      var decidedBy = !answer.rule
        ? gettext("No rule matches: your default decides.")
        : answer.rule.comment
          ? _("Rule %s (%s) decides.", position, answer.rule.comment)
          : _("Rule %s decides.", position);
      var groups = answer.hostgroups.length ? answer.hostgroups.join(", ") : gettext("none");
      var parts = [
        el("p", { className: "mb-2", id: "preview-decision" }, [decisionBadge(answer.decision), " ", decidedBy]),
        el("p", { className: "small text-body-secondary mb-1", text: answer.reason }),
        el("p", { className: "small mb-1", id: "preview-time-evaluated", text: _("Evaluated at %s.", answer.local_time) }),
        answer.note ? el("p", { className: "small text-body-secondary mb-1", text: answer.note }) : null,
        el("p", {
          className: "small text-body-secondary mb-0",
          text: _("As contact %s in %s; host groups: %s", answer.contact, answer.timezone, groups) +
            (answer.service ? "; " + _("service groups: %s", answer.servicegroups.join(", ") || gettext("none")) : "") +
            (answer.host_known ? "" : " " + gettext("(host not in the registry)")),
        }),
      ];
      result.replaceChildren.apply(result, parts.filter(Boolean));
    }

    var previewSoon = debounce(runPreview, 200);
    previewForm.addEventListener("input", function (event) {
      if (event.target === serviceInput) fillStates();
      previewSoon();
    });
    previewForm.addEventListener("change", previewSoon);
    previewForm.addEventListener("submit", function (event) { event.preventDefault(); runPreview(); });
    suggestNames(base, document.getElementById("preview-host"), document.getElementById("preview-hosts"), "hosts", false);
    suggestNames(base, serviceInput, document.getElementById("preview-services"), "services", false);

    // Start ---------------------------------------------------------------------------------

    api(base, "GET", "choices/").then(function (data) {
      choices = data;
      checkboxes("states", data.host_states.concat(data.service_states));
      checkboxes("types", data.types);
      checkboxes("channels", data.channels);
      checkboxes("days", data.days);
      fillDatalist(document.getElementById("timezones"), data.timezones);
      fillDatalist(document.getElementById("preview-channels"), data.channels);
      fillSelect(document.getElementById("preview-type"), data.types, "PROBLEM");
      fillStates();
      return Promise.all([loadProfile(), loadRules()]);
    }).then(function () {
      root.setAttribute("data-ready", "true");
      return runPreview();
    }).catch(fail);
  }

  // --- Who would be notified? ---------------------------------------------------------------

  function whoPage(root) {
    var base = root.getAttribute("data-api");
    var form = document.getElementById("who-form");
    var output = document.getElementById("who-result");
    var host = document.getElementById("who-host");
    var service = document.getElementById("who-service");
    var state = document.getElementById("who-state");
    var type = document.getElementById("who-type");
    var choices = null;

    function fillStates() {
      if (!choices) return;
      var states = service.value.trim() ? choices.service_states : choices.host_states;
      if (states.indexOf(state.value) < 0) fillSelect(state, states, service.value.trim() ? "CRITICAL" : "DOWN");
    }

    function render(answer) {
      var what = answer.service ? _("%s on %s", answer.service, answer.host) : _("host %s", answer.host);
      var groups = _("host groups: %s", answer.hostgroups.join(", ") || gettext("none")) +
        (answer.service ? "; " + _("service groups: %s", answer.servicegroups.join(", ") || gettext("none")) : "");
      var heading = el("p", {}, [
        el("strong", { text: answer.type + " " + answer.state }), " " + _("for %s (%s)", what, groups),
      ]);
      if (!answer.contacts.length) {
        output.replaceChildren(heading, el("p", { className: "text-warning-emphasis", text: gettext("Nobody: the object has no contacts.") }));
        return;
      }
      var rows = [];
      answer.contacts.forEach(function (contact) {
        var channels = contact.channels.length ? contact.channels : [null];
        channels.forEach(function (channel, i) {
          var cells = [];
          if (i === 0) {
            cells.push(el("td", { rowspan: String(channels.length) }, [
              el("strong", { text: contact.contact }),
              el("div", { className: "small text-body-secondary", text: contact.user ? _("user %s", contact.user) : gettext("no portal user") }),
            ]));
            cells.push(el("td", { rowspan: String(channels.length), className: "small", text: contact.via.join(", ") }));
          }
          if (!channel) {
            cells.push(el("td", { colspan: "3", className: "text-body-secondary small", text: gettext("no notification commands") }));
          } else if (!contact.sent_by_naemon) {
            cells.push(el("td", { text: channel.channel || "(" + channel.command + ")" }));
            cells.push(el("td", {}, decisionBadge("suppress")));
            cells.push(el("td", { className: "small", text: _("Naemon does not send: %s", contact.naemon_reason) }));
          } else {
            cells.push(el("td", { text: channel.channel || "(" + channel.command + ")" }));
            cells.push(el("td", {}, decisionBadge(channel.decision)));
            cells.push(el("td", { className: "small" }, [
              channel.rule ? el("span", {
                text: (channel.rule.comment
                  ? _("Rule %s (%s)", channel.rule.position + 1, channel.rule.comment)
                  : _("Rule %s", channel.rule.position + 1)) + ": ",
              }) : null,
              channel.reason,
            ]));
          }
          rows.push(el("tr", { "data-contact": contact.contact, "data-channel": channel ? channel.channel : "" }, cells));
        });
      });
      output.replaceChildren(heading, el("table", { className: "table table-sm align-middle", id: "who-table" }, [
        el("thead", {}, el("tr", {}, [gettext("Contact"), gettext("Why a contact"), gettext("Channel"), gettext("Decision"), gettext("Because")].map(function (t) {
          return el("th", { scope: "col", text: t });
        }))),
        el("tbody", {}, rows),
      ]));
    }

    function ask() {
      if (!host.value.trim()) return;
      var query = new URLSearchParams({ host: host.value.trim(), state: state.value, type: type.value });
      if (service.value.trim()) query.set("service", service.value.trim());
      history.replaceState(null, "", "?" + query.toString());
      api(base, "GET", "who/?" + query.toString()).then(render).catch(function (error) {
        output.replaceChildren(el("div", { className: "alert alert-warning", text: error.message }));
      });
    }

    form.addEventListener("submit", function (event) { event.preventDefault(); ask(); });
    service.addEventListener("input", fillStates);
    suggestNames(base, host, document.getElementById("who-hosts"), "hosts", false);
    suggestNames(base, service, document.getElementById("who-services"), "services", false);
    api(base, "GET", "choices/").then(function (data) {
      choices = data;
      fillSelect(type, data.types, type.getAttribute("data-initial") || "PROBLEM");
      var states = service.value.trim() ? data.service_states : data.host_states;
      fillSelect(state, states, state.getAttribute("data-initial") || (service.value.trim() ? "CRITICAL" : "DOWN"));
      root.setAttribute("data-ready", "true");
      ask();
    }).catch(function (error) {
      output.replaceChildren(el("div", { className: "alert alert-danger", text: error.message }));
    });
  }

  var page = document.getElementById("notifications-page");
  if (page) notificationsPage(page);
  var who = document.getElementById("who-page");
  if (who) whoPage(who);
})();
