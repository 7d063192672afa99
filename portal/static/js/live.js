// What a page asks by itself ([data-live]: new messages, the header's count) is asked only
// while the page is seen: a phone in a pocket or a tab in the background asks nothing, and
// asks once as soon as it is seen again. A busy server (429, 5xx, no answer) is asked less and
// less often; a page that may not read the dossier any more (404) stops asking. Only a 200
// changes the page: an error page is never swapped in. No eval: the CSP forbids it, so htmx's
// trigger filters cannot say this.
(function () {
  "use strict";

  var failures = 0;
  var quietUntil = 0;
  // Asks on their way, and those this script called off: their end is no sign of a busy server.
  var asking = new Set();
  var calledOff = new WeakSet();
  // While a form is sent or a link followed, no ask starts: its answer could land in the next
  // page. At most 15 s, should that request never say it ended.
  var othersUntil = 0;

  function live(event) {
    var element = event.detail && event.detail.elt;
    return element && element.hasAttribute && element.hasAttribute("data-live") ? element : null;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (live(event)) {
      if (document.hidden || Date.now() < quietUntil || Date.now() < othersUntil) {
        event.preventDefault();
      } else {
        asking.add(event.detail.elt);
      }
      return;
    }
    if (!event.detail.boosted) { return; }
    // Someone sends a form or follows a link: an ask still on its way would land its answer
    // in the next page, which already shows what it brings (a message twice). It is called
    // off; the next page asks again.
    othersUntil = Date.now() + 15000;
    asking.forEach(function (element) {
      calledOff.add(element);
      htmx.trigger(element, "htmx:abort");
    });
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var element = live(event);
    if (!element) {
      if (event.detail.boosted) { othersUntil = 0; }
      return;
    }
    asking.delete(element);
    if (calledOff.has(element)) {
      calledOff.delete(element);
      return;
    }
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status === 0 || status === 429 || status >= 500) {
      failures += 1;
      // 30 s, 1 min, 2 min … at most 15 minutes between asks.
      quietUntil = Date.now() + Math.min(15 * 60 * 1000, 15000 * Math.pow(2, failures));
    } else {
      failures = 0;
      quietUntil = 0;
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var element = live(event);
    if (!element) { return; }
    var status = event.detail.xhr.status;
    if (status !== 200) {
      event.detail.shouldSwap = false;
      event.detail.isError = false;
    }
    if (status === 400 || status === 404) {
      // Nothing more to ask here: removed, the element's polling ends.
      element.remove();
    }
  });

  document.addEventListener("visibilitychange", function () {
    if (document.hidden || typeof htmx === "undefined") { return; }
    document.querySelectorAll("[data-live]").forEach(function (element) {
      htmx.trigger(element, "live");
    });
  });
})();
