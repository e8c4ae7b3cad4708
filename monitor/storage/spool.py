"""A session's records kept in a file when the database cannot take them, and put back later.

A spool is JSON lines: a header naming the session and the database that failed, then every
record of the session with its sequence number, then (when the writer lived to see it) the
session's final status. It holds the whole session, not only what the database missed: a
corrupt database may be replaced by a new one, and ``recover`` must rebuild the session there.
Each line is flushed as it is written, so a writer killed later still leaves every record
before its last line, and ``recover`` skips a torn last line.

The spool goes beside the SQLite file (``calls.sqlite3`` → ``calls-spool/``), or, for a server
or when that folder cannot be written (the disk that filled up), into the user's cache folder.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from monitor.errors import CallmonitorError
from monitor.storage.database import (
    PRIVATE_FILE_MODE,
    Database,
    describe,
    is_postgres,
    open_database,
)
from monitor.storage.sessions import SessionHeader

FORMAT = 1


@dataclass(frozen=True, slots=True)
class Row:
    """One record as the ``records`` table keeps it."""

    seq: int
    type: str
    t: float
    body: str

    @classmethod
    def of(cls, seq: int, record: dict[str, Any]) -> Row:
        return cls(seq, record["type"], record["t"], json.dumps(record, ensure_ascii=False))

    def values(self, session_id: int) -> tuple[Any, ...]:
        return (session_id, self.seq, self.type, self.t, self.body)


def finish_session(db: Database, session_id: int, status: str,
                   summary: dict[str, Any] | None) -> None:
    """The session's final status, its summary's figures, and its alert counts by rule (which
    the review app filters on); call inside a transaction."""
    alerts = (summary or {}).get("alerts_by_rule") or {}
    db.execute(
        "UPDATE sessions SET status = ?, duration_s = ?, score = ?, summary = ? WHERE id = ?",
        (status, summary and summary.get("duration_s"), summary and summary.get("score"),
         summary and json.dumps(summary, ensure_ascii=False), session_id))
    store_alert_counts(db, session_id, alerts)


def store_alert_counts(db: Database, session_id: int, counts: dict[str, int]) -> None:
    """Set the session's alert count of each rule in ``counts`` (the writer sets them as the
    alerts are stored, the summary's at the end)."""
    db.executemany(
        "INSERT INTO session_alerts (session_id, rule, count) VALUES (?, ?, ?)"
        " ON CONFLICT (session_id, rule) DO UPDATE SET count = excluded.count",
        [(session_id, rule, int(n)) for rule, n in counts.items()])


def store_rows(db: Database, session_id: int, rows: list[Row]) -> None:
    """Insert the rows; those the session already holds (a commit whose answer was lost, a
    spool loaded twice) are kept as they are, not doubled."""
    db.executemany(
        "INSERT INTO records (session_id, seq, type, t, body) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (session_id, seq) DO NOTHING",
        [row.values(session_id) for row in rows])
    lines = [(session_id, row.seq, row.t, str(record.get("channel") or ""), record["text"])
             for row in rows if row.type == "utterance"
             for record in (json.loads(row.body),) if isinstance(record.get("text"), str)]
    if lines:  # the search index's copy of what was said (monitor.storage.search)
        db.executemany("INSERT INTO transcript_lines (session_id, seq, start_t, channel, text)"
                       " VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, seq) DO NOTHING", lines)


def _json(item: dict[str, Any]) -> str:
    return json.dumps(item, ensure_ascii=False)


class Spool:
    """The spool of one session; ``add`` appends what it has not written yet. A place that
    stops taking lines (its disk filled up too) is left for the next, which gets the whole
    session again."""

    def __init__(self, paths: list[Path], head: dict[str, Any]) -> None:
        self._paths = iter(paths)
        self._head = head
        self._stream: IO[str] | None = None
        self._problems: list[str] = []
        self.path: Path | None = None
        self.error: str | None = None
        """Why no place took the spool (then the session's records are not kept)."""
        self.records = 0
        self._audio: str | None = None

    @classmethod
    def create(cls, location: str, session_id: int, header: SessionHeader,
               error: str) -> Spool:
        """A new spool file, beside the database if that folder takes it, else in the cache."""
        head = {"callmonitor_spool": FORMAT, "database": describe(location),
                "session_id": session_id, "session": header.as_dict(),
                "error": error}
        spool = cls(_spool_paths(location, session_id), head)
        spool.add([], None, None)
        return spool

    def add(self, rows: list[Row], audio: str | None, status: str | None) -> None:
        """Every row from the first not yet written; the kept audio's name when it is new;
        the final status when the session ends (then the file is closed)."""
        while self.error is None:
            if self._stream is None and not self._open_next():
                return
            # A row's body is its record's JSON already: written as it is, not parsed again.
            lines = [f'{{"seq": {r.seq}, "record": {r.body}}}' for r in rows[self.records:]]
            if audio is not None and audio != self._audio:
                lines.append(_json({"audio": audio}))
            if status is not None:
                lines.append(_json({"status": status}))
            if self._write(lines):
                self.records, self._audio = len(rows), audio
                break
        if status is not None and self._stream is not None:
            self._stream.close()

    def _open_next(self) -> bool:
        """Open the next place with the header; False (and ``error``) when none is left."""
        for path in self._paths:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
                self._stream, self.path = os.fdopen(fd, "w", encoding="utf-8"), path
            except OSError as exc:
                self._problems.append(f"{path.parent}: {exc.strerror}")
                continue
            self.records, self._audio = 0, None
            if self._write([_json(self._head)]):
                return True
        self.path, self.error = None, "; ".join(self._problems)
        return False

    def _write(self, lines: list[str]) -> bool:
        """Append and flush to the disk; a place that refuses is closed and removed (a spool
        cut short there would only mislead)."""
        assert self._stream is not None and self.path is not None
        try:
            self._stream.write("".join(line + "\n" for line in lines))
            self._stream.flush()
            os.fsync(self._stream.fileno())
        except OSError as exc:
            self._problems.append(f"{self.path}: {exc.strerror}")
            with suppress(OSError):
                self._stream.close()
            with suppress(OSError):
                self.path.unlink()
                self.path.parent.rmdir()  # only if it is empty: we made it
            self._stream = None
            return False
        return True


