"""The readable timeline: one line per thing that happened, then the summary.

Works on records' JSON form, so ``replay`` (as the call runs) and ``show`` (from the store)
print the same text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from monitor.clock import clock as audio_clock


def clock(t: float | None) -> str:
    """Audio time as mm:ss.ss: hundredths, to tell apart records a few frames apart."""
    return "--:--" if t is None else audio_clock(t, 2)


class TimelineFormatter:
    """Turns records into lines. With recognition on, what was said (utterances) tells the
    story and bare speech segments would repeat it; with recognition off, segments are all
    there is."""

    def __init__(self, show_speech: bool) -> None:
        self._show_speech = show_speech

    def lines(self, record: dict[str, Any]) -> Iterator[str]:
        if record["type"] == "speech":
            if self._show_speech:
                yield _speech_line(record)
            return
        yield from _LINES.get(record["type"], _other)(record)


def render(records: Iterable[dict[str, Any]], show_speech: bool) -> Iterator[str]:
    formatter = TimelineFormatter(show_speech)
    for record in records:
        yield from formatter.lines(record)


class TimelineSink:
    """The timeline on a stream; the header is printed when the session opens the sink."""

    def __init__(self, stream: TextIO, header: str, show_speech: bool) -> None:
        self._stream = stream
        self._header = header
        self._formatter = TimelineFormatter(show_speech)

    def open(self) -> None:
        self._print(self._header)

    def write(self, record: dict[str, Any]) -> None:
        for line in self._formatter.lines(record):
            self._print(line)

    def close(self, status: str) -> None:
        if status != "complete":
            self._print(f"(session {status})")

    def _print(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()


def _speech_line(r: dict[str, Any]) -> str:
    return f"  {clock(r['start'])}  {r['channel']:<8}  (speech {r['end'] - r['start']:.1f} s)"


def _utterance(r: dict[str, Any]) -> Iterator[str]:
    yield f"  {clock(r['start'])}  {r['channel']:<8}  {r['text']}  [{r['end'] - r['start']:.1f} s]"


def _ring(r: dict[str, Any]) -> Iterator[str]:
    yield f"  {clock(r['start'])}  ring      {r['freq_hz']:.0f} Hz, {r['end'] - r['start']:.1f} s"


def _pickup(r: dict[str, Any]) -> Iterator[str]:
    yield f"  {clock(r['t'])}  pickup    after {r['rings']} ring(s)"


def _hold_start(r: dict[str, Any]) -> Iterator[str]:
    how = ("announced" if r["announced"] else "unannounced") + (
        ", transfer" if r["transfer"] else "")
    yield f"  {clock(r['t'])}  hold      caller on hold ({how})"


def _hold_end(r: dict[str, Any]) -> Iterator[str]:
    yield f"  {clock(r['t'])}  hold      agent back after {r['duration_s']:.1f} s"


def _alert(r: dict[str, Any]) -> Iterator[str]:
    yield (f"  {clock(r['t'])}  ALERT     [{r['severity']}] {r['rule']}: {r['message']}"
           f"  (whisper: {r['say']})")


def _call_event(r: dict[str, Any]) -> Iterator[str]:
    detail = {"hangup": f" by {r.get('by') or 'unknown'}",
              "hold": " (transfer)" if r.get("transfer") else ""}.get(r["event"], "")
    yield f"  {clock(r['t'])}  softphone {r['event']}{detail}"


def _metric(r: dict[str, Any]) -> Iterator[str]:
    return iter(())


def _other(r: dict[str, Any]) -> Iterator[str]:
    yield f"  {clock(r['t'])}  {r['type']}"


def _summary(s: dict[str, Any]) -> Iterator[str]:
    yield "Summary"
    rings = s.get("rings_before_pickup")
    pickup = "no agent speech" if s.get("pickup_t") is None else (
        f"picked up at {clock(s['pickup_t'])}"
        + ("" if rings is None else f" after {rings} ring(s)"))
    yield f"  duration {s['duration_s']:.1f} s; {pickup}"
    talk = s.get("talk_s", {})
    ratio = s.get("talk_ratio_agent")
    split = "" if ratio is None else f" (agent {ratio:.0%} of talk)"
    yield ("  talk: " + ", ".join(f"{c} {v:.1f} s" for c, v in talk.items()) + split)
    if s.get("longest_customer_turn_s") is not None:
        yield f"  longest customer turn {s['longest_customer_turn_s']:.1f} s"
    rate = s.get("agent_rate_cpm")
    unit = "characters" if s.get("rate_unit") == "cpm" else "words"
    yield ("  agent speaking rate: " + ("n/a (no long agent turn recognised)" if rate is None
                                        else f"{rate:.0f} {unit} per minute"))
    dead = s.get("dead_air")
    if dead is not None:
        spans = ", ".join(f"{clock(d['start'])}-{clock(d['end'])}" for d in dead)
        yield f"  dead air: {len(dead)}" + (f" ({spans})" if spans else "")
    holds = s.get("holds")
    if holds:
        yield "  holds: " + ", ".join(
            f"{clock(h['start'])} {h['duration']:.0f} s"
            + ("" if h["announced"] else " unannounced")
            + {True: ", thanked", False: ", not thanked", None: ""}[h["thanked"]] for h in holds)
    alerts = s.get("alerts_by_rule") or {}
    yield "  alerts: " + (", ".join(f"{k} x{v}" for k, v in alerts.items()) or "none")
    if s.get("score") is not None:
        failed = [c["rule"] for c in s.get("checks", []) if not c["passed"]]
        yield f"  QA score {s['score']:.0f}/100" + (f" (missed: {', '.join(failed)})"
                                                    if failed else "")
    elif "score" in s:
        yield "  QA score: none (no check could be made)"
    if s.get("asr_backend"):
        yield f"  speech recognition: {s['asr_backend']} ({s.get('asr_model')})"
    skipped = s.get("rules_skipped") or []
    for why in sorted({item["why"] for item in skipped}):
        names = ", ".join(i["rule"] for i in skipped if i["why"] == why)
        yield f"  not checked: {names}: {why}"


_LINES = {"utterance": _utterance, "ring": _ring, "pickup": _pickup, "alert": _alert,
          "metric": _metric, "summary": _summary, "hold_start": _hold_start,
          "hold_end": _hold_end, "call_event": _call_event}
