// The print button of the dossier's export: only a script opens the browser's print dialog.
// Without JavaScript the button stays hidden and a hint says how to print from the browser.
(function () {
  "use strict";

  function offer() {
    document.querySelectorAll("[data-print]").forEach(function (button) { button.hidden = false; });
    document.querySelectorAll("[data-print-hint]").forEach(function (hint) { hint.hidden = true; });
  }

  document.addEventListener("click", function (event) {
    if (event.target instanceof Element && event.target.closest("[data-print]")) {
      window.print();
    }
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", offer);
  } else {
    offer();
  }
})();
