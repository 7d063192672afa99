// The print button of the dossier's export: only a script opens the browser's print dialog.
// Without JavaScript the button stays hidden and a hint says how to print from the browser.
// Loaded on every signed-in page: a boosted link runs no script the page did not already have.
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
  // Reached by a boosted link, the export page arrives by a swap: offer the button then too.
  document.addEventListener("htmx:afterSettle", offer);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", offer);
  } else {
    offer();
  }
})();
