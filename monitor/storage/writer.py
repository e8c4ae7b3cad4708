"""Writes one session into the store while the call runs, and never loses a record quietly.

One writer thread, fed through a queue, stores the records, so the audio path never waits on
the database (and live monitoring and its hints go on whatever the database does). A write the
database refuses for a while (a lock, a PostgreSQL server restarting) is tried again, on a new
connection, for ``[store] retry_s``. After that, or at once on an error that waiting cannot fix
(disk full, a corrupt file, a constraint), the writer gives the database up for this session:
every record of the session, stored or not, goes to a spool file that ``callmonitor recover``
loads, and ``failure`` says where, for the command's one-line error and non-zero exit.

The writer also stamps the session with a heartbeat every ``heartbeat_s``: a session whose
process died stays ``running`` in the database, and readers tell it by its stale stamp.

With each batch of records it stores the session's live state (``monitor.storage.live``:
phase, score so far, pace, latest alerts) and the alert counts by rule, in the same
transaction, so the review app's live floor and alert filter follow the call as it goes.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.config import StoreConfig, load_config
from monitor.errors import CallmonitorError
from monitor.storage.database import Database, DatabaseError, open_database
from monitor.storage.live import LIVE_CHANNEL, LiveState
from monitor.storage.sessions import SessionHeader
from monitor.storage.spool import Row, Spool, finish_session, store_alert_counts, store_rows

# Between two tries of a refused write: long enough not to hammer a restarting server.
_RETRY_PAUSE_S = 0.5


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class StoreFailure:
    """Why the database was given up, and where the session's records are instead."""

    error: str
    spool: Path | None
    records: int
    """How many records the spool holds (all of the session's, if it could be written)."""
    unsaved: int
    """Records in neither the database nor a spool (only when no spool could be written)."""

    def as_error(self, session_id: int) -> CallmonitorError:
        if self.spool is None:
            return CallmonitorError(
                f"{self.error}; session {session_id} is marked failed and {self.unsaved} of "
                "its records could not be kept anywhere (no spool file could be written)",
                "free space for the database or the cache folder ($XDG_CACHE_HOME)")
        return CallmonitorError(
            f"{self.error}; session {session_id} is marked failed and its {self.records} "
            f"records are kept in {self.spool}",
            f"mend the database, then run `callmonitor recover {self.spool}`")


