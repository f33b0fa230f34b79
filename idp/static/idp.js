// Small behaviours of every page (loaded with defer; the CSP forbids inline scripts).
(function () {
  "use strict";
  // Show/hide password (the button only exists where a password is typed).
  document.querySelectorAll(".idp-show-password").forEach(function (button) {
    var input = document.getElementById(button.dataset.target);
    if (!input) return;
    button.addEventListener("click", function (event) {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      button.textContent = show ? button.dataset.hide : button.dataset.show;
      button.setAttribute("aria-pressed", show ? "true" : "false");
      // A pointer click goes back to typing; from the keyboard (detail 0) the focus stays
      // on the button, so a screen reader announces its new state and Tab goes on in order.
      if (event.detail > 0) input.focus();
    });
  });
  // Move focus to the error summary so a screen reader announces every error at once.
  var summary = document.querySelector(".idp-error-summary");
  if (summary) summary.focus();
  // Links inside the summary focus the field, not just scroll to it.
  document.querySelectorAll(".idp-error-summary a[href^='#']").forEach(function (a) {
    a.addEventListener("click", function (e) {
      var field = document.getElementById(a.getAttribute("href").slice(1));
      if (field) { e.preventDefault(); field.focus(); }
    });
  });
})();
