/* Copy buttons: <button data-copy="#id">. The Clipboard API needs a secure context (HTTPS or
 * localhost); elsewhere fall back to selecting the text and execCommand("copy"), and if even
 * that is refused leave the text selected so Ctrl+C copies it. */
(function () {
  "use strict";

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function fallback(node) {
    selectText(node);
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }

  function done(button, copied) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = copied ? gettext("Copied") : gettext("Press Ctrl+C");
    setTimeout(function () { button.textContent = label; }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var node = document.querySelector(button.getAttribute("data-copy"));
    if (!node) return;
    var text = node.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { done(button, true); },
        function () { done(button, fallback(node)); }
      );
    } else {
      done(button, fallback(node));
    }
  });
})();
