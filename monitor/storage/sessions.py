"""Reading the session store: every session and every record of its timeline, in SQLite or
PostgreSQL (``monitor.storage.writer`` writes them while the call runs).

Readers (``sessions``, ``show``, the review app) open their own connections. A session still
``running`` whose writer's heartbeat has stopped is read as ``lost``: its process died, and
what it stored is all there will be.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitor.errors import CallmonitorError
from monitor.storage.database import describe, is_postgres, open_database

Location = str | Path
"""A SQLite file path or a ``postgresql://`` URL."""

SORTABLE_COLUMNS = ("started_at", "agent", "duration_s", "score")
"""What a person may sort a list of sessions by (the review app's column headers)."""
# The export also pages by id: an order that new sessions never reshuffle.
SORT_KEYS = (*SORTABLE_COLUMNS, "id")


class SessionNotFound(CallmonitorError):
    """The session id is not in the store (the review app answers 404)."""


@dataclass(frozen=True, slots=True)
class SessionHeader:
    """What a session row says from its start; enough to create it again elsewhere (from a
    spool)."""

    started_at: str
    mode: str
    source: str
    profile: str
    agent: str
    company: str
    asr_backend: str | None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(SessionHeader)}

    def columns(self) -> tuple[Any, ...]:
        return tuple(self.as_dict().values())


@dataclass(frozen=True, slots=True)
class SessionInfo(SessionHeader):
    id: int
    status: str
    duration_s: float | None
    score: float | None
    summary: dict[str, Any] | None
    audio: str | None
    """The kept audio's file name in the audio folder, if ``--keep-audio`` kept it."""
    heartbeat_at: str | None
    """When the writer last said it was alive (UTC, ISO 8601)."""
    heartbeat_t: float | None
    """How far into the call (audio seconds) the writer had got by then."""
    lost_after_s: float | None
    """How stale a heartbeat may get before the session counts as lost."""

    @property
    def alerts_by_rule(self) -> dict[str, int]:
        return dict((self.summary or {}).get("alerts_by_rule") or {})


_COLUMNS = ", ".join(f.name for f in fields(SessionInfo))


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """What the sessions list is narrowed to; ``None`` is no restriction. Dates are days in
    ``time_zone`` (an IANA name), both ends included: in Asia/Shanghai a day runs from 16:00
    UTC the day before to 16:00 UTC."""

    agent: str | None = None
    since: date | None = None
    until: date | None = None
    rule: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    time_zone: str = "UTC"

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.agent is not None:
            clauses.append("agent = ?")
            params.append(self.agent)
        # The first and last days have no day before or after, and no filter is needed there.
        if self.since is not None and self.since > date.min:
            clauses.append("started_at >= ?")
            params.append(day_start_utc(self.since, self.time_zone))
        if self.until is not None and self.until < date.max:
            clauses.append("started_at < ?")
            params.append(day_start_utc(self.until + timedelta(days=1), self.time_zone))
        if self.rule is not None:
            clauses.append("EXISTS (SELECT 1 FROM session_alerts a"
                           " WHERE a.session_id = sessions.id AND a.rule = ?)")
            params.append(self.rule)
        if self.min_score is not None:
            clauses.append("score >= ?")
            params.append(self.min_score)
        if self.max_score is not None:
            clauses.append("score <= ?")
            params.append(self.max_score)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def day_start_utc(day: date, time_zone: str) -> str:
    """The UTC instant ``day`` starts at in ``time_zone``, as the store writes ``started_at``
    (``2025-03-01T16:00:00+00:00``), so the two compare as text."""
    start = datetime.combine(day, time(), tzinfo=ZoneInfo(time_zone))
    return start.astimezone(UTC).isoformat(timespec="seconds")


def list_sessions(location: Location, limit: int = 50) -> list[SessionInfo]:
    return query_sessions(location, SessionFilter(), limit=limit)[0]


def query_sessions(location: Location, flt: SessionFilter, *, sort: str = "started_at",
                   descending: bool = True, offset: int = 0,
                   limit: int = 50) -> tuple[list[SessionInfo], int]:
    """One page of the sessions that pass ``flt``, and how many pass in all."""
    if sort not in SORT_KEYS:
        raise CallmonitorError(f"cannot sort sessions by {sort!r}",
                               f"sort by one of {', '.join(SORT_KEYS)}")
    where, params = flt.where()
    order = "DESC" if descending else "ASC"
    with open_database(location) as db:
        total_row = db.one(f"SELECT COUNT(*) FROM sessions{where}", params)
        # The page's ids first, from the narrow index and sort columns, then only their rows:
        # a deep page sorted by score would otherwise drag every summary along (78 ms -> 8 ms
        # for page 60 of 5000 sessions).
        ordering = f"ORDER BY {sort} {order} NULLS LAST, id {order}"
        rows = db.rows(
            f"SELECT {_COLUMNS} FROM sessions WHERE id IN (SELECT id FROM sessions{where}"
            f" {ordering} LIMIT ? OFFSET ?) {ordering}", [*params, limit, offset])
    return [_info(row) for row in rows], int(total_row[0]) if total_row else 0


