// Quick exit: leave at once for a neutral site, replacing this page in the history,
// on a click or a tap, or when Shift is pressed three times in a row.
(function () {
  "use strict";
  var link = document.getElementById("quick-exit");
  if (!link) { return; }
  var target = link.getAttribute("data-exit-url") || link.href;

  function leave(event) {
    if (event) { event.preventDefault(); }
    document.body.classList.add("leaving");
    window.location.replace(target);
  }

  link.addEventListener("click", leave);

  var presses = 0;
  var last = 0;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Shift" || event.repeat) {
      if (event.key !== "Shift") { presses = 0; }
      return;
    }
    var now = Date.now();
    presses = now - last < 1500 ? presses + 1 : 1;
    last = now;
    if (presses >= 3) { leave(); }
  });
})();
