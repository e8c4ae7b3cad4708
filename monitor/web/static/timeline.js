// The session timeline: an SVG drawn from the page's JSON data block (#timeline-data), tied to
// the audio player and the transcript.
//
// Time scale (for tests and tools): the SVG [data-testid="timeline"] carries data-duration (the
// call, seconds), data-t0 / data-t1 (the visible window, seconds; 0 and the duration unless
// zoomed) and data-x0 / data-x1 (pixels from the SVG's left edge where t0 and t1 are drawn).
// A click at clientX seeks to
//     t = t0 + (clientX - svg.getBoundingClientRect().left - x0) / (x1 - x0) * (t1 - t0)
// clamped to [0, duration], wherever in the SVG's height it lands (markers included).
// data-position is the current position in seconds (the audio's, or the last click's).
// An alert's link (its list item, its transcript line, its marker) seeks to where its words or
// its condition started (D.alerts[i].seek), not to when the rule decided (its t). A page opened
// with ?t=SECONDS (a note's link) starts there. Note forms' [data-role="note-t"] follow the
// position, so a note is pinned where the supervisor is listening.
//
// window.callmonitorTimeline.render() draws it again from the page as it is now (the live
// session page, static/session-live.js, swaps in new data and lists first): what the last
// drawing tied to the document, the window and the player is untied first.
function mountTimeline(signal) {
  "use strict";

  const NS = "http://www.w3.org/2000/svg";
  const dataBlock = document.getElementById("timeline-data");
  const root = document.querySelector("[data-timeline-root]");
  if (!dataBlock || !root) return;
  const D = JSON.parse(dataBlock.textContent);
  const svg = root.querySelector('[data-testid="timeline"]');
  const tooltip = root.querySelector('[data-role="tooltip"]');
  const audio = document.querySelector('[data-testid="audio"]');
  const readout = document.querySelector('[data-role="position"]');
  const transcriptBox = document.querySelector('[data-testid="transcript"]');
  const lines = Array.from(document.querySelectorAll('[data-testid="transcript-line"]'));
  const lineTimes = lines.map((el) => [parseFloat(el.dataset.t), parseFloat(el.dataset.end)]);
  const alertItems = Array.from(document.querySelectorAll('[data-testid="alert-item"]'));
  const noteMoments = Array.from(document.querySelectorAll('[data-role="note-t"]'));
  const labels = D.labels || {};

  const PAD_LEFT = 92;
  const PAD_RIGHT = 14;
  const MIN_SPAN_S = 4;
  const duration = Math.max(D.duration || 0, 0.001);
  const hasRate = D.rate.window.length + D.rate.overall.length > 0;
  const ROW = {
    axis: { y: 0, h: 22 },
    call: { y: 26, h: 18 },
    agent: { y: 50, h: 24 },
    customer: { y: 78, h: 24 },
    overlap: { y: 106, h: 10 },
    alerts: { y: 122, h: 22 },
    rate: { y: 154, h: hasRate ? 86 : 26 },
  };
  const HEIGHT = ROW.rate.y + ROW.rate.h + 10;

  let view = { t0: 0, t1: duration };
  let position = 0;
  let width = 0;
  let playhead = null;
  let cursor = null;
  let markers = [];
  let currentLine = -1;
  let activeAlert = -1;
  let frame = 0;
  let drawPending = false;

  // ---- scale -------------------------------------------------------------------------------
  const x0 = () => PAD_LEFT;
  const x1 = () => Math.max(PAD_LEFT + 10, width - PAD_RIGHT);
  const xAt = (t) => x0() + ((t - view.t0) / (view.t1 - view.t0)) * (x1() - x0());
  const clampT = (t) => Math.min(duration, Math.max(0, t));
  const tAt = (x) => clampT(view.t0 + ((x - x0()) / (x1() - x0())) * (view.t1 - view.t0));
  const zoomed = () => view.t1 - view.t0 < duration - 1e-6;

  function fmt(t, digits) {
    const d = digits === undefined ? 1 : digits;
    const sign = t < 0 ? "-" : "";
    t = Math.abs(t);
    const h = Math.floor(t / 3600);
    const m = Math.floor((t % 3600) / 60);
    let s = (t % 60).toFixed(d);
    if (parseFloat(s) >= 60) s = (0).toFixed(d);
    const ss = (parseFloat(s) < 10 ? "0" : "") + s;
    return sign + (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + ss;
  }

  function unitName() {
    return D.rate_band.unit === "wpm" ? "words/min" : "chars/min";
  }

  // ---- SVG helpers -------------------------------------------------------------------------
  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const key in attrs) {
      if (attrs[key] !== undefined && attrs[key] !== null) node.setAttribute(key, attrs[key]);
    }
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(x, y, content, cls, parent, anchor) {
    const node = el("text", { x: x, y: y, class: cls, "text-anchor": anchor || "start" }, parent);
    node.textContent = content;
    return node;
  }

  function span(g, start, end, y, h, cls, tip, extra) {
    const a = Math.max(xAt(start), x0() - 2);
    const b = Math.min(xAt(end), x1() + 2);
    if (b < x0() || a > x1()) return null;
    const node = el("rect", Object.assign({ x: a, y: y, width: Math.max(1, b - a), height: h,
      class: cls }, extra || {}), g);
    if (tip) node.__tip = tip;
    return node;
  }

  function visible(t) {
    return t >= view.t0 - 1e-9 && t <= view.t1 + 1e-9;
  }

  // ---- drawing -----------------------------------------------------------------------------
  function draw() {
    drawPending = false;
    width = Math.max(320, Math.round(root.clientWidth));
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute("width", width);
    svg.setAttribute("height", HEIGHT);
    svg.setAttribute("viewBox", "0 0 " + width + " " + HEIGHT);
    svg.dataset.duration = String(duration);
    svg.dataset.t0 = String(view.t0);
    svg.dataset.t1 = String(view.t1);
    svg.dataset.x0 = String(x0());
    svg.dataset.x1 = String(x1());

    const defs = el("defs", {}, svg);
    hatch(defs, "tl-hatch-hold", "#56b4e9", "#dff0fb", 135);
    hatch(defs, "tl-hatch-dead", "#6b6b6b", "#efefef", 45);
    const clip = el("clipPath", { id: "tl-clip" }, defs);
    el("rect", { x: x0(), y: 0, width: x1() - x0(), height: HEIGHT }, clip);

    el("rect", { x: 0, y: 0, width: width, height: HEIGHT, class: "tl-bg" }, svg);
    for (const key of ["call", "agent", "customer", "overlap", "alerts"]) {
      el("rect", { x: x0(), y: ROW[key].y, width: x1() - x0(), height: ROW[key].h,
        class: "tl-lane-bg" }, svg);
    }
    const gutter = el("g", {}, svg);
    const mid = (r) => r.y + r.h / 2 + 4;
    text(8, mid(ROW.call), "Call", "tl-label", gutter);
    text(8, mid(ROW.agent), "Agent", "tl-label", gutter);
    text(8, mid(ROW.customer), "Customer", "tl-label", gutter);
    text(8, mid(ROW.overlap) - 1, "Overlap", "tl-small", gutter);
    text(8, mid(ROW.alerts), "Alerts", "tl-label", gutter);
    const paceY = ROW.rate.y + ROW.rate.h / 2;
    text(8, paceY - 2, "Pace", "tl-label", gutter);
    text(8, paceY + 11, unitName(), "tl-small", gutter);

    const plot = el("g", { "clip-path": "url(#tl-clip)" }, svg);
    drawAxis(plot);
    drawShades(plot);
    drawCallRow(plot);
    drawSpeech(plot);
    drawOverlap(plot);
    drawAlerts(plot);
    drawRate(plot, gutter);
    if (zoomed()) drawViewBar(svg);

    cursor = el("line", { class: "tl-cursor", x1: -10, x2: -10, y1: ROW.call.y, y2: HEIGHT - 4,
      visibility: "hidden" }, svg);
    playhead = el("g", {}, svg);
    el("line", { class: "tl-playhead", x1: 0, x2: 0, y1: ROW.axis.h - 2, y2: HEIGHT - 4 },
      playhead);
    el("path", { class: "tl-playhead-head", d: "M-5,14 L5,14 L0,21 Z" }, playhead);
    placePlayhead();
  }

  function hatch(defs, id, colour, background, angle) {
    const p = el("pattern", { id: id, width: 6, height: 6, patternUnits: "userSpaceOnUse",
      patternTransform: "rotate(" + angle + ")" }, defs);
    el("rect", { width: 6, height: 6, fill: background }, p);
    el("rect", { width: 2, height: 6, fill: colour }, p);
  }

  function tickStep() {
    const span = view.t1 - view.t0;
    const px = x1() - x0();
    const steps = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
    for (const s of steps) if ((s / span) * px >= 64) return s;
    return 7200;
  }

  function drawAxis(g) {
    const step = tickStep();
    const first = Math.ceil(view.t0 / step) * step;
    for (let t = first; t <= view.t1 + 1e-9; t += step) {
      const x = xAt(t);
      el("line", { x1: x, x2: x, y1: ROW.axis.h - 5, y2: ROW.alerts.y + ROW.alerts.h,
        class: "tl-grid" }, g);
      el("line", { x1: x, x2: x, y1: ROW.rate.y, y2: ROW.rate.y + ROW.rate.h, class: "tl-grid" },
        g);
      text(x + 3, 13, fmt(t, step < 1 ? 1 : 0), "tl-axis-text", g);
    }
  }

  function drawShades(g) {
    const top = ROW.call.y + ROW.call.h;
    const h = ROW.overlap.y + ROW.overlap.h - top;
    for (const r of D.rings) span(g, r[0], r[1], top, h, "tl-ring-shade");
    for (const hold of D.holds) span(g, hold.start, hold.end, top, h, "tl-hold-shade");
    for (const d of D.dead_air) span(g, d[0], d[1], top, h, "tl-dead-shade");
  }

  function bandLabel(g, node, label) {
    if (!node) return;
    const w = parseFloat(node.getAttribute("width"));
    if (w < label.length * 6 + 8) return;
    text(parseFloat(node.getAttribute("x")) + 4, ROW.call.y + 13, label, "tl-band-text", g);
  }

  function drawCallRow(g) {
    const y = ROW.call.y + 2;
    const h = ROW.call.h - 4;
    D.rings.forEach((r, i) => {
      const node = span(g, r[0], r[1], y, h, "tl-ring", {
        title: "Ring " + (i + 1), lines: [fmt(r[0]) + " – " + fmt(r[1])] });
      bandLabel(g, node, "ring");
    });
    for (const hold of D.holds) {
      const len = hold.end - hold.start;
      const how = [hold.announced === false ? "unannounced" : "announced"];
      if (hold.transfer) how.push("transfer");
      if (hold.thanked === true) how.push("caller thanked on return");
      if (hold.thanked === false) how.push("no thanks on return");
      const node = span(g, hold.start, hold.end, y, h, "tl-hold", {
        title: "Hold " + len.toFixed(1) + " s", lines: [fmt(hold.start) + " – " + fmt(hold.end),
          how.join(", ")] }, { fill: "url(#tl-hatch-hold)" });
      bandLabel(g, node, "hold " + len.toFixed(0) + " s");
    }
    for (const d of D.dead_air) {
      const len = d[1] - d[0];
      const node = span(g, d[0], d[1], y, h, "tl-dead", {
        title: "Dead air " + len.toFixed(1) + " s",
        lines: [fmt(d[0]) + " – " + fmt(d[1]), "both sides silent"] },
      { fill: "url(#tl-hatch-dead)" });
      bandLabel(g, node, "dead air " + len.toFixed(0) + " s");
    }
    for (const gap of D.device_gaps) {
      span(g, gap.start, gap.end, ROW.call.y, ROW.customer.y + ROW.customer.h - ROW.call.y,
        "tl-device", { title: "Device lost: " + gap.device,
          lines: [fmt(gap.start) + " – " + fmt(gap.end),
            "silence on " + (gap.channels || []).join(" and ") + " was a gap, not quiet"] });
    }
    if (D.pickup !== null && D.pickup !== undefined && visible(D.pickup)) {
      const x = xAt(D.pickup);
      const line = el("line", { x1: x, x2: x, y1: ROW.call.y, y2: ROW.customer.y + ROW.customer.h,
        class: "tl-pickup" }, g);
      line.__tip = { title: "Pickup", lines: [fmt(D.pickup)] };
    }
    for (const ev of D.events) {
      if (!visible(ev.t)) continue;
      const x = xAt(ev.t);
      const tick = el("path", { d: "M" + (x - 4) + "," + ROW.call.y + " L" + (x + 4) + ","
        + ROW.call.y + " L" + x + "," + (ROW.call.y + 7) + " Z", class: "tl-event",
        fill: "#3b4755" }, g);
      tick.__tip = { title: "Softphone: " + ev.event, lines: [fmt(ev.t) + (ev.by ? ", by " + ev.by : "")] };
    }
  }

  function utteranceText(channel, start, end) {
    const out = [];
    for (const u of D.utterances) {
      if (u.channel === channel && u.start < end && u.end > start && u.text) out.push(u.text);
    }
    return out.join(" ");
  }

  function drawSpeech(g) {
    for (const gap of D.backchannel_gaps) {
      span(g, gap[0], gap[1], ROW.customer.y, ROW.customer.h, "tl-gap", {
        title: "No backchannel", lines: [fmt(gap[0]) + " – " + fmt(gap[1]),
          "the customer talked this long with no 嗯 / 对 / 我明白 from the agent"] });
    }
    for (const channel of ["agent", "customer"]) {
      const row = ROW[channel];
      for (const s of D.speech[channel]) {
        if (s[1] < view.t0 || s[0] > view.t1) continue;
        const said = utteranceText(channel, s[0], s[1]);
        span(g, s[0], s[1], row.y + 3, row.h - 6, "tl-speech tl-" + channel, {
          title: (channel === "agent" ? "Agent" : "Customer") + " " + fmt(s[0]) + " – "
            + fmt(s[1]) + " (" + (s[1] - s[0]).toFixed(1) + " s)",
          lines: said ? [said] : [] });
      }
    }
  }

  function drawOverlap(g) {
    for (const o of D.overlaps) {
      span(g, o[0], o[1], ROW.overlap.y + 2, ROW.overlap.h - 4, "tl-overlap", {
        title: "Both talking", lines: [fmt(o[0]) + " – " + fmt(o[1]) + " ("
          + (o[1] - o[0]).toFixed(1) + " s)"] });
    }
    for (const it of D.interruptions) {
      if (!visible(it.t)) continue;
      const x = xAt(it.t);
      const y = ROW.overlap.y;
      const tri = el("path", { d: "M" + (x - 5) + "," + (y - 1) + " L" + (x + 5) + "," + (y - 1)
        + " L" + x + "," + (y + 8) + " Z", class: "tl-interrupt" }, g);
      tri.__tip = { title: "Interruption", lines: [fmt(it.t) + (it.overlap_s != null
        ? ", overlap " + Number(it.overlap_s).toFixed(1) + " s" : "")] };
    }
  }

  function markerShape(severity, x, y) {
    if (severity === "violation") {
      return { tag: "path", attrs: { d: "M" + x + "," + (y - 7) + " L" + (x + 7) + "," + y + " L"
        + x + "," + (y + 7) + " L" + (x - 7) + "," + y + " Z" } };
    }
    if (severity === "warn") {
      return { tag: "path", attrs: { d: "M" + x + "," + (y - 7) + " L" + (x + 7) + ","
        + (y + 6) + " L" + (x - 7) + "," + (y + 6) + " Z" } };
    }
    return { tag: "circle", attrs: { cx: x, cy: y, r: 5.5 } };
  }

  function drawAlerts(g) {
    markers = [];
    const stems = el("g", {}, g);
    const lastX = [-1e9, -1e9];
    D.alerts.forEach((a, i) => {
      if (!visible(a.t)) return;
      const x = xAt(a.t);
      // Two levels so that alerts close together stay clickable apart.
      const level = x - lastX[0] >= 12 ? 0 : x - lastX[1] >= 12 ? 1 : 0;
      lastX[level] = x;
      const y = ROW.alerts.y + ROW.alerts.h / 2 + (level ? 5 : -2);
      el("line", { x1: x, x2: x, y1: ROW.call.y, y2: ROW.alerts.y, class: "tl-marker-stem" },
        stems);
      const shape = markerShape(a.severity, x, y);
      const node = el(shape.tag, Object.assign(shape.attrs, {
        class: "tl-marker sev-" + a.severity + (i === activeAlert ? " active" : ""),
        "data-testid": "alert-marker", "data-rule": a.rule, "data-t": a.t, "data-index": i,
        "data-severity": a.severity }), g);
      node.setAttribute("aria-label", (labels[a.rule] || a.rule) + " at " + fmt(a.t) + ": "
        + a.message);
      node.__tip = { title: (labels[a.rule] || a.rule) + " · " + a.severity + " · " + fmt(a.t),
        lines: [a.message], say: a.say };
      markers[i] = node;
    });
    for (const h of D.hints) {
      if (!visible(h.t)) continue;
      const dot = el("circle", { cx: xAt(h.t), cy: ROW.alerts.y + ROW.alerts.h - 2, r: 2.5,
        class: "tl-hint" }, g);
      dot.__tip = { title: "Whispered at " + fmt(h.t), lines: [(labels[h.rule] || h.rule)
        + (h.played ? "" : " (headset gone: not heard)")], say: h.say };
    }
  }

  function drawRate(g, gutter) {
    const r = ROW.rate;
    const band = D.rate_band;
    if (!hasRate) {
      text(x0() + 6, r.y + 17, "No pace measured (the speaking rate needs speech recognition).",
        "tl-small", g);
      return;
    }
    const values = D.rate.window.concat(D.rate.overall).map((p) => p[1]);
    const lo = Math.min(band.slow_below * 0.8, Math.min.apply(null, values) * 0.95);
    const hi = Math.max(band.fast_above * 1.08, Math.max.apply(null, values) * 1.05);
    const yAt = (v) => r.y + r.h - ((v - lo) / (hi - lo)) * r.h;
    el("rect", { x: x0(), y: r.y, width: x1() - x0(), height: r.h, class: "tl-lane-bg" }, g);
    const top = yAt(band.fast_above);
    const bottom = yAt(band.slow_below);
    el("rect", { x: x0(), y: top, width: x1() - x0(), height: bottom - top, class: "tl-rate-band" },
      g).__tip = { title: "Target band", lines: [band.slow_below.toFixed(0) + " – "
        + band.fast_above.toFixed(0) + " " + unitName() + ", target " + band.target.toFixed(0)] };
    el("line", { x1: x0(), x2: x1(), y1: top, y2: top, class: "tl-rate-edge" }, g);
    el("line", { x1: x0(), x2: x1(), y1: bottom, y2: bottom, class: "tl-rate-edge" }, g);
    const target = yAt(band.target);
    el("line", { x1: x0(), x2: x1(), y1: target, y2: target, class: "tl-rate-target" }, g);
    for (const v of [band.fast_above, band.target, band.slow_below]) {
      text(x0() - 5, yAt(v) + 3.5, v.toFixed(0), "tl-small", gutter, "end");
    }
    const series = (points, cls) => {
      if (!points.length) return;
      const d = points.map((p, i) => (i ? "L" : "M") + xAt(p[0]).toFixed(1) + ","
        + yAt(p[1]).toFixed(1)).join(" ");
      el("path", { d: d, class: cls }, g);
    };
    series(D.rate.overall, "tl-rate-overall");
    series(D.rate.window, "tl-rate-line");
    for (const p of D.rate.window) {
      if (!visible(p[0])) continue;
      const out = p[1] < band.slow_below || p[1] > band.fast_above;
      el("circle", { cx: xAt(p[0]), cy: yAt(p[1]), r: out ? 4 : 3,
        class: "tl-rate-dot" + (out ? " out" : "") }, g).__tip = {
        title: "Pace " + p[1].toFixed(0) + " " + unitName() + " at " + fmt(p[0]),
        lines: ["over the agent's latest talk" + (out ? " — outside the band" : "")] };
    }
    for (const p of D.rate.overall) {
      if (!visible(p[0])) continue;
      el("circle", { cx: xAt(p[0]), cy: yAt(p[1]), r: 6, fill: "transparent" }, g).__tip = {
        title: "Whole-call pace " + p[1].toFixed(0) + " " + unitName(), lines: ["at " + fmt(p[0])] };
    }
  }

  function drawViewBar(parent) {
    // Where the zoomed window sits in the whole call, as a thin bar under the axis labels.
    const y = ROW.axis.h - 4;
    el("rect", { x: x0(), y: y, width: x1() - x0(), height: 3, class: "tl-overview-bg" }, parent);
    const px = x1() - x0();
    el("rect", { x: x0() + (view.t0 / duration) * px, y: y,
      width: Math.max(2, ((view.t1 - view.t0) / duration) * px), height: 3, class: "tl-view" },
    parent);
  }

  function requestDraw() {
    if (drawPending) return;
    drawPending = true;
    window.requestAnimationFrame(draw);
  }

  // ---- position: playhead, readout, transcript ---------------------------------------------
  function placePlayhead() {
    if (!playhead) return;
    const show = visible(position);
    playhead.setAttribute("visibility", show ? "visible" : "hidden");
    playhead.setAttribute("transform", "translate(" + xAt(position).toFixed(1) + ",0)");
    svg.dataset.position = position.toFixed(3);
    if (readout) readout.textContent = fmt(position);
    for (const input of noteMoments) {
      if (document.activeElement !== input) input.value = position.toFixed(1);
    }
  }

  function lineAt(t, nearest) {
    let best = -1;
    let bestDistance = Infinity;
    for (let i = 0; i < lineTimes.length; i++) {
      const [start, end] = lineTimes[i];
      if (t >= start && t < end) return i;
      const distance = t < start ? start - t : t - end;
      if (distance < bestDistance) {
        bestDistance = distance;
        best = i;
      }
    }
    return nearest ? best : -1;
  }

  function highlightLine(index, scroll) {
    if (index !== currentLine) {
      if (currentLine >= 0) {
        lines[currentLine].classList.remove("current");
        lines[currentLine].removeAttribute("aria-current");
      }
      currentLine = index;
      if (index >= 0) {
        lines[index].classList.add("current");
        lines[index].setAttribute("aria-current", "true");
      }
    }
    if (scroll && index >= 0 && transcriptBox) {
      const line = lines[index];
      const top = line.offsetTop;
      const bottom = top + line.offsetHeight;
      if (top < transcriptBox.scrollTop || bottom > transcriptBox.scrollTop
        + transcriptBox.clientHeight) {
        transcriptBox.scrollTop = Math.max(0, top - transcriptBox.clientHeight / 3);
      }
    }
  }

  function highlightAlert(index) {
    if (activeAlert >= 0) {
      if (alertItems[activeAlert]) alertItems[activeAlert].classList.remove("active");
      if (markers[activeAlert]) markers[activeAlert].classList.remove("active");
    }
    activeAlert = index;
    if (index >= 0) {
      if (alertItems[index]) alertItems[index].classList.add("active");
      if (markers[index]) markers[index].classList.add("active");
    }
  }

  function keepInView(t) {
    if (!zoomed() || visible(t)) return;
    const span = view.t1 - view.t0;
    let t0 = t - span * 0.1;
    t0 = Math.max(0, Math.min(duration - span, t0));
    setView(t0, t0 + span);
  }

  function seek(t) {
    position = clampT(t);
    if (audio) {
      try {
        audio.currentTime = position;
      } catch (e) {
        // No media yet: the position still moves the playhead and the transcript.
      }
    }
    keepInView(position);
    placePlayhead();
    highlightLine(lineAt(position, true), true);
  }

  // ---- playback ----------------------------------------------------------------------------
  function follow() {
    frame = 0;
    if (!audio) return;
    position = clampT(audio.currentTime);
    if (zoomed() && position > view.t1) {
      const span = view.t1 - view.t0;
      const t0 = Math.min(duration - span, position - span * 0.1);
      view = { t0: t0, t1: t0 + span };
      draw();
    }
    placePlayhead();
    const index = lineAt(position, false);
    if (index !== currentLine) highlightLine(index, index >= 0);
    if (!audio.paused && !audio.ended) frame = window.requestAnimationFrame(follow);
  }

  if (audio) {
    audio.addEventListener("play", () => {
      if (!frame) frame = window.requestAnimationFrame(follow);
    }, { signal });
    signal.addEventListener("abort", () => window.cancelAnimationFrame(frame));
    for (const name of ["pause", "ended", "seeked", "timeupdate"]) {
      audio.addEventListener(name, () => {
        if (audio.paused || audio.ended) {
          position = clampT(audio.currentTime);
          placePlayhead();
        }
      }, { signal });
    }
  }

  // ---- zoom and pan ------------------------------------------------------------------------
  function setView(t0, t1) {
    let span = Math.min(duration, Math.max(Math.min(MIN_SPAN_S, duration), t1 - t0));
    t0 = Math.max(0, Math.min(duration - span, t0));
    view = { t0: t0, t1: t0 + span };
    svg.dataset.t0 = String(view.t0); // at once: clicks use the new view before it is drawn
    svg.dataset.t1 = String(view.t1);
    requestDraw();
  }

  function zoomAt(factor, t) {
    const span = (view.t1 - view.t0) * factor;
    const share = (t - view.t0) / (view.t1 - view.t0);
    setView(t - share * span, t - share * span + span);
  }

  function zoomCentre() {
    return visible(position) ? position : (view.t0 + view.t1) / 2;
  }

  document.querySelectorAll("[data-zoom]").forEach((button) => {
    button.addEventListener("click", () => {
      const how = button.dataset.zoom;
      if (how === "fit") setView(0, duration);
      else zoomAt(how === "in" ? 0.5 : 2, zoomCentre());
    });
  });

  svg.addEventListener("wheel", (event) => {
    const box = svg.getBoundingClientRect();
    if (event.ctrlKey || event.metaKey) {
      event.preventDefault();
      zoomAt(Math.exp(event.deltaY * 0.002), tAt(event.clientX - box.left));
    } else if (zoomed() && (event.shiftKey || Math.abs(event.deltaX) > Math.abs(event.deltaY))) {
      event.preventDefault();
      const delta = (event.shiftKey ? event.deltaY : event.deltaX) || event.deltaX;
      const shift = (delta / (x1() - x0())) * (view.t1 - view.t0);
      setView(view.t0 + shift, view.t1 + shift);
    }
  }, { passive: false });

  // A press that moves more than a few pixels pans (when zoomed); otherwise it is a click.
  let press = null;
  svg.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    press = { x: event.clientX, view: view, moved: false, id: event.pointerId };
  });
  svg.addEventListener("pointermove", (event) => {
    const box = svg.getBoundingClientRect();
    const x = event.clientX - box.left;
    if (press && zoomed() && Math.abs(event.clientX - press.x) > 4) {
      if (!press.moved) {
        press.moved = true;
        svg.setPointerCapture(press.id);
        svg.classList.add("panning");
      }
      const shift = ((press.x - event.clientX) / (x1() - x0())) * (press.view.t1 - press.view.t0);
      setView(press.view.t0 + shift, press.view.t1 + shift);
      hideTip();
      return;
    }
    showCursor(x);
    showTip(event, x);
  });
  svg.addEventListener("pointerup", (event) => {
    if (!press) return;
    const moved = press.moved;
    press = null;
    svg.classList.remove("panning");
    if (moved) return;
    const box = svg.getBoundingClientRect();
    const t = tAt(event.clientX - box.left);
    const onMarker = event.target.dataset && event.target.dataset.testid === "alert-marker";
    const index = onMarker ? parseInt(event.target.dataset.index, 10) : -1;
    highlightAlert(index);
    seek(onMarker ? D.alerts[index].seek : t);
  });
  svg.addEventListener("pointercancel", () => {
    press = null;
    svg.classList.remove("panning");
  });
  svg.addEventListener("pointerleave", () => {
    hideTip();
    if (cursor) cursor.setAttribute("visibility", "hidden");
  });

  function showCursor(x) {
    if (!cursor) return;
    const inside = x >= x0() && x <= x1();
    cursor.setAttribute("visibility", inside ? "visible" : "hidden");
    cursor.setAttribute("x1", x);
    cursor.setAttribute("x2", x);
  }

  // ---- tooltip (text only: nothing from the data becomes markup) ---------------------------
  function showTip(event, x) {
    let node = event.target;
    while (node && node !== svg && !node.__tip) node = node.parentNode;
    const tip = node && node.__tip;
    tooltip.replaceChildren();
    const head = document.createElement("b");
    head.textContent = tip ? tip.title : fmt(tAt(x));
    tooltip.appendChild(head);
    if (tip) {
      for (const line of tip.lines || []) {
        tooltip.appendChild(document.createElement("br"));
        tooltip.appendChild(document.createTextNode(line));
      }
      if (tip.say) {
        const say = document.createElement("span");
        say.className = "say";
        say.textContent = "Whispered: “" + tip.say + "”";
        tooltip.appendChild(say);
      }
    } else if (x < x0() || x > x1()) {
      hideTip();
      return;
    }
    tooltip.hidden = false;
    const box = root.getBoundingClientRect();
    const left = Math.min(event.clientX - box.left + 14, root.clientWidth - tooltip.offsetWidth - 4);
    tooltip.style.left = Math.max(0, left) + "px";
    tooltip.style.top = (event.clientY - box.top + 16) + "px";
  }

  function hideTip() {
    tooltip.hidden = true;
  }

  // ---- transcript and alert list -----------------------------------------------------------
  document.addEventListener("click", (event) => {
    const seekButton = event.target.closest("[data-seek]");
    const alertItem = event.target.closest('[data-testid="alert-item"]');
    const line = event.target.closest('[data-testid="transcript-line"]');
    if (alertItem) {
      highlightAlert(parseInt(alertItem.dataset.index, 10));
      seek(parseFloat(alertItem.dataset.seek));
    } else if (seekButton) {
      seek(parseFloat(seekButton.dataset.seek));
    } else if (line) {
      seek(parseFloat(line.dataset.t));
    }
  }, { signal });
  for (const item of alertItems) {
    item.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        highlightAlert(parseInt(item.dataset.index, 10));
        seek(parseFloat(item.dataset.seek));
      }
    });
  }

  // ---- keyboard ----------------------------------------------------------------------------
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (target.closest && target.closest("input, select, textarea, audio, button, a")) {
      if (event.key === " " || event.key === "Enter") return;
    }
    if (target.closest && target.closest("input, select, textarea")) return;
    switch (event.key) {
      case " ":
        if (!audio) return;
        event.preventDefault();
        if (audio.paused) audio.play().catch(() => {});
        else audio.pause();
        break;
      case "ArrowLeft":
      case "ArrowRight":
        if (target.closest && target.closest("audio")) return;
        event.preventDefault();
        seek(position + (event.key === "ArrowLeft" ? -1 : 1) * (event.shiftKey ? 1 : 5));
        break;
      case "+":
      case "=":
        zoomAt(0.5, zoomCentre());
        break;
      case "-":
        zoomAt(2, zoomCentre());
        break;
      case "0":
        setView(0, duration);
        break;
      case "[":
      case "]": {
        const forward = event.key === "]";
        let index = -1;
        D.alerts.forEach((a, i) => {
          if (forward ? (a.seek > position + 0.05 && index < 0) : a.seek < position - 0.05) {
            index = i;
          }
        });
        if (index >= 0) {
          highlightAlert(index);
          seek(D.alerts[index].seek);
          if (alertItems[index]) alertItems[index].scrollIntoView({ block: "nearest" });
        }
        break;
      }
      default:
    }
  }, { signal });

  if (window.ResizeObserver) {
    const resized = new ResizeObserver(() => {
      if (Math.round(root.clientWidth) !== width) requestDraw();
    });
    resized.observe(root);
    signal.addEventListener("abort", () => resized.disconnect());
  } else {
    window.addEventListener("resize", requestDraw, { signal });
  }
  draw();
  if (D.start_at !== null && D.start_at !== undefined) {
    seek(D.start_at);
    // Before the audio's metadata has loaded a position may not stick: set it again then.
    if (audio && audio.readyState < 1) {
      audio.addEventListener("loadedmetadata", () => seek(D.start_at), { once: true, signal });
    }
  }
}

window.callmonitorTimeline = (function () {
  let drawn = null;
  return {
    render() {
      if (drawn) drawn.abort();
      drawn = new AbortController();
      mountTimeline(drawn.signal);
    },
  };
})();
window.callmonitorTimeline.render();
