// A form is sent once: while it is on its way, its buttons are disabled, so a second tap
// does nothing (the server, too, acts only once on a form sent twice). Listeners sit on the
// document, so they keep working when htmx swaps the page's content.
(function () {
  "use strict";

  function hold(form, on) {
    form.querySelectorAll("button, input[type=submit]").forEach(function (button) {
      if (on && !button.disabled) {
        button.disabled = true;
        button.setAttribute("data-held", "");
      } else if (!on && button.hasAttribute("data-held")) {
        button.disabled = false;
        button.removeAttribute("data-held");
      }
    });
  }

  // A plain form: held once the browser has read its fields (a disabled button is not sent).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!event.defaultPrevented) {
      setTimeout(function () { hold(form, true); }, 0);
    }
  });
  // A form htmx sends: its fields are read before this event.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.target.tagName === "FORM") { hold(event.target, true); }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.target.tagName === "FORM") { hold(event.target, false); }
  });
  // Back on a page the browser kept: its forms can be sent again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      document.querySelectorAll("form").forEach(function (form) { hold(form, false); });
    }
  });
})();
