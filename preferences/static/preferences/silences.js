/* Silences: created and ended early through the public REST API (/api/v1/preferences/silences/),
   with the session cookie and the CSRF token, then the page reloads to show the list. */
(function () {
  "use strict";
  var page = document.getElementById("silences-page");
  if (!page) return;
  var api = page.getAttribute("data-api");

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // The API's field names as the form's labels say them, in the reader's language (the API's
  // own messages stay as it gives them: see docs/i18n.md).
  var LABELS = {
    hosts: gettext("Host"),
    services: gettext("Service"),
    comment: gettext("Comment"),
    ends_at: gettext("For"),
  };

  function describe(errors) {
    return Object.keys(errors).map(function (key) {
      var message = [].concat(errors[key]).join(" ");
      if (key === "detail" || key === "non_field_errors") return message;
      return interpolate(gettext("%(field)s: %(message)s"), { field: LABELS[key] || key, message: message }, true);
    }).join("; ");
  }

  function send(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      if (response.ok) return response;
      return response.json().then(function (errors) {
        throw new Error(describe(errors));
      }, function () {  // not JSON: a proxy's or the server's error page
        throw new Error(interpolate(gettext("The portal answered HTTP %s."), [response.status]));
      });
    }, function () {
      throw new Error(gettext("The portal did not answer: try again."));
    });
  }

  function failed(prefix) {
    return function (error) {
      document.getElementById("silence-error").textContent = prefix + " " + error.message;
    };
  }

  function names(value) {
    return value.split(",").map(function (part) { return part.trim(); }).filter(Boolean);
  }

  var form = document.getElementById("silence-form");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var seconds = Number(form.elements.duration.value);
    var body = {
      hosts: names(form.elements.hosts.value),
      services: names(form.elements.services.value),
      comment: form.elements.comment.value,
      ends_at: new Date(Date.now() + seconds * 1000).toISOString(),
    };
    send("POST", api, body).then(function () { window.location.reload(); }, failed(gettext("Not muted:")));
  });

  Array.prototype.forEach.call(document.querySelectorAll(".end-silence"), function (button) {
    button.addEventListener("click", function () {
      send("DELETE", button.getAttribute("data-url")).then(function () { window.location.reload(); }, failed(gettext("Not ended:")));
    });
  });
})();