class SessionWriter:
    """Owns one session's rows; ``add`` queues a record, the writer thread stores it.

    ``on_trouble`` hears each change of the store's state in one line (retrying, given up), on
    the writer's thread, so a live console can say that the database is away."""

    def __init__(self, location: str | Path, *, mode: str, source: str, profile: str,
                 agent: str, company: str, asr_backend: str | None,
                 store: StoreConfig | None = None,
                 on_trouble: Callable[[str], None] | None = None) -> None:
        self._cfg = store or load_config().store
        self.location = str(location)
        self._db = open_database(location, self._cfg.lock_wait_s, create=True)
        self._header = SessionHeader(utc_now(), mode, source, profile, agent, company,
                                     asr_backend)
        row = self._db.one(
            "INSERT INTO sessions (started_at, mode, source, profile, agent, company,"
            " asr_backend, status, heartbeat_at, heartbeat_t, lost_after_s)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, 0, ?) RETURNING id",
            (*self._header.columns(), self._header.started_at, self._cfg.lost_after_s))
        self.session_id = int(row[0]) if row else 0
        self._on_trouble = on_trouble or (lambda _line: None)
        self.trouble: str | None = None
        """The store's trouble while it lasts (retrying, given up), for a live console."""
        self._queue: queue.Queue[Any] = queue.Queue()
        self._rows: list[Row] = []  # every row of the session: a spool starts with all of them
        self._stored = 0  # self._rows[:_stored] are in the database
        self._audio: str | None = None
        self._audio_stored = False
        self._summary: dict[str, Any] | None = None
        self._spool: Spool | None = None
        self._error: str | None = None
        self._live = LiveState(self._cfg.live_alerts)
        self._live_dirty = True
        self._alerts_stored: dict[str, int] = {}
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    @property
    def failure(self) -> StoreFailure | None:
        """Set once the database was given up; final after ``close``."""
        if self._error is None:
            return None
        spool = self._spool
        assert spool is not None  # given up: a spool was tried
        kept = spool.records if spool.error is None else 0
        return StoreFailure(self._error, spool.path, kept, len(self._rows) - kept)

    def keep_audio(self, name: str) -> None:
        """Record that this session's audio is kept, as ``name`` in the audio folder."""
        self._queue.put(("audio", name))

    def add(self, record: dict[str, Any]) -> None:
        self._queue.put(record)

    def score_with(self, weights: Mapping[str, float]) -> None:
        """Score the live state with these checks' weights (the engine's for this call)."""
        self._queue.put(("weights", dict(weights)))

    def speaking(self, t: float, channels: tuple[str, ...]) -> None:
        """Who speaks changed at audio time ``t``: the live state counts silence from it."""
        self._queue.put(("speaking", t, channels))

    def close(self, status: str) -> None:
        """Drain the queue, then mark the session with its final status and summary."""
        self._queue.put(("stop", status))
        self._thread.join()
        self._db.close()

    def _run(self) -> None:
        next_beat = time.monotonic() + self._cfg.heartbeat_s
        status: str | None = None
        while status is None:
            status = self._take(self._next_batch(next_beat))
            beat = time.monotonic() >= next_beat
            if beat:
                next_beat = time.monotonic() + self._cfg.heartbeat_s
            if self._spool is None:
                self._save(beat, status)
            if self._spool is not None:
                self._spool.add(self._rows, self._audio, status)
        if self._spool is not None:
            self._mark_failed()

    def _next_batch(self, until: float) -> list[Any]:
        try:
            batch = [self._queue.get(timeout=max(0.0, until - time.monotonic()))]
        except queue.Empty:
            return []
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    def _take(self, batch: list[Any]) -> str | None:
        """The batch's records become rows; returns the final status if it ends the session."""
        status = None
        for item in batch:
            if isinstance(item, dict):
                self._rows.append(Row.of(len(self._rows), item))
                self._live.add(item)
                self._live_dirty = True
                if item["type"] == "summary":
                    self._summary = item
            elif item[0] == "audio":
                self._audio = item[1]
            elif item[0] == "weights":
                self._live.weights, self._live_dirty = item[1], True
            elif item[0] == "speaking":
                self._live_dirty |= self._live.step(item[1], item[2])
            else:
                status = item[1]
        return status

    def _save(self, beat: bool, status: str | None) -> None:
        """Store the new rows (and the heartbeat, or the end), trying again while waiting
        may help; give the database up when it cannot."""
        first_refusal: float | None = None
        while True:
            try:
                if first_refusal is not None:
                    self._reconnect()
                self._write(beat, status)
                if first_refusal is not None:
                    self._tell("the session database is back; nothing was lost", away=False)
                return
            except Exception as exc:  # whatever it is, the records must survive it
                transient = isinstance(exc, DatabaseError) and exc.transient
                now = time.monotonic()
                if first_refusal is None:
                    first_refusal = now
                    if transient:
                        self._tell(f"{_line(exc)}; trying again for {self._cfg.retry_s:g} s, "
                                   "the call goes on", away=True)
                if not transient or now - first_refusal >= self._cfg.retry_s:
                    self._give_up(exc)
                    return
                time.sleep(_RETRY_PAUSE_S)

    def _write(self, beat: bool, status: str | None) -> None:
        rows = self._rows[self._stored:]
        db = self._db
        with db.transaction():
            if rows:
                store_rows(db, self.session_id, rows)
            if self._audio is not None and not self._audio_stored:
                db.execute("UPDATE sessions SET audio = ? WHERE id = ?",
                           (self._audio, self.session_id))
            alerts = dict(self._live.alerts)
            if self._live_dirty or status is not None:
                self._write_live(db, alerts)
            if status is not None:
                finish_session(db, self.session_id, status, self._summary)
            elif beat:
                db.execute("UPDATE sessions SET heartbeat_at = ?, heartbeat_t = ? WHERE id = ?",
                           (utc_now(), max((r.t for r in self._rows), default=0.0),
                            self.session_id))
        self._stored = len(self._rows)
        self._audio_stored = self._audio is not None
        self._live_dirty = False
        self._alerts_stored = alerts

    def _write_live(self, db: Database, alerts: dict[str, int]) -> None:
        """The live state, the alert counts that changed (the list filters on them while the
        call runs; the summary's counts at the end are the same), and a NOTIFY for the
        review app's live floor on PostgreSQL (sent when the transaction commits)."""
        db.execute("UPDATE sessions SET live = ?, live_at = ? WHERE id = ?",
                   (json.dumps(self._live.as_json(), ensure_ascii=False),
                    datetime.now(UTC).isoformat(timespec="microseconds"), self.session_id))
        changed = {rule: n for rule, n in alerts.items() if self._alerts_stored.get(rule) != n}
        if changed:
            store_alert_counts(db, self.session_id, changed)
        if db.dialect == "postgresql":
            db.execute("SELECT pg_notify(?, ?)", (LIVE_CHANNEL, str(self.session_id)))

    def _reconnect(self) -> None:
        """A lost PostgreSQL connection stays lost: the next try needs a new one."""
        with suppress(Exception):  # the old connection is beyond use either way
            self._db.close()
        self._db = Database(self.location, self._cfg.lock_wait_s)

    def _tell(self, line: str, away: bool) -> None:
        self.trouble = line if away else None
        self._on_trouble(line)

    def _give_up(self, exc: Exception) -> None:
        self._error = _line(exc)
        self._spool = Spool.create(self.location, self.session_id, self._header, self._error)
        where = (f"its records go to {self._spool.path}" if self._spool.error is None
                 else f"and no spool file could be written ({self._spool.error})")
        self._tell(f"{self._error}; session {self.session_id} gives the database up, {where}; "
                   "the call goes on", away=True)

    def _mark_failed(self) -> None:
        """Say ``failed`` in the database if it answers at all; the spool has the rest."""
        with suppress(Exception):  # unreachable: readers will see it as lost
            self._reconnect()
            self._db.execute("UPDATE sessions SET status = 'failed', heartbeat_at = ?"
                             " WHERE id = ?", (utc_now(), self.session_id))


def _line(exc: Exception) -> str:
    if isinstance(exc, CallmonitorError):
        return exc.problem
    return f"session database error: {type(exc).__name__}: {' '.join(str(exc).split())}"
