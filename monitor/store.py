"""The session store: every session and every record of its timeline, in SQLite.

Records are written while the call runs, by one writer thread fed through a queue, so the audio
path never waits on the disk and an interrupted run keeps everything up to the interruption.
Readers (``sessions``, ``show``, the review app) open their own connections.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.errors import CallmonitorError

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  TEXT NOT NULL,
    mode        TEXT NOT NULL,
    source      TEXT NOT NULL,
    profile     TEXT NOT NULL,
    agent       TEXT NOT NULL DEFAULT '',
    company     TEXT NOT NULL DEFAULT '',
    asr_backend TEXT,
    status      TEXT NOT NULL,
    duration_s  REAL,
    score       REAL,
    summary     TEXT
);
CREATE TABLE IF NOT EXISTS records (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    type       TEXT NOT NULL,
    t          REAL NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE INDEX IF NOT EXISTS records_by_type ON records (session_id, type);
"""

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


def connect(path: Path) -> sqlite3.Connection:
    """Open (and if needed create) the database; errors name the file and the fix."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.executescript(SCHEMA)
    except (OSError, sqlite3.Error) as exc:
        raise CallmonitorError(f"cannot open the session database {path} ({exc})",
                               "pass --db with a writable SQLite file") from None
    return conn


class SessionWriter:
    """Owns one session's rows; ``add`` queues a record, the writer thread stores it."""

    def __init__(self, path: Path, *, mode: str, source: str, profile: str, agent: str,
                 company: str, asr_backend: str | None) -> None:
        self._conn = connect(path)
        with self._conn:
            cur = self._conn.execute(
                "INSERT INTO sessions (started_at, mode, source, profile, agent, company,"
                " asr_backend, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'running')",
                (datetime.now(UTC).isoformat(timespec="seconds"), mode, source, profile,
                 agent, company, asr_backend))
        self.session_id = int(cur.lastrowid or 0)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._seq = 0
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def add(self, record: dict[str, Any]) -> None:
        self._queue.put(record)

    def close(self, status: str) -> None:
        """Drain the queue, then mark the session with its final status and summary."""
        self._queue.put(("stop", status))
        self._thread.join()
        self._conn.close()

    def _run(self) -> None:
        summary: dict[str, Any] | None = None
        while True:
            batch = [self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            records = [item for item in batch if isinstance(item, dict)]
            with self._conn:
                self._insert(records)
            summary = next((r for r in reversed(records) if r["type"] == "summary"), summary)
            stop = next((item for item in batch if isinstance(item, tuple)), None)
            if stop is not None:
                self._finish(stop[1], summary)
                return

    def _insert(self, records: list[dict[str, Any]]) -> None:
        rows = []
        for record in records:
            rows.append((self.session_id, self._seq, record["type"], record["t"],
                         json.dumps(record, ensure_ascii=False)))
            self._seq += 1
        self._conn.executemany(
            "INSERT INTO records (session_id, seq, type, t, body) VALUES (?, ?, ?, ?, ?)", rows)

    def _finish(self, status: str, summary: dict[str, Any] | None) -> None:
        with self._conn:
            self._conn.execute(
                "UPDATE sessions SET status = ?, duration_s = ?, score = ?, summary = ?"
                " WHERE id = ?",
                (status, summary and summary.get("duration_s"), summary and summary.get("score"),
                 summary and json.dumps(summary, ensure_ascii=False), self.session_id))


def list_sessions(path: Path, limit: int = 50) -> list[SessionInfo]:
    with closing(connect(path)) as conn:
        rows = conn.execute("SELECT * FROM sessions ORDER BY id DESC LIMIT ?", (limit,))
        return [_info(row) for row in rows]


def get_session(path: Path, session_id: int) -> SessionInfo:
    with closing(connect(path)) as conn:
        row = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        raise CallmonitorError(f"no session {session_id} in {path}",
                               "list the stored sessions with `callmonitor sessions`")
    return _info(row)


def session_records(path: Path, session_id: int) -> Iterator[dict[str, Any]]:
    with closing(connect(path)) as conn:
        rows = conn.execute("SELECT body FROM records WHERE session_id = ? ORDER BY seq",
                            (session_id,)).fetchall()
    for (body,) in rows:
        yield json.loads(body)


def _info(row: tuple[Any, ...]) -> SessionInfo:
    values = list(row)
    values[-1] = json.loads(values[-1]) if values[-1] else None
    return SessionInfo(*values)
