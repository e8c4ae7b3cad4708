"""What the session page draws, computed from a session's stored records and summary.

Pure functions over the JSON records (no Flask, no database), so the drawing code in
``static/timeline.js`` only scales and paints: every span is ``[start, end]`` in audio seconds.
Sessions cut off before their summary (interrupted, still running) still get their lanes,
rings, holds and alerts from the records; what only the summary knows (dead air, interruptions,
backchannel gaps) is then left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from monitor.config import RulesConfig
from monitor.frames import CHANNELS
from monitor.storage.sessions import SessionInfo


@dataclass(frozen=True, slots=True)
class RateBand:
    """The speaking-rate standard of a profile: below ``slow_below`` or above ``fast_above``
    fires ``rate.too_slow`` / ``rate.too_fast``; ``target`` is what the standard asks for."""

    slow_below: float
    target: float
    fast_above: float
    unit: str

    @classmethod
    def from_rules(cls, rules: RulesConfig, unit: str) -> RateBand:
        return cls(rules.rate_too_slow.too_slow_below, rules.rate_too_fast.target_per_min,
                   rules.rate_too_fast.too_fast_above, unit)


# The metric records the rate lane draws, and the series each goes in.
_RATE_SERIES = {"agent_rate_window": "window", "agent_rate": "overall"}
# The evidence keys (docs/contract.md, "Rule ids") that say where an alert's condition began,
# the most precise first: an alert's link seeks there, not to when the rule decided (the end
# of a taboo's phrase, a limit reached). An alert with only ``word_end`` (filler.excess) seeks
# to the start of the word that ends there; one with neither, to its own time.
START_KEYS = ("word_start", "start")
# The evidence keys that hold the words an alert is about, highlighted in the transcript.
MARK_KEYS = ("heard", "phrase", "tokens")


@dataclass(slots=True)
class _Sorted:
    """A session's records, sorted by what the page draws of them as they are read."""

    pickup_t: float | None
    speech: dict[str, list[list[float]]] = field(
        default_factory=lambda: {c: [] for c in CHANNELS})
    utterances: list[dict[str, Any]] = field(default_factory=list)
    rings: list[list[float]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    hints: list[dict[str, Any]] = field(default_factory=list)
    rate: dict[str, list[list[float]]] = field(
        default_factory=lambda: {"window": [], "overall": []})
    events: list[dict[str, Any]] = field(default_factory=list)
    hold_records: list[dict[str, Any]] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    words: list[dict[str, Any]] = field(default_factory=list)
    """Every recognised word with its times (where a filler alert's word started)."""
    last_t: float = 0.0
    """The latest time any record mentions: the length of a call cut off before its summary."""

    def add(self, r: dict[str, Any]) -> None:
        kind = r.get("type")
        self.last_t = max(self.last_t, _num(r.get("end")) or 0.0, _num(r.get("t")) or 0.0)
        if kind == "speech" and r.get("channel") in self.speech:
            self.speech[r["channel"]].append([r["start"], r["end"]])
        elif kind == "utterance" and r.get("channel") in self.speech:
            self.utterances.append({"channel": r["channel"], "start": r["start"],
                                    "end": r["end"], "text": r.get("text", "")})
            self.words += [w for w in r.get("words") or [] if _num(w.get("end")) is not None]
        elif kind == "ring":
            self.rings.append([r["start"], r["end"]])
        elif kind == "pickup" and self.pickup_t is None:
            self.pickup_t = r["t"]
        elif kind == "alert":
            evidence = r.get("evidence") or {}
            self.alerts.append({"t": r["t"], "rule": r.get("rule", ""),
                                "severity": r.get("severity", "info"),
                                "message": r.get("message", ""), "say": r.get("say", ""),
                                "seek": _evidence_start(evidence), "word_end":
                                _num(evidence.get("word_end")), "mark": _mark(evidence),
                                "evidence": evidence})
        elif kind == "hint":
            self.hints.append({"t": r["t"], "rule": r.get("rule", ""), "say": r.get("say", ""),
                               "played": bool(r.get("played", True))})
        elif kind == "metric" and r.get("value") is not None:
            series = _RATE_SERIES.get(r.get("name", ""))
            if series:
                self.rate[series].append([r["t"], r["value"]])
        elif kind in ("hold_start", "hold_end"):
            self.hold_records.append(r)
        elif kind == "call_event":
            self.events.append({"t": r["t"], "event": r.get("event", ""), "by": r.get("by")})
        elif kind == "device":
            self.devices.append(r)


def timeline_data(info: SessionInfo, records: Iterable[dict[str, Any]],
                  band: RateBand) -> dict[str, Any]:
    """The session page's timeline and transcript, as one JSON-able dict."""
    summary = info.summary or {}
    seen = _Sorted(pickup_t=summary.get("pickup_t"))
    for record in records:
        seen.add(record)
    duration = _num(summary.get("duration_s")) or _num(info.duration_s) or seen.last_t
    return {
        "duration": round(max(duration, seen.last_t, 0.001), 3),
        "speech": {c: sorted(spans) for c, spans in seen.speech.items()},
        "utterances": sorted(seen.utterances, key=lambda u: u["start"]),
        "rings": seen.rings,
        "pickup": seen.pickup_t,
        "holds": _holds(summary, seen.hold_records, duration),
        "dead_air": _spans(summary.get("dead_air")),
        "backchannel_gaps": _spans(summary.get("backchannel_gaps")),
        "overlaps": overlaps(seen.speech["agent"], seen.speech["customer"]),
        "interruptions": [{"t": i["t"], "overlap_s": i.get("overlap_s")}
                          for i in summary.get("interruptions") or []],
        "alerts": _alert_starts(sorted(seen.alerts, key=lambda a: a["t"]), seen.words),
        "hints": seen.hints,
        "events": seen.events,
        "device_gaps": _device_gaps(seen.devices, duration),
        "rate": seen.rate,
        "rate_band": {"slow_below": band.slow_below, "target": band.target,
                      "fast_above": band.fast_above,
                      "unit": summary.get("rate_unit") or band.unit},
        "has_summary": bool(summary),
    }


def _evidence_start(evidence: dict[str, Any]) -> float | None:
    for key in START_KEYS:
        if _num(evidence.get(key)) is not None:
            return float(evidence[key])
    return None


def _mark(evidence: dict[str, Any]) -> str:
    return next((evidence[k] for k in MARK_KEYS
                 if isinstance(evidence.get(k), str) and evidence[k].strip("-")), "")


def _alert_starts(alerts: list[dict[str, Any]],
                  words: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every alert's ``seek``: its evidence's start, else the start of the recognised word
    that ends at its ``word_end``, else ``word_end``, else its own time."""
    for alert in alerts:
        end = alert.pop("word_end")
        if alert["seek"] is None and end is not None:
            word = min(words, default=None, key=lambda w: abs(w["end"] - end))
            near = word is not None and abs(word["end"] - end) < 0.001  # both to the ms
            alert["seek"] = float(word["start"]) if near and word else end
        if alert["seek"] is None:
            alert["seek"] = alert["t"]
    return alerts


def _spans(items: list[dict[str, Any]] | None) -> list[list[float]]:
    """A summary's list of ``{"start", "end", ...}`` as bare ``[start, end]`` spans."""
    return [[item["start"], item["end"]] for item in items or []]


def overlaps(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    """Where both sides speak at once: the intersections of two lists of spans."""
    out: list[list[float]] = []
    a, b = sorted(a), sorted(b)
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if end > start:
            out.append([round(start, 3), round(end, 3)])
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _holds(summary: dict[str, Any], records: list[dict[str, Any]],
           duration: float) -> list[dict[str, Any]]:
    """Holds from the summary (which knows whether the agent thanked), else from the records;
    a hold still open when the records end lasts to the end."""
    if summary.get("holds") is not None:
        return [{"start": h["start"], "end": h["end"], "announced": h.get("announced"),
                 "thanked": h.get("thanked"), "transfer": h.get("transfer", False)}
                for h in summary["holds"]]
    holds: list[dict[str, Any]] = []
    open_hold: dict[str, Any] | None = None
    for r in sorted(records, key=lambda r: r["t"]):
        if r["type"] == "hold_start":
            open_hold = {"start": r["t"], "end": None, "announced": r.get("announced"),
                         "thanked": None, "transfer": r.get("transfer", False)}
            holds.append(open_hold)
        elif open_hold is not None:
            open_hold["end"] = r["t"]
            open_hold = None
    for hold in holds:
        if hold["end"] is None:
            hold["end"] = duration
    return holds


def _device_gaps(records: list[dict[str, Any]], duration: float) -> list[dict[str, Any]]:
    """Spans where a live capture device was gone (its channels were silence, not quiet)."""
    gaps: list[dict[str, Any]] = []
    lost: dict[str, dict[str, Any]] = {}
    for r in sorted(records, key=lambda r: r["t"]):
        if r.get("state") == "lost":
            lost[r["device"]] = {"start": r["t"], "end": duration, "device": r["device"],
                                 "channels": r.get("channels", [])}
            gaps.append(lost[r["device"]])
        elif r.get("device") in lost:
            lost.pop(r["device"])["end"] = r["t"]
    return gaps


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