def _spool_paths(location: str, session_id: int) -> list[Path]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
    in_cache = cache / "callmonitor" / "spool" / f"session-{session_id}-{stamp}.jsonl"
    if is_postgres(location):
        return [in_cache]
    db = Path(location).expanduser()
    return [db.with_name(f"{db.stem}-spool") / f"session-{session_id}-{stamp}.jsonl", in_cache]


@dataclass(frozen=True, slots=True)
class Recovered:
    database: str
    """Where the session went, for messages (a URL without its password)."""
    session_id: int
    added: int
    already: int
    status: str
    torn: bool
    """The last line was cut off (the writer was killed while writing it) and was skipped."""


@dataclass
class _SpoolContent:
    header: dict[str, Any]
    rows: list[Row]
    audio: str | None
    status: str | None
    torn: bool


def read_spool(path: Path) -> _SpoolContent:
    """The spool's lines, checked; a one-line error names the file and the line at fault."""
    fix = "give the spool file the error message named"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CallmonitorError(f"cannot read spool file {path} ({exc})", fix) from None
    lines = text.splitlines()
    content = _SpoolContent({}, [], None, None, torn=False)
    for number, line in enumerate(lines, 1):
        try:
            item = json.loads(line)
            _take(content, item, first=number == 1)
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines) > 1 and not text.endswith("\n"):
                content.torn = True
                break
            raise CallmonitorError(f"{path}: line {number} is not a callmonitor spool line "
                                   f"({type(exc).__name__}: {exc})", fix) from None
    if not content.header:
        raise CallmonitorError(f"{path} is empty, not a callmonitor spool file", fix)
    return content


def _take(content: _SpoolContent, item: dict[str, Any], first: bool) -> None:
    if first:
        if item.get("callmonitor_spool") != FORMAT:
            raise ValueError(f"no callmonitor_spool {FORMAT} header")
        SessionHeader(**item["session"])
        content.header = item
    elif "seq" in item:
        content.rows.append(Row.of(int(item["seq"]), item["record"]))
    elif "audio" in item:
        content.audio = str(item["audio"])
    else:
        content.status = str(item["status"])


def recover(location: str | Path | None, path: Path) -> Recovered:
    """Load a spool into the store at ``location`` (None: the database the spool names):
    into its own session if that is still there (records it already holds are kept, not
    doubled), else into a new session (and a new store where there is none: the spool may be
    all that is left). Running it twice changes nothing the second time."""
    spool = read_spool(path)
    if location is None:
        location = str(spool.header["database"])
        if "***" in location:  # the header keeps a URL as describe() prints it
            raise CallmonitorError(f"{path} names a database by a URL without its password",
                                   "give the database with --db")
    header = SessionHeader(**spool.header["session"])
    # A writer that died before its end was cut off: the same as a Ctrl-C.
    status = spool.status or "interrupted"
    summary = next((json.loads(r.body) for r in reversed(spool.rows) if r.type == "summary"),
                   None)
    with open_database(location, create=True) as db, db.transaction():
        session_id = _session_for(db, int(spool.header["session_id"]), header)
        before = _count(db, session_id)
        store_rows(db, session_id, spool.rows)
        added = _count(db, session_id) - before
        if spool.audio is not None:
            db.execute("UPDATE sessions SET audio = ? WHERE id = ?", (spool.audio, session_id))
        finish_session(db, session_id, status, summary)
    return Recovered(describe(location), session_id, added, len(spool.rows) - added, status,
                     spool.torn)


def _session_for(db: Database, session_id: int, header: SessionHeader) -> int:
    row = db.one("SELECT id FROM sessions WHERE id = ? AND started_at = ? AND source = ?",
                 (session_id, header.started_at, header.source))
    if row is not None:
        return int(row[0])
    created = db.one(
        "INSERT INTO sessions (started_at, mode, source, profile, agent, company, asr_backend,"
        " status) VALUES (?, ?, ?, ?, ?, ?, ?, 'running') RETURNING id", header.columns())
    return int(created[0]) if created else 0


def _count(db: Database, session_id: int) -> int:
    row = db.one("SELECT COUNT(*) FROM records WHERE session_id = ?", (session_id,))
    return int(row[0]) if row else 0
