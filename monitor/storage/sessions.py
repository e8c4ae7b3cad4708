"""The session store: every session and every record of its timeline, in SQLite or PostgreSQL.

Records are written while the call runs, by one writer thread fed through a queue, so the audio
path never waits on the database and an interrupted run keeps everything up to the
interruption. Readers (``sessions``, ``show``, the review app) open their own connections.
When a session ends its alert counts go into ``session_alerts`` as well as the summary, so
the review app can filter thousands of sessions by rule without reading their summaries.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

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
class SessionInfo:
    id: int
    started_at: str
    mode: str
    source: str
    profile: str
    agent: str
    company: str
    asr_backend: str | None
    status: str
    duration_s: float | None
    score: float | None
    summary: dict[str, Any] | None
    audio: str | None
    """The kept audio's file name in the audio folder, if ``--keep-audio`` kept it."""

    @property
    def alerts_by_rule(self) -> dict[str, int]:
        return dict((self.summary or {}).get("alerts_by_rule") or {})


_COLUMNS = ", ".join(f.name for f in fields(SessionInfo))


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """What the sessions list is narrowed to; ``None`` is no restriction. Dates are UTC days,
    both ends included."""

    agent: str | None = None
    since: date | None = None
    until: date | None = None
    rule: str | None = None
    min_score: float | None = None
    max_score: float | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.agent is not None:
            clauses.append("agent = ?")
            params.append(self.agent)
        if self.since is not None:
            clauses.append("started_at >= ?")
            params.append(self.since.isoformat())
        if self.until is not None:
            clauses.append("started_at < ?")
            params.append((self.until + timedelta(days=1)).isoformat())
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


class SessionWriter:
    """Owns one session's rows; ``add`` queues a record, the writer thread stores it."""

    def __init__(self, location: Location, *, mode: str, source: str, profile: str, agent: str,
                 company: str, asr_backend: str | None) -> None:
        self._db = open_database(location)
        row = self._db.one(
            "INSERT INTO sessions (started_at, mode, source, profile, agent, company,"
            " asr_backend, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'running') RETURNING id",
            (datetime.now(UTC).isoformat(timespec="seconds"), mode, source, profile,
             agent, company, asr_backend))
        self.session_id = int(row[0]) if row else 0
        self._queue: queue.Queue[Any] = queue.Queue()
        self._seq = 0
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def keep_audio(self, name: str) -> None:
        """Record that this session's audio is kept, as ``name`` in the audio folder."""
        self._queue.put(("audio", name))

    def add(self, record: dict[str, Any]) -> None:
        self._queue.put(record)

    def close(self, status: str) -> None:
        """Drain the queue, then mark the session with its final status and summary."""
        self._queue.put(("stop", status))
        self._thread.join()
        self._db.close()

    def _run(self) -> None:
        summary: dict[str, Any] | None = None
        while True:
            batch = [self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            records = [item for item in batch if isinstance(item, dict)]
            with self._db.transaction():
                self._insert(records)
            summary = next((r for r in reversed(records) if r["type"] == "summary"), summary)
            for kind, value in (item for item in batch if isinstance(item, tuple)):
                if kind == "audio":
                    self._db.execute("UPDATE sessions SET audio = ? WHERE id = ?",
                                     (value, self.session_id))
                else:
                    self._finish(value, summary)
                    return

    def _insert(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        rows = []
        for record in records:
            rows.append((self.session_id, self._seq, record["type"], record["t"],
                         json.dumps(record, ensure_ascii=False)))
            self._seq += 1
        self._db.executemany(
            "INSERT INTO records (session_id, seq, type, t, body) VALUES (?, ?, ?, ?, ?)", rows)

    def _finish(self, status: str, summary: dict[str, Any] | None) -> None:
        alerts = (summary or {}).get("alerts_by_rule") or {}
        with self._db.transaction():
            self._db.execute(
                "UPDATE sessions SET status = ?, duration_s = ?, score = ?, summary = ?"
                " WHERE id = ?",
                (status, summary and summary.get("duration_s"), summary and summary.get("score"),
                 summary and json.dumps(summary, ensure_ascii=False), self.session_id))
            self._db.executemany(
                "INSERT INTO session_alerts (session_id, rule, count) VALUES (?, ?, ?)",
                [(self.session_id, rule, int(n)) for rule, n in alerts.items()])


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


def agents(location: Location) -> list[str]:
    """Every agent name that has a session, for the review app's filter."""
    with open_database(location) as db:
        return [r[0] for r in db.rows("SELECT DISTINCT agent FROM sessions ORDER BY agent")]


def alerted_rules(location: Location) -> list[str]:
    """Every rule that has fired in some session, for the review app's filter."""
    with open_database(location) as db:
        return [r[0] for r in db.rows("SELECT DISTINCT rule FROM session_alerts ORDER BY rule")]


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


def _info(row: tuple[Any, ...]) -> SessionInfo:
    values = dict(zip((f.name for f in fields(SessionInfo)), row, strict=True))
    values["summary"] = json.loads(values["summary"]) if values["summary"] else None
    return SessionInfo(**values)

