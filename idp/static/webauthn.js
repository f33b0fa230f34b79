// WebAuthn ceremonies (RECIPES.md 3): options from the server, the browser's
// authenticator, the JSON result back to the server. Buttons carry their URLs.
(function () {
  function post(url, csrf, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf}, body: body || "{}"});
  }
  function fail() {
    var e = document.getElementById("webauthn-error");
    if (e) e.hidden = false;
  }
  var auth = document.getElementById("webauthn-start");
  if (auth) auth.addEventListener("click", async function () {
    try {
      var csrf = auth.dataset.csrf;
      var opts = await (await post(auth.dataset.options, csrf)).json();
      var cred = await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(opts)});
      var res = await (await post(auth.dataset.verify, csrf, JSON.stringify(cred.toJSON()))).json();
      if (res.ok) { window.location = res.redirect; } else { fail(); }
    } catch (err) { fail(); }
  });
  var reg = document.getElementById("webauthn-register");
  if (reg) reg.addEventListener("click", async function () {
    try {
      var csrf = reg.dataset.csrf;
      var name = document.getElementById("webauthn-name");
      var opts = await (await post(reg.dataset.options, csrf)).json();
      var cred = await navigator.credentials.create({publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(opts)});
      var url = reg.dataset.verify + (reg.dataset.verify.indexOf("?") < 0 ? "?" : "&") +
        "name=" + encodeURIComponent(name ? name.value : "");
      var res = await (await post(url, csrf, JSON.stringify(cred.toJSON()))).json();
      if (res.ok) { window.location = res.redirect; } else { fail(); }
    } catch (err) { fail(); }
  });
})();
