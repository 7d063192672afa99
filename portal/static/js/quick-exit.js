// Quick exit: leave at once for a neutral site, replacing this page in the history,
// on a click or a tap, or when Shift is pressed three times in a row. Signed in, the
// session is ended on the server on the way out. Listeners sit on the document, so they
// keep working when htmx swaps the page's content.
(function () {
  "use strict";

  function leave(event) {
    var control = document.getElementById("quick-exit");
    if (!control) { return; }
    if (event) { event.preventDefault(); }
    var form = control.closest("form");
    var target = (form || control).getAttribute("data-exit-url") || control.getAttribute("href");
    document.body.classList.add("leaving");
    if (form && navigator.sendBeacon) {
      // Sent even as the page goes away: the server ends the session.
      navigator.sendBeacon(form.action, new URLSearchParams(new FormData(form)));
    }
    window.location.replace(target);
  }

  document.addEventListener("click", function (event) {
    if (event.target instanceof Element && event.target.closest("#quick-exit")) { leave(event); }
  }, true);

  // One entry in the tab's history for the whole visit, so that the exit, which replaces it,
  // leaves no page of the portal one Back away. Where htmx is loaded, boosted links already
  // replace the address (hx-replace-url); elsewhere a link to the portal replaces the page.
  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey ||
        event.shiftKey || event.altKey || !(event.target instanceof Element)) { return; }
    var link = event.target.closest("a[href]");
    if (!link || link.hasAttribute("download") || (link.target && link.target !== "_self")) {
      return;
    }
    var url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin) { return; }
    var here = window.location;
    if (url.hash && url.pathname === here.pathname && url.search === here.search) { return; }
    event.preventDefault();
    window.location.replace(url.href);
  });

  var presses = 0;
  var last = 0;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Shift") { presses = 0; return; }
    if (event.repeat) { return; }
    var now = Date.now();
    presses = now - last < 1500 ? presses + 1 : 1;
    last = now;
    if (presses >= 3) { leave(); }
  });
})();
