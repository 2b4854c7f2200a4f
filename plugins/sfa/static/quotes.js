// The quote editor: a refused line (400) still answers the lines with the errors: show them.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (event.detail.xhr.status === 400 && target && target.id === "quote-lines") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
