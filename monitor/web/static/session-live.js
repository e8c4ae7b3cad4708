// The page of a running session grows as the call goes: every data-refresh-ms it fetches
// itself again and, when the call's data changed, swaps in the parts marked data-live (head,
// notice, timeline card, transcript, alerts, scorecard and facts; never the coaching card,
// where a note may be being written) and draws the timeline again through
// static/timeline.js's entry point. The player is kept (it goes on playing) and so is where
// the transcript was scrolled to. It stops once the session is no longer running.
(function () {
  "use strict";

  const head = document.querySelector('[data-testid="session-head"]');
  if (!head || !window.callmonitorTimeline) return;
  const every = Math.max(250, parseInt(head.dataset.refreshMs, 10) || 1000);
  const status = () => document.querySelector('[data-testid="status"]').textContent.trim();

  function swap(fresh) {
    for (const part of Array.from(document.querySelectorAll("[data-live]"))) {
      const next = fresh.querySelector('[data-live="' + part.dataset.live + '"]');
      if (!next) continue;
      const player = part.querySelector('[data-testid="audio"]');
      const slot = next.querySelector('[data-testid="audio"]');
      if (player && slot) slot.replaceWith(player);
      const list = part.querySelector('[data-testid="transcript"]');
      const nextList = next.querySelector('[data-testid="transcript"]');
      const scrolled = list ? list.scrollTop : 0;
      part.replaceWith(document.adoptNode(next));
      if (nextList) nextList.scrollTop = scrolled;
    }
    document.getElementById("timeline-data").textContent =
      fresh.getElementById("timeline-data").textContent;
    window.callmonitorTimeline.render();
  }

  function refresh() {
    // The same page view goes on (?v=: the audit log's row of this view, not a new one).
    const url = window.location.pathname + "?v=" + encodeURIComponent(head.dataset.view || "");
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => {
        const fresh = new DOMParser().parseFromString(html, "text/html");
        const data = fresh.getElementById("timeline-data");
        const freshStatus = fresh.querySelector('[data-testid="status"]');
        if (!data || !freshStatus) return;
        const changed = data.textContent !== document.getElementById("timeline-data").textContent
          || freshStatus.textContent.trim() !== status();
        if (changed) swap(fresh);
      })
      .catch(() => {})
      .finally(() => {
        if (status() === "running") window.setTimeout(refresh, every);
      });
  }

  window.setTimeout(refresh, every);
})();
