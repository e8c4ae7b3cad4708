"""The ``live`` blueprint, the floor as it is now: ``/live`` (the page), ``/live.json`` (its
rows, for a client) and ``/live/events`` (server-sent events: the rows again whenever they
change, and at least every second while calls run, so the clocks in them move).

One row per call in progress (``monitor.storage.live``: the state each session's writer
keeps), sorted by need of attention: violations first, then holds near their limit
(``[rules."hold.too_long"]`` limit less ``warn_before_s``), then dead air past
``[rules."dead_air"] limit_s``, then the rest, longest call first. A supervisor sees the whole
floor; an agent only their own calls.

A stream holds one of waitress's threads for its whole life, so at most ``[web] live_streams``
are open at once (another is answered 503 and its page polls ``/live.json``), and each ends
after ``[web] live_stream_s`` (the browser's EventSource opens a new one) or as soon as a write
finds the browser gone.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, url_for

from monitor.config import Config
from monitor.storage.live import LiveSession, LiveWatch, live_sessions
from monitor.storage.users import User
from monitor.web.context import Settings, plain_text, settings, user
from monitor.web.labels import duration, rule_label, short_source

bp = Blueprint("live", __name__)

STREAMS = "callmonitor.live_streams"
"""The key of the open streams' semaphore in ``app.extensions``."""
# Rows are sent again at least this often while any call runs: their clocks move.
_RESEND_S = 1.0
# Attention ranks, most urgent first.
VIOLATION, HOLD_NEAR_LIMIT, DEAD_AIR, REST = range(4)


@bp.get("/live")
def page() -> str:
    return render_template("live.html", rows=floor_rows(settings(), user(), session_link()),
                           poll_ms=int(settings().cfg.web.live_poll_s * 1000))


@bp.get("/live.json", endpoint="json")
def rows_json() -> Response:
    return jsonify(rows=floor_rows(settings(), user(), session_link()))


@bp.get("/live/events", endpoint="events")
def events() -> Response:
    slots = _slots()
    if not slots.acquire(blocking=False):
        answer = plain_text(503, "too many live streams open; poll /live.json")
        answer.headers["Retry-After"] = "5"
        return answer
    stream = RowStream(settings(), user(), session_link(), slots)
    return Response(stream, mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _slots() -> threading.BoundedSemaphore:
    app = current_app
    slots = app.extensions.get(STREAMS)
    if slots is None:
        slots = app.extensions.setdefault(
            STREAMS, threading.BoundedSemaphore(settings().cfg.web.live_streams))
    return slots


class RowStream:
    """The event stream of one browser: an iterable that waitress drains and closes; closing
    (at the end, or when the browser went away) frees its slot, even if never started."""

    def __init__(self, cfg: Settings, who: User, link: Callable[[int], str],
                 slots: threading.BoundedSemaphore) -> None:
        self._cfg, self._who, self._link, self._slots = cfg, who, link, slots
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        web = self._cfg.cfg.web
        end = time.monotonic() + web.live_stream_s
        watch = LiveWatch(self._cfg.location, web.live_poll_s)
        try:
            yield b"retry: 1000\n\n"
            sent, last = None, 0.0
            while time.monotonic() < end:
                rows = floor_rows(self._cfg, self._who, self._link)
                token = [(r["id"], r["version"], r["phase"]) for r in rows]
                if token != sent or (rows and time.monotonic() - last >= _RESEND_S):
                    data = json.dumps({"rows": rows}, ensure_ascii=False)
                    yield f"event: rows\ndata: {data}\n\n".encode()
                    sent, last = token, time.monotonic()
                elif not rows and time.monotonic() - last >= 15:
                    yield b": idle\n\n"  # finds a browser that went away
                    last = time.monotonic()
                watch.wait(min(_RESEND_S, max(0.0, end - time.monotonic())))
        finally:
            watch.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._slots.release()


def session_link() -> Callable[[int], str]:
    """The link to a session's page, made without a request (a stream runs after its view)."""
    prefix = url_for("session.page", session_id=0).removesuffix("0")
    return lambda session_id: f"{prefix}{session_id}"


def floor_rows(cfg: Settings, who: User, link: Callable[[int], str]) -> list[dict[str, Any]]:
    """The rows of the floor ``who`` may see, the most urgent first; ``link``: a session's
    page."""
    now = datetime.now(UTC)
    sessions = live_sessions(cfg.location, None if who.sees_all else who.agent,
                             cfg.cfg.web.live_lost_keep_s, now)
    rows = [{**live_row(s, cfg.profile(s.profile), now), "url": link(s.id)} for s in sessions]
    rows.sort(key=lambda r: (r["attention"], -r["violations"], -r["elapsed_s"], r["id"]))
    return rows


def live_row(session: LiveSession, profile: Config, now: datetime) -> dict[str, Any]:
    """One call as the floor shows it (labels for people, the figures for a client)."""
    state = session.state
    elapsed = session.elapsed(now)
    phase = "lost" if session.lost else state.get("phase", "ringing")
    hold_s = hold_limit = silence_s = None
    if phase == "on_hold" and state.get("hold_start") is not None:
        rules = profile.rules.hold_too_long
        hold_s = max(0.0, elapsed - state["hold_start"])
        hold_limit = rules.transfer_limit_s if state.get("hold_transfer") else rules.limit_s
    if phase == "talking" and not state.get("speaking") and state.get("silent_since") is not None:
        silence_s = max(0.0, elapsed - state["silent_since"])
    row = {"id": session.id, "agent": session.agent, "source": short_source(session.source),
           "mode": session.mode, "phase": phase, "rings": state.get("rings", 0),
           "elapsed_s": round(elapsed, 1), "hold_s": _round(hold_s),
           "hold_limit_s": hold_limit, "silence_s": _round(silence_s),
           "score": state.get("score"), "agent_rate": state.get("agent_rate"),
           "rate_unit": state.get("rate_unit"), "violations": state.get("violations", 0),
           "alerts": [{**a, "label": rule_label(a["rule"])}
                      for a in state.get("latest_alerts", [])],
           "version": session.live_at.isoformat() if session.live_at else None}
    row["phase_label"] = phase_label(row)
    row["attention"] = attention(row, profile)
    return row


def phase_label(row: dict[str, Any]) -> str:
    phase = row["phase"]
    if phase == "ringing":
        return f"Ringing ({row['rings']} ring{'' if row['rings'] == 1 else 's'})"
    if phase == "on_hold":
        return f"On hold {duration(row['hold_s'])} of {duration(row['hold_limit_s'])}"
    return {"talking": "Talking", "ended": "Ended", "lost": "Lost (monitor stopped)"}.get(
        phase, phase)


def attention(row: dict[str, Any], profile: Config) -> int:
    """How urgently the call needs a supervisor (``VIOLATION`` ... ``REST``)."""
    if row["violations"]:
        return VIOLATION
    hold = profile.rules.hold_too_long
    if row["hold_s"] is not None and row["hold_s"] >= row["hold_limit_s"] - hold.warn_before_s:
        return HOLD_NEAR_LIMIT
    if row["silence_s"] is not None and row["silence_s"] >= profile.rules.dead_air.limit_s:
        return DEAD_AIR
    return REST


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
