// Passkeys: the WebAuthn ceremony the browser has to run. Everything else is plain forms.
// Shown only where the browser can do it; messages come translated from the page or server.
// Loaded in <head> without defer: the class it puts on <html> lets the stylesheet show the
// passkey boxes from the first paint, so nothing below them moves when they appear.
(function () {
  "use strict";
  var PKC = window.PublicKeyCredential;
  if (!PKC || !PKC.parseCreationOptionsFromJSON || !PKC.parseRequestOptionsFromJSON) { return; }
  document.documentElement.classList.add("passkeys");

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]; }
    catch (error) { return ""; }
  }

  function post(url, body, contentType) {
    var headers = { "X-CSRF-Token": csrfToken(), "Accept": "application/json" };
    if (contentType) { headers["Content-Type"] = contentType; }
    return fetch(url, { method: "POST", headers: headers, body: body, credentials: "same-origin" })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          return { ok: response.ok, data: data };
        });
      });
  }

  function status(scope) { return scope.querySelector("[data-passkey-status]"); }

  function say(scope, message) {
    var place = status(scope);
    if (place) { place.textContent = message || place.getAttribute("data-msg-failed") || ""; }
  }

  function failed(scope) {
    return function (error) {
      var place = status(scope);
      var cancelled = error && (error.name === "NotAllowedError" || error.name === "AbortError");
      if (place) {
        place.textContent = place.getAttribute(cancelled ? "data-msg-cancelled" : "data-msg-failed") || "";
      }
    };
  }

  function finish(scope, url, credential) {
    return post(url, JSON.stringify({ credential: credential.toJSON() }), "application/json")
      .then(function (result) {
        if (result.ok && result.data.redirect) { window.location.assign(result.data.redirect); }
        else { say(scope, result.data.error); }
      });
  }

  function register(scope, optionsUrl, finishUrl, body, contentType) {
    say(scope, "");
    return post(optionsUrl, body, contentType).then(function (result) {
      if (!result.ok) { say(scope, result.data.error); return null; }
      var publicKey = PKC.parseCreationOptionsFromJSON(result.data);
      return navigator.credentials.create({ publicKey: publicKey }).then(function (credential) {
        return finish(scope, finishUrl, credential);
      });
    }).catch(failed(scope));
  }

  function reveal() {
    document.querySelectorAll("[data-needs-passkeys]").forEach(function (el) { el.hidden = false; });
  }

  function signIn(button) {
    var scope = button.closest("section") || document;
    say(scope, "");
    post(button.getAttribute("data-options-url")).then(function (result) {
      if (!result.ok) { say(scope, result.data.error); return null; }
      var publicKey = PKC.parseRequestOptionsFromJSON(result.data);
      return navigator.credentials.get({ publicKey: publicKey }).then(function (credential) {
        return finish(scope, button.getAttribute("data-finish-url"), credential);
      });
    }).catch(failed(scope));
  }

  // Listeners on the document: they keep working when htmx swaps the page's content.
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("button") : null;
    if (!button) { return; }
    if (button.hasAttribute("data-passkey-signin")) { signIn(button); }
    if (button.hasAttribute("data-passkey-add")) {
      register(button.parentElement, button.getAttribute("data-options-url"),
        button.getAttribute("data-finish-url"));
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-passkey-register")) { return; }
    if (!event.submitter || !event.submitter.hasAttribute("data-passkey-submit")) { return; }
    event.preventDefault();
    var scope = form.querySelector("[data-needs-passkeys]") || form;
    register(scope, form.getAttribute("data-options-url"), form.getAttribute("data-finish-url"),
      new URLSearchParams(new FormData(form)), "application/x-www-form-urlencoded");
  });

  // The stylesheet shows them already; this only drops the attribute once the page is read.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", reveal);
  } else {
    reveal();
  }
  document.addEventListener("htmx:afterSettle", reveal);
})();
