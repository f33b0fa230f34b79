// The identity-app page (proofing/start.html): asks for the status every few seconds
// and, once the phone is done (or the code expired), sends the "Check status" form,
// which takes the result. Without JavaScript the button does the same.
(function () {
  "use strict";
  var status = document.getElementById("proofing-status");
  var form = document.getElementById("proofing-check-form");
  if (!status || !form || !window.fetch) return;
  var url = status.getAttribute("data-url");
  var delay = 3000;
  var sent = false;
  function submit() {
    if (sent) return;
    sent = true;
    form.submit();
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) {
        if (resp.status === 429) { delay = Math.min(delay * 2, 30000); return null; }
        if (!resp.ok) return { status: "gone" };
        return resp.json();
      })
      .then(function (answer) {
        if (!answer) return schedule();
        if (answer.status === "opened") status.textContent = status.getAttribute("data-opened");
        if (answer.status === "done") { status.textContent = status.getAttribute("data-done"); return submit(); }
        if (answer.status === "expired" || answer.status === "claimed" || answer.status === "gone") return submit();
        schedule();
      })
      .catch(function () { delay = Math.min(delay * 2, 30000); schedule(); });
  }
  function schedule() { window.setTimeout(poll, delay); }
  schedule();
})();
