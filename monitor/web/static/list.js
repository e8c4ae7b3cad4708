// The sessions list: a click anywhere on a row opens the session (the date is the real link,
// for the keyboard and for opening in a new tab).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.target.closest("a, button, input, select, label")) return;
    const row = event.target.closest("tr[data-href]");
    if (!row) return;
    if (window.getSelection && String(window.getSelection()).length) return; // selecting text
    if (event.ctrlKey || event.metaKey || event.shiftKey) {
      window.open(row.dataset.href, "_blank", "noopener");
    } else {
      window.location.assign(row.dataset.href);
    }
  });
})();
