// The live floor: one row per call in progress, from the page's JSON block (#live-data), then
// from the server-sent events of /live/events (each event: every row, most urgent first).
// Where the server has no stream to spare (503) or the stream fails, /live.json is polled.
// Nothing from the data becomes markup: every cell is text.
(function () {
  "use strict";

  const table = document.querySelector('[data-testid="live"]');
  const block = document.getElementById("live-data");
  if (!table || !block) return;
  const body = table.querySelector('[data-testid="live-rows"]');
  const empty = document.querySelector('[data-testid="live-empty"]');
  const count = document.querySelector('[data-testid="live-count"]');
  const link = document.querySelector('[data-testid="live-link"]');
  const pollMs = Math.max(250, parseInt(table.dataset.pollMs, 10) || 1000);
  const ATTENTION = ["violation", "hold", "dead-air", ""];

  function clock(seconds) {
    const total = Math.max(0, Math.round(seconds || 0));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + s : m + ":" + s;
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function rowOf(r) {
    const tr = document.createElement("tr");
    tr.dataset.testid = "live-row";
    tr.dataset.id = r.id;
    tr.dataset.phase = r.phase;
    tr.dataset.href = r.url;
    tr.dataset.attention = ATTENTION[r.attention] || "";
    if (tr.dataset.attention) tr.classList.add("attention-" + tr.dataset.attention);
    const id = cell(tr, "", "num muted");
    const a = document.createElement("a");
    a.href = r.url;
    a.textContent = r.id;
    id.appendChild(a);
    cell(tr, r.agent || "—");
    cell(tr, r.source, "source").title = r.mode;
    const phase = cell(tr, r.phase_label, "phase");
    phase.dataset.testid = "live-phase";
    if (r.silence_s !== null && r.attention === 2) phase.textContent += " · silent " + clock(r.silence_s);
    cell(tr, clock(r.elapsed_s), "num").dataset.testid = "live-elapsed";
    cell(tr, r.score === null ? "—" : String(r.score), "num").dataset.testid = "live-score";
    cell(tr, r.agent_rate === null ? "—" : Math.round(r.agent_rate) + " " + (r.rate_unit || ""), "num");
    const chips = cell(tr, "", "chips");
    chips.dataset.testid = "live-alerts";
    for (const alert of r.alerts.slice().reverse()) {
      const chip = document.createElement("span");
      chip.className = "chip sev-" + alert.severity;
      chip.dataset.rule = alert.rule;
      chip.title = alert.rule + " at " + clock(alert.t);
      chip.textContent = alert.label + " " + clock(alert.t);
      chips.appendChild(chip);
    }
    return tr;
  }

  function show(rows) {
    body.replaceChildren(...rows.map(rowOf));
    if (empty) empty.hidden = rows.length > 0;
    if (count) count.textContent = rows.length;
  }

  function state(text, name) {
    if (!link) return;
    link.textContent = text;
    link.dataset.state = name;
  }

  let timer = 0;
  function poll() {
    state("updating every " + pollMs / 1000 + " s", "polling");
    fetch(table.dataset.json, { credentials: "same-origin", cache: "no-store" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((data) => show(data.rows))
      .catch(() => state("cannot reach the server", "down"))
      .finally(() => { timer = window.setTimeout(poll, Math.max(pollMs, 1000)); });
  }

  function stream() {
    if (!window.EventSource) return poll();
    const source = new EventSource(table.dataset.events);
    source.addEventListener("open", () => state("live", "live"));
    source.addEventListener("rows", (event) => show(JSON.parse(event.data).rows));
    source.addEventListener("error", () => {
      // A stream that ended on time reconnects by itself; a refused one (503) is CLOSED.
      if (source.readyState === EventSource.CLOSED && !timer) poll();
      else state("reconnecting…", "reconnecting");
    });
  }

  document.addEventListener("click", (event) => {
    if (event.target.closest("a")) return;
    const row = event.target.closest('tr[data-testid="live-row"]');
    if (row) window.location.assign(row.dataset.href);
  });

  show(JSON.parse(block.textContent));
  stream();
})();
