// The service worker: registered only on a device where the person asked, on the account
// page, to be told. A push holds one neutral sentence ("You have something new."); the
// notification shows that sentence and nothing else. A tap opens the person's own page, a
// fixed path with no reference in it. It handles no fetch: pages never go through it.
"use strict";

var HOMES = ["/espace", "/travail"];

function home() {
  var asked = new URL(self.location.href).searchParams.get("home");
  return HOMES.indexOf(asked) >= 0 ? asked : HOMES[0];
}

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("push", function (event) {
  var text = "";
  try { text = event.data ? event.data.text() : ""; } catch (error) { text = ""; }
  // The portal sends a short sentence; anything else is shown as nothing more than a sign.
  if (!text || text.length > 60) { text = "…"; }
  event.waitUntil(self.registration.showNotification(text, { tag: "news", silent: false }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = new URL(home(), self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
      for (var i = 0; i < windows.length; i += 1) {
        if (windows[i].url === target && "focus" in windows[i]) { return windows[i].focus(); }
      }
      return self.clients.openWindow(target);
    })
  );
});
