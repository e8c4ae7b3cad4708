"""The live state of a running session, kept by its writer thread from the records it stores.

Every command that stores a call (``live``, ``tap``, ``replay --realtime``) writes through a
``SessionWriter``, so the live floor (``/live`` in the review app) needs no code per source:
the writer feeds each record to a :class:`LiveState` and stores its ``as_json`` in the
session's ``live`` column (``live_at``: when), in the same transaction as the records. The
score is the summary's (``qa_score`` over the alerts so far), so the figure a supervisor
watches becomes the one the summary keeps.

Audio time only: ``t`` is how far into the call the writer had got, ``silent_since`` and
``hold_start`` are audio times; a reader adds the wall time since ``updated_at`` for a clock
that runs between two updates.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.engine.scoring import qa_score
from monitor.storage.database import is_postgres, open_database
from monitor.storage.sessions import stale

LIVE_CHANNEL = "callmonitor_live"
"""The PostgreSQL channel a writer NOTIFYs (payload: the session id) as it stores live state."""

PHASES = ("ringing", "talking", "on_hold", "ended")


@dataclass(slots=True)
class LiveState:
    """What a floor supervisor sees of a call while it runs; ``max_alerts``: how many of the
    latest alerts it keeps (``[store] live_alerts``)."""

    max_alerts: int
    weights: dict[str, float] | None = None
    """The weight of each check the engine makes of this call; None until told (no score)."""
    phase: str = "ringing"
    rings: int = 0
    hold_start: float | None = None
    hold_transfer: bool = False
    t: float = 0.0
    speaking: tuple[str, ...] = ()
    silent_since: float | None = None
    """When the caller last heard anyone, once answered (as the engine's ``CallState``)."""
    agent_rate: float | None = None
    rate_unit: str | None = None
    alerts: Counter[str] = field(default_factory=Counter)
    violations: int = 0
    latest: list[dict[str, Any]] = field(default_factory=list)
    _signalled_rings: int = 0
    _tone_rings: int = 0

    def add(self, record: Mapping[str, Any]) -> None:
        """Take in one stored record."""
        kind = record["type"]
        self.t = max(self.t, float(record["t"]), float(record.get("end") or 0.0))
        if kind == "ring":
            self._tone_rings += 1
        elif kind == "call_event":
            self._call_event(record)
        elif kind == "pickup":
            self.phase, self.rings = "talking", int(record["rings"])
            self.silent_since = float(record["t"])
        elif kind == "speech":
            self.silent_since = max(self.silent_since or 0.0, float(record["end"]))
        elif kind == "hold_start":
            self.phase, self.hold_start = "on_hold", float(record["t"])
            self.hold_transfer = bool(record.get("transfer"))
        elif kind == "hold_end":
            self.phase, self.hold_start = "talking", None
            self.silent_since = max(self.silent_since or 0.0, float(record["t"]))
        elif kind == "metric" and record.get("name") == "agent_rate":
            self.agent_rate, self.rate_unit = record.get("value"), record.get("unit")
        elif kind == "alert":
            self._alert(record)
        elif kind == "summary":
            self.phase, self.hold_start = "ended", None
        if self.phase == "ringing":
            self.rings = max(self._tone_rings, self._signalled_rings)

    def _call_event(self, record: Mapping[str, Any]) -> None:
        if record.get("event") == "ring":
            self._signalled_rings += 1
        elif record.get("event") == "hangup":
            self.phase, self.hold_start = "ended", None

    def _alert(self, record: Mapping[str, Any]) -> None:
        self.alerts[record["rule"]] += 1
        if record.get("severity") == "violation":
            self.violations += 1
        self.latest = [*self.latest, {"rule": record["rule"], "t": record["t"],
                                      "severity": record.get("severity", "info")}
                       ][-self.max_alerts:]

    def step(self, t: float, speaking: Iterable[str]) -> bool:
        """The audio clock moved to ``t`` with ``speaking`` talking; true when who speaks
        changed (worth storing at once: dead air is counted from the last speech)."""
        now = tuple(sorted(speaking))
        changed = now != self.speaking
        if changed and not now and self.phase != "ringing":
            self.silent_since = max(self.silent_since or 0.0, t)
        self.t, self.speaking = max(self.t, t), now
        return changed

    @property
    def score(self) -> float | None:
        if self.weights is None:
            return None
        return qa_score(self.weights, self.alerts)[0]

    def as_json(self) -> dict[str, Any]:
        """The stored form (``sessions.live``): see the README's live floor."""
        return {"phase": self.phase, "rings": self.rings, "t": round(self.t, 3),
                "hold_start": self.hold_start, "hold_transfer": self.hold_transfer,
                "speaking": list(self.speaking), "silent_since": self.silent_since,
                "score": self.score, "agent_rate": self.agent_rate,
                "rate_unit": self.rate_unit, "violations": self.violations,
                "alerts_by_rule": dict(sorted(self.alerts.items())),
                "latest_alerts": list(self.latest)}


@dataclass(frozen=True, slots=True)
class LiveSession:
    """A running (or lost) session as the live floor reads it."""

    id: int
    agent: str
    source: str
    mode: str
    profile: str
    started_at: str
    lost: bool
    state: dict[str, Any]
    live_at: datetime | None
    """When the writer stored ``state`` (UTC)."""

    def elapsed(self, now: datetime) -> float:
        """Audio seconds into the call: the stored ``t`` plus the time since (the clock stops
        for a lost session)."""
        t = float(self.state.get("t") or 0.0)
        if self.lost or self.live_at is None:
            return t
        return t + max(0.0, (now - self.live_at).total_seconds())


def live_sessions(location: str | Path, agent: str | None, keep_lost_s: float,
                  now: datetime) -> list[LiveSession]:
    """The sessions still running (``agent``: only theirs), and those lost within
    ``keep_lost_s`` (their monitor stopped: shown as lost, not running)."""
    sql = ("SELECT id, agent, source, mode, profile, started_at, heartbeat_at, lost_after_s,"
           " live, live_at FROM sessions WHERE status = 'running'")
    params: list[Any] = []
    if agent is not None:
        sql += " AND agent = ?"
        params.append(agent)
    with open_database(location) as db:
        rows = db.rows(sql + " ORDER BY id", params)
    out = []
    for (sid, who, source, mode, profile, started, beat, lost_after, live, live_at) in rows:
        lost = stale(beat, lost_after, now)
        if lost and stale(beat, keep_lost_s, now):
            continue
        out.append(LiveSession(int(sid), who, source, mode, profile, started, lost,
                               json.loads(live) if live else {"phase": "ringing"},
                               datetime.fromisoformat(live_at) if live_at else None))
    return out


class LiveWatch:
    """Waits for the next change of live state: PostgreSQL LISTENs for the writers' NOTIFY
    (``LIVE_CHANNEL``); a SQLite file cannot tell, so every ``poll_s`` may be a change. Either
    way a watcher wakes at most once per ``poll_s`` (a busy floor NOTIFYs many times a second,
    and each wake reads the floor)."""

    def __init__(self, location: str | Path, poll_s: float) -> None:
        self._poll_s = poll_s
        self._woke = 0.0
        self._conn: Any = None
        if is_postgres(location):
            import psycopg

            self._conn = psycopg.connect(str(location), autocommit=True, connect_timeout=10)
            self._conn.execute(f"LISTEN {LIVE_CHANNEL}")

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` s; true when something may have changed."""
        if self._conn is None:
            time.sleep(min(timeout, self._poll_s))
            return True
        told = any(True for _ in self._conn.notifies(timeout=timeout, stop_after=1))
        if told:
            time.sleep(max(0.0, self._woke + self._poll_s - time.monotonic()))
            self._woke = time.monotonic()
        return told

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
