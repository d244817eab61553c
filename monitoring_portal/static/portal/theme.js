/* Light / dark / auto theme. Loaded without defer in <head>: the theme is set before the first
 * paint, so a dark-mode reader never sees a white flash. "auto" (or nothing stored) follows
 * prefers-color-scheme, also when the system switches while the page is open. */
(function () {
  "use strict";
  var KEY = "portal-theme";
  var media = window.matchMedia("(prefers-color-scheme: dark)");

  function stored() {
    try {
      var value = localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : "auto";
    } catch (e) {
      return "auto"; // storage blocked (privacy mode): follow the system
    }
  }

  function apply(choice) {
    var theme = choice === "auto" ? (media.matches ? "dark" : "light") : choice;
    document.documentElement.setAttribute("data-bs-theme", theme);
    var buttons = document.querySelectorAll("[data-theme-choice]");
    for (var i = 0; i < buttons.length; i++) {
      var on = buttons[i].getAttribute("data-theme-choice") === choice;
      buttons[i].classList.toggle("active", on);
      buttons[i].setAttribute("aria-pressed", on ? "true" : "false");
    }
  }

  apply(stored());
  media.addEventListener("change", function () { apply(stored()); });

  document.addEventListener("DOMContentLoaded", function () {
    apply(stored());
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-theme-choice]");
      if (!button) return;
      var choice = button.getAttribute("data-theme-choice");
      try {
        if (choice === "auto") localStorage.removeItem(KEY);
        else localStorage.setItem(KEY, choice);
      } catch (e) { /* not remembered, still applied to this page */ }
      apply(choice);
    });
  });
})();
