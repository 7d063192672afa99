// Being told on this device (Web Push), on the account page only. The service worker is
// registered only when the person taps "Notify me on this device"; "Stop" drops the browser's
// subscription, tells the server, and unregisters the worker. Texts come from the page.
(function () {
  "use strict";
  var box = document.querySelector("[data-push]");
  if (!box) { return; }
  var on = box.querySelector("[data-push-on]");
  var off = box.querySelector("[data-push-off]");
  var status = box.querySelector("[data-push-status]");
  var known = Array.prototype.map.call(box.querySelectorAll("[data-push-endpoint]"), function (el) {
    return el.getAttribute("data-push-endpoint");
  });

  function show(name) { var el = box.querySelector("[data-push-" + name + "]"); if (el) { el.hidden = false; } }
  function say(name) { status.textContent = status.getAttribute("data-msg-" + name) || ""; }

  box.querySelector("[data-push-nojs]").hidden = true;
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    show("unsupported");
    return;
  }

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]; }
    catch (error) { return ""; }
  }

  function post(url, data) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(data)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { ok: response.ok, data: body };
      });
    });
  }

  function key() {
    var text = box.getAttribute("data-key").replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(text + "===".slice((text.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  function state(subscribed) {
    on.hidden = subscribed;
    off.hidden = !subscribed;
    show("controls");
    if (Notification.permission === "denied") { show("blocked"); on.disabled = true; }
  }

  function done(result) {
    if (result.ok && result.data.redirect) { window.location.assign(result.data.redirect); return; }
    status.textContent = result.data.error || status.getAttribute("data-msg-failed");
    on.disabled = off.disabled = false;
  }

  function failed() { say("failed"); on.disabled = off.disabled = false; }

  // What this browser holds now, without registering anything.
  navigator.serviceWorker.getRegistration("/").then(function (registration) {
    if (!registration) { return null; }
    return registration.pushManager.getSubscription();
  }).then(function (subscription) {
    state(Boolean(subscription && known.indexOf(subscription.endpoint) >= 0));
  }).catch(function () { state(false); });

  on.addEventListener("click", function () {
    on.disabled = true;
    say("");
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        say("denied");
        if (permission === "denied") { show("blocked"); } else { on.disabled = false; }
        return null;
      }
      var worker = box.getAttribute("data-worker");
      return navigator.serviceWorker.register(worker, { scope: "/" }).then(function () {
        return navigator.serviceWorker.ready;
      }).then(function (registration) {
        return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key() });
      }).then(function (subscription) {
        return post(box.getAttribute("data-subscribe-url"), subscription.toJSON()).then(done);
      });
    }).catch(failed);
  });

  off.addEventListener("click", function () {
    off.disabled = true;
    say("");
    navigator.serviceWorker.getRegistration("/").then(function (registration) {
      if (!registration) { return post(box.getAttribute("data-unsubscribe-url"), {}); }
      return registration.pushManager.getSubscription().then(function (subscription) {
        var endpoint = subscription ? subscription.endpoint : "";
        return (subscription ? subscription.unsubscribe() : Promise.resolve(true)).then(function () {
          return registration.unregister();
        }).then(function () {
          return post(box.getAttribute("data-unsubscribe-url"), { endpoint: endpoint });
        });
      });
    }).then(done).catch(failed);
  });
})();
