// Counts down the email-code resend button (the server enforces the 90 s itself).
(function () {
  var button = document.getElementById("email-send");
  var note = document.getElementById("email-countdown");
  if (!button) return;
  var left = parseInt(button.getAttribute("data-wait") || "0", 10);
  if (left <= 0) return;
  var tick = setInterval(function () {
    left -= 1;
    if (note) {
      // The page carries the sentence for 1 and for more (plural forms, issue 9).
      var form = note.getAttribute(left === 1 ? "data-one" : "data-many") || note.textContent;
      note.textContent = form.replace(/\d+/, String(Math.max(left, 0)));
    }
    if (left <= 0) { button.disabled = false; clearInterval(tick); if (note) note.hidden = true; }
  }, 1000);
})();
