"""The live view of ``callmonitor live``: one panel the agent can take in at a glance mid-call.

It reads the same JSON records every other sink gets, so it never disagrees with the timeline
or the store, and its timers run on the audio clock handed to ``step`` so they agree with the
records' times. Only the redraw rate follows the wall clock: a terminal needs a few frames a
second, not the fifty steps the pipeline makes, and drawing each would slow the pipeline.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from monitor.clock import clock
from monitor.config import Config
from monitor.frames import Channel, Record

ALERTS_SHOWN = 5
"""More than a handful of alerts is a list to read, not a glance."""

SEVERITY_STYLES = {"violation": "bold red", "warn": "yellow", "info": "dim"}
OVER = "bold red"
"""The style of whatever has passed its limit."""


def mmss(t: float) -> str:
    """Audio time as mm:ss, whole seconds: a glance needs no more (records keep milliseconds).

    The seconds elapsed, as a timer ticks, not rounded up; but rounded to the millisecond
    first, so 24.999999 from summed 20 ms steps reads 00:25.
    """
    return clock(int(round(t, 3)))


def _rings(n: int) -> str:
    return f"{n} ring" if n == 1 else f"{n} rings"


class LiveConsole:
    """A sink that also steps with the audio clock, like the hint sink: ``write`` only updates
    the state, ``step`` redraws it (at most ``refresh_per_s`` times a wall-clock second)."""

    def __init__(self, cfg: Config, header: str, overruns: Callable[[], int],
                 console: Console | None = None, refresh_per_s: float = 4.0,
                 store_trouble: Callable[[], str | None] = lambda: None,
                 wall_clock: Callable[[], float] = time.monotonic) -> None:
        """``store_trouble``: what keeps the session database from taking the records, if
        anything (the call is monitored and hints are whispered all the same). ``wall_clock``
        paces the redraws; a test hands it known times, so the pacing does not depend on how
        fast the machine steps."""
        self._cfg = cfg
        self._store_trouble = store_trouble
        self._header = header
        self._overruns = overruns
        self._console = console or Console()
        self._refresh_every_s = 1.0 / refresh_per_s
        self._wall_clock = wall_clock
        self._live: Live | None = None
        self._next_refresh = 0.0
        self._t = 0.0
        self._speaking = "nobody"
        self._tone_rings = 0
        self._ring_end: float | None = None  # end of the latest burst, to merge a double ring
        self._signalled_rings = 0  # the softphone's count beats the tones', as in the engine
        self._pickup: dict[str, Any] | None = None
        self._hold: dict[str, Any] | None = None
        self._rate: dict[str, Any] | None = None
        self._talk_s: dict[str, float] = {"agent": 0.0, "customer": 0.0}
        self._alerts: deque[dict[str, Any]] = deque(maxlen=ALERTS_SHOWN)
        self._hints = 0
        self._last_hint = ""
        self._lost: dict[str, dict[str, Any]] = {}
        self._summary: dict[str, Any] | None = None
        self._status: str | None = None

    def write(self, record: dict[str, Any]) -> None:
        match record["type"]:
            case "ring" if self._pickup is None:
                if (self._ring_end is None
                        or record["start"] - self._ring_end >= self._cfg.tones.cadence_gap_s):
                    self._tone_rings += 1
                self._ring_end = record["end"]
            case "call_event" if record["event"] == "ring" and self._pickup is None:
                self._signalled_rings += 1
            case "pickup":
                self._pickup = record
            case "hold_start":
                self._hold = record
            case "hold_end":
                self._hold = None
            case "metric" if record["name"] == "agent_rate":
                self._rate = record
            case "speech":
                channel = record["channel"]
                self._talk_s[channel] = (self._talk_s.get(channel, 0.0)
                                         + record["end"] - record["start"])
            case "alert":
                self._alerts.appendleft(record)
            case "hint":
                self._hints += 1
                self._last_hint = record["say"]
            case "device" if record["state"] == "lost":
                self._lost[record["device"]] = record
            case "device":
                self._lost.pop(record["device"], None)
            case "summary":
                self._summary = record

    def step(self, t: float, speaking: Mapping[Channel, bool]) -> list[Record]:
        self._t = t
        agent, customer = speaking.get("agent", False), speaking.get("customer", False)
        self._speaking = ("both" if agent and customer else "agent" if agent
                          else "customer" if customer else "nobody")
        if self._live is None:
            # Started with the audio rather than in __init__: a running Live hides the cursor
            # and takes over stdout, which must stay plain while a session is still setting up.
            self._live = Live(get_renderable=self.render, console=self._console,
                              auto_refresh=False, transient=False)
            self._live.start()
        now = self._wall_clock()
        if now >= self._next_refresh:
            self._next_refresh = now + self._refresh_every_s
            self._live.refresh()
        return []

    def close(self, status: str) -> None:
        self._status = status
        if self._live is None:
            self._console.print(self.render())
        else:
            # A Live that is not transient leaves its last frame, drawn now with the status:
            # that frame is the final state, printed once.
            self._live.stop()
            if not self._console.is_terminal:  # rich ends the frame's line on a terminal only
                self._console.line()

    def render(self) -> RenderableType:
        rows = Table.grid(padding=(0, 2))
        rows.add_column(style="bold", no_wrap=True)
        rows.add_column()
        rows.add_row("time", Text(f"{mmss(self._t)}   speaking: {self._speaking}"))
        rows.add_row("call", self._call())
        rows.add_row("hold", self._hold_timer())
        rows.add_row("rate", self._rate_line())
        rows.add_row("talk", self._talk())
        rows.add_row("hints", Text(f"{self._hints} whispered" + (
            f", last: {self._last_hint}" if self._hints else "")))
        overruns = self._overruns()
        rows.add_row("overruns", Text(str(overruns), style=OVER if overruns else ""))
        trouble = self._store_trouble()
        rows.add_row("store", Text(f"AWAY: {trouble}", style=OVER) if trouble
                     else Text("ok", style="dim"))
        for d in self._lost.values():
            rows.add_row("device", Text(
                f"LOST {d['device']} ({', '.join(d['channels'])}) since {mmss(d['t'])}: "
                f"{d['detail']}", style=OVER))
        rows.add_row("alerts", self._alert_rows())
        parts: list[RenderableType] = [Text(self._header, style="bold"), rows]
        if self._status is not None:
            parts.append(self._final())
        return Panel(Group(*parts))

    def _call(self) -> Text:
        max_rings = self._cfg.rules.ring_late_pickup.max_rings
        if self._pickup is None:
            rings = self._signalled_rings or self._tone_rings
            line = f"ringing ({_rings(rings)})" if rings else "not answered yet"
        else:
            rings = self._pickup["rings"]
            line = f"answered after {_rings(rings)} at {mmss(self._pickup['t'])}"
        if rings > max_rings:
            return Text(f"{line} (max {max_rings})", style=OVER)
        return Text(line)

    def _hold_timer(self) -> Text:
        if self._hold is None:
            return Text("not on hold", style="dim")
        rule = self._cfg.rules.hold_too_long
        limit = rule.transfer_limit_s if self._hold["transfer"] else rule.limit_s
        held = max(self._t - self._hold["t"], 0.0)
        style = (OVER if held > limit else "yellow" if held >= limit - rule.warn_before_s
                 else "")
        notes = [n for n, on in (("transfer", self._hold["transfer"]),
                                 ("unannounced", not self._hold["announced"])) if on]
        return Text(f"on hold {mmss(held)} / {mmss(limit)}"
                    + (f" ({', '.join(notes)})" if notes else ""), style=style)

    def _rate_line(self) -> Text:
        fast, slow = self._cfg.rules.rate_too_fast, self._cfg.rules.rate_too_slow
        unit = (self._rate or {}).get("unit", self._cfg.rate_unit)
        label = ("words/min" if unit == "wpm"
                 else "字/分" if self._cfg.language == "zh" else "chars/min")
        target = (f"target {fast.target_per_min:.0f} "
                  f"({slow.too_slow_below:.0f}-{fast.too_fast_above:.0f})")
        value = None if self._rate is None else self._rate["value"]
        if value is None:
            return Text(f"-- {label}   {target}", style="dim")
        outside = not slow.too_slow_below <= value <= fast.too_fast_above
        return Text(f"{value:.0f} {label}   {target}", style=OVER if outside else "")

    def _talk(self) -> Text:
        total = sum(self._talk_s.values())
        share = f"{self._talk_s['agent'] / total:.0%}" if total else "--"
        return Text(f"agent {share} of talk   "
                    + ", ".join(f"{c} {s:.1f} s" for c, s in self._talk_s.items()))

    def _alert_rows(self) -> RenderableType:
        if not self._alerts:
            return Text("no alerts", style="dim")
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True, overflow="ellipsis")
        for a in self._alerts:
            severity = Text(a["severity"], style=SEVERITY_STYLES.get(a["severity"], ""))
            table.add_row(mmss(a["t"]), severity, Text(a["rule"]), Text(a["message"]))
        return table

    def _final(self) -> Text:
        score = (self._summary or {}).get("score")
        return Text(f"session {self._status}"
                    + ("" if score is None else f"; QA score {score:.0f}/100"), style="bold")