def get_session(location: Location, session_id: int) -> SessionInfo:
    with open_database(location) as db:
        row = db.one(f"SELECT {_COLUMNS} FROM sessions WHERE id = ?", (session_id,))
    if row is None:
        raise SessionNotFound(f"no session {session_id} in {describe(location)}",
                              "list the stored sessions with `callmonitor sessions`")
    return _info(row)


def session_records(location: Location, session_id: int) -> Iterator[dict[str, Any]]:
    with open_database(location) as db:
        rows = db.rows("SELECT body FROM records WHERE session_id = ? ORDER BY seq",
                       (session_id,))
    for (body,) in rows:
        yield json.loads(body)


def sessions_started_before(location: Location, cutoff: datetime, *,
                            with_audio_only: bool = False) -> list[SessionInfo]:
    """Every session started before ``cutoff`` (aware, UTC), oldest first (``prune``'s)."""
    where = "started_at < ?" + (" AND audio IS NOT NULL" if with_audio_only else "")
    with open_database(location) as db:
        rows = db.rows(f"SELECT {_COLUMNS} FROM sessions WHERE {where} ORDER BY id",
                       (cutoff.astimezone(UTC).isoformat(timespec="seconds"),))
    return [_info(row) for row in rows]


def agents(location: Location) -> list[str]:
    """Every agent name that has a session, for the review app's filter."""
    with open_database(location) as db:
        return [r[0] for r in db.rows("SELECT DISTINCT agent FROM sessions ORDER BY agent")]


def alerted_rules(location: Location, agent: str | None = None) -> list[str]:
    """Every rule that has fired in some session (of ``agent``, if given), for the review
    app's filter and the CSV's columns: an agent learns nothing of other agents' calls."""
    sql = "SELECT DISTINCT rule FROM session_alerts"
    params: list[Any] = []
    if agent is not None:
        sql += " a JOIN sessions s ON s.id = a.session_id WHERE s.agent = ?"
        params.append(agent)
    with open_database(location) as db:
        return [r[0] for r in db.rows(sql + " ORDER BY rule", params)]


def default_audio_dir(location: Location) -> Path:
    """Where kept audio goes unless config says otherwise: beside a SQLite file
    (``calls.sqlite3`` → ``calls-audio/``); for a server, in the user's data folder."""
    if is_postgres(location):
        base = Path(os.environ.get("XDG_DATA_HOME") or "~/.local/share").expanduser()
        return base / "callmonitor" / "audio"
    path = Path(location).expanduser()
    return path.with_name(f"{path.stem}-audio")


def audio_file(audio_dir: Path, info: SessionInfo) -> Path | None:
    """The session's kept audio, if it was kept and is still there inside ``audio_dir`` (a
    name in the database never leads a reader to another file)."""
    if not info.audio:
        return None
    path = audio_dir / info.audio
    inside = path.resolve().is_relative_to(audio_dir.resolve())
    return path if inside and path.is_file() else None


def audio_missing(audio_dir: Path, info: SessionInfo) -> bool:
    """Audio was kept for the session but its file is gone (deleted or moved by hand): the
    review app says so rather than "none was kept"."""
    return bool(info.audio) and audio_file(audio_dir, info) is None


def _info(row: tuple[Any, ...]) -> SessionInfo:
    values = dict(zip((f.name for f in fields(SessionInfo)), row, strict=True))
    values["summary"] = json.loads(values["summary"]) if values["summary"] else None
    if values["status"] == "running" and stale(values["heartbeat_at"], values["lost_after_s"]):
        values["status"] = "lost"
    return SessionInfo(**values)


def stale(heartbeat_at: str | None, lost_after_s: float | None,
          now: datetime | None = None) -> bool:
    """Whether a session that says running is lost at ``now`` (default: this moment): its
    heartbeat is older than its limit, or it is from before heartbeats (no limit stored)."""
    if heartbeat_at is None or lost_after_s is None:
        return True
    age = (now or datetime.now(UTC)) - datetime.fromisoformat(heartbeat_at)
    return age.total_seconds() > lost_after_s

