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

  function live(event) {
    var element = event.detail && event.detail.elt;
    return element && element.hasAttribute && element.hasAttribute("data-live") ? element : null;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (live(event) && (document.hidden || Date.now() < quietUntil)) {
      event.preventDefault();
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (!live(event)) { return; }
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

  // An answer may bring what the page shows already: an ask left, a form was sent, and the
  // page that came back holds the new message when the answer lands in it. Messages and
  // journal lines have ids: one that is there already is not added twice.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var fragment = event.detail.fragment;
    if (!fragment || !fragment.children) { return; }
    Array.prototype.slice.call(fragment.children).forEach(function (item) {
      if (item.id && document.getElementById(item.id)) { item.remove(); }
    });
  });

  document.addEventListener("visibilitychange", function () {
    if (document.hidden || typeof htmx === "undefined") { return; }
    document.querySelectorAll("[data-live]").forEach(function (element) {
      htmx.trigger(element, "live");
    });
  });
})();
