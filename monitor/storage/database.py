"""One connection to the session database, SQLite or PostgreSQL, behind the same few calls.

A desk runs on one SQLite file; a service floor shares one PostgreSQL server, so supervisors
review every agent's calls in one place. The store and the review app write their SQL once,
with ``?`` placeholders and the subset of SQL both engines share (``RETURNING``, ``NULLS
LAST``, ``ON CONFLICT``); this module translates placeholders, creates the schema (and adds
columns that older databases lack), and turns driver errors into one-line errors naming the
database and the fix. Both connections run in autocommit mode; ``transaction`` groups writes.

Only writers (a replay, a live session, ``users add``, ``recover``) create a database; a reader
asked for one that is not there says so instead of answering from a new empty one, because an
empty answer from a mistyped path looks exactly like "no calls yet". ``resolve_location`` is
the one judge of what a command was given as its database.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from monitor.errors import CallmonitorError

Dialect = Literal["sqlite", "postgresql"]

log = logging.getLogger("monitor.storage")

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
# What a location that means to be a URL looks like: a scheme, a colon, and "//" somewhere after.
_URL_LIKE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):.*//", re.DOTALL)

# {id}: an integer key the database assigns; {real}: a double. Everything else is shared SQL.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id          {id},
    started_at  TEXT NOT NULL,
    mode        TEXT NOT NULL,
    source      TEXT NOT NULL,
    profile     TEXT NOT NULL,
    agent       TEXT NOT NULL DEFAULT '',
    company     TEXT NOT NULL DEFAULT '',
    asr_backend TEXT,
    status      TEXT NOT NULL,
    duration_s  {real},
    score       {real},
    summary     TEXT
);
CREATE TABLE IF NOT EXISTS records (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    type       TEXT NOT NULL,
    t          {real} NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE INDEX IF NOT EXISTS records_by_type ON records (session_id, type);
CREATE INDEX IF NOT EXISTS sessions_by_start ON sessions (started_at);
CREATE INDEX IF NOT EXISTS sessions_by_agent ON sessions (agent, started_at);
CREATE TABLE IF NOT EXISTS session_alerts (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    rule       TEXT NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (session_id, rule)
);
CREATE INDEX IF NOT EXISTS session_alerts_by_rule ON session_alerts (rule, session_id);
CREATE TABLE IF NOT EXISTS users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    agent         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS logins (
    token_hash TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notes (
    id              {id},
    session_id      INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    t               {real} NOT NULL,
    author          TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT
);
CREATE INDEX IF NOT EXISTS notes_by_session ON notes (session_id, t);
CREATE TABLE IF NOT EXISTS reviews (
    session_id INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    by_user    TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id         {id},
    at         TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    action     TEXT NOT NULL,
    session_id INTEGER,
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_by_user ON audit (user_name, at);
CREATE INDEX IF NOT EXISTS audit_by_session ON audit (session_id, at);
"""

TABLES = tuple(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", _SCHEMA))
"""Every table of the schema: a database without all of them is not (fully) a session store."""

# Columns added after the first release: (table, column, type). Older databases get them on open.
_ADDED_COLUMNS = (
    ("sessions", "audio", "TEXT"),
    ("sessions", "heartbeat_at", "TEXT"),
    ("sessions", "heartbeat_t", "{real}"),
    ("sessions", "lost_after_s", "{real}"),
    ("users", "time_zone", "TEXT"),
    ("sessions", "live", "TEXT"),
    ("sessions", "live_at", "TEXT"),
)
# Tables added after the first release: an older store gets them on open, like the columns
# above, rather than counting as "not a session store".
_ADDED_TABLES = ("notes", "reviews", "audit")

# The transcript search index (``monitor.storage.search``): every utterance's text by session
# and record, made on first open where it is missing and filled from the records already
# stored. SQLite indexes it with FTS5's trigram tokenizer (substrings of three or more
# characters, any language); PostgreSQL with pg_trgm, if the server lets it be installed.
TRANSCRIPT = "transcript_lines"
_TRANSCRIPT_TABLE = """CREATE TABLE IF NOT EXISTS transcript_lines (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    start_t    {real} NOT NULL,
    channel    TEXT NOT NULL,
    text       TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
)"""
# An external-content FTS5 index over transcript_lines, kept in step by triggers (which also
# run for the rows a session's deletion cascades to).
_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS transcript_fts USING fts5("
    "text, content='transcript_lines', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS transcript_fts_add AFTER INSERT ON transcript_lines BEGIN"
    " INSERT INTO transcript_fts (rowid, text) VALUES (new.rowid, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS transcript_fts_drop AFTER DELETE ON transcript_lines BEGIN"
    " INSERT INTO transcript_fts (transcript_fts, rowid, text)"
    " VALUES ('delete', old.rowid, old.text); END",
)
_BACKFILL = ("INSERT INTO transcript_lines (session_id, seq, start_t, channel, text)"
             " SELECT session_id, seq, t, COALESCE({channel}, ''), {text} FROM records"
             " WHERE type = 'utterance' AND {text} IS NOT NULL"
             " ON CONFLICT (session_id, seq) DO NOTHING")
_JSON_FIELDS: dict[Dialect, dict[str, str]] = {
    "sqlite": {"channel": "json_extract(body, '$.channel')",
               "text": "json_extract(body, '$.text')"},
    "postgresql": {"channel": "body::jsonb ->> 'channel'", "text": "body::jsonb ->> 'text'"},
}
_PG_TRIGRAM = ("CREATE EXTENSION IF NOT EXISTS pg_trgm",
               "CREATE INDEX IF NOT EXISTS transcript_lines_trgm"
               " ON transcript_lines USING gin (text gin_trgm_ops)")

_TYPES: dict[Dialect, dict[str, str]] = {
    "sqlite": {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "real": "REAL"},
    "postgresql": {"id": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                   "real": "DOUBLE PRECISION"},
}

# Locations whose schema this process has already checked: a web request must not pay for it.
_READY: set[str] = set()
_READY_LOCK = threading.Lock()

# Idle PostgreSQL connections by URL. Opening one costs a few milliseconds of TCP, start-up and
# authentication, and a review page asks the store several things; SQLite files open in
# microseconds and need no pool.
_IDLE: dict[str, list[Any]] = {}
_IDLE_LOCK = threading.Lock()
_IDLE_MAX = 8

PRIVATE_FILE_MODE = 0o600
"""Files of the store (the database, spools): what was said on calls is nobody else's."""

_CREATE_FIX = ("check the location, or create the store with a replay, a live session or "
               "`callmonitor users add`")

_FIX = {
    "sqlite": "pass --db with a writable SQLite file (or a postgresql:// URL)",
    "postgresql": "check the postgresql:// URL in --db or config [store] url, and that the "
                  "server is running and the database exists",
}


class DatabaseError(CallmonitorError):
    """The database refused a statement. ``transient``: waiting may cure it (a lock another
    process holds, a PostgreSQL connection lost while its server restarts), so a writer may
    try again, on a new connection; anything else (disk full, a corrupt file, a constraint)
    will fail the same way again."""

    def __init__(self, problem: str, fix: str, transient: bool) -> None:
        super().__init__(problem, fix)
        self.transient = transient


class StoreNotCreated(CallmonitorError):
    """The session database is not there, or lacks tables of the schema: nothing was ever
    stored at this location (or it is not ours). ``missing`` names the tables it lacks."""

    def __init__(self, problem: str, fix: str, missing: Sequence[str]) -> None:
        super().__init__(problem, fix)
        self.missing = tuple(missing)


def is_postgres(location: str | Path) -> bool:
    return str(location).startswith(_POSTGRES_SCHEMES)


def resolve_location(chosen: str, origin: str, default: str) -> str:
    """The session database a command was given (``origin`` names where it came from: --db,
    $CALLMONITOR_DB, config), checked before anything is opened: it is a ``postgresql://``
    URL or a SQLite file in a folder that exists. ``default`` is the configured store (config
    [store]): only its folder is made on first use, so a typo in a path is an error rather
    than a new empty database somewhere else."""
    if not chosen:
        raise CallmonitorError(f"{origin} is empty",
                               "give a SQLite file or a postgresql:// URL (leave --db out for "
                               f"the configured store, {describe(default) or 'none'})")
    url = _URL_LIKE.match(chosen)
    if url is not None and not is_postgres(chosen):
        accepted = " or ".join(_POSTGRES_SCHEMES)
        raise CallmonitorError(f"{origin} is a URL of unknown scheme {url.group(1)!r}",
                               f"a session database URL starts with {accepted} (anything else "
                               "is a SQLite file path)")
    if url is not None:
        return chosen
    path = Path(chosen).expanduser()
    if not path.parent.is_dir() and not _is_default(path, default):
        raise CallmonitorError(f"{origin} {chosen}: the folder {path.parent} does not exist",
                               "check the path, or create the folder first (only the "
                               f"configured store, {describe(default)}, gets its folder made)")
    return str(path)


def _is_default(path: Path, default: str) -> bool:
    return not is_postgres(default) and path == Path(default).expanduser()


def describe(location: str | Path) -> str:
    """The location for messages: a URL loses its password."""
    text = str(location)
    if not is_postgres(text):
        return text
    parts = urlsplit(text)
    if parts.password is None:
        return text
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class Database:
    """A connection with ``?`` placeholders on either engine; use it from one thread at a time.

    ``create``: a writer's connection, which makes the database (a SQLite file and its folder,
    the tables) where it is missing; a reader's (the default) raises :class:`StoreNotCreated`
    instead and writes nothing but the columns an older schema lacks."""

    def __init__(self, location: str | Path, lock_wait_s: float = 30.0, *,
                 create: bool = False) -> None:
        self.location = str(location)
        self._lock_wait_s = lock_wait_s
        self.dialect: Dialect = "postgresql" if is_postgres(location) else "sqlite"
        with self.errors("cannot open the session database"):
            self._conn = self._connect(create)
            with _READY_LOCK:
                if self.location not in _READY:
                    self._prepare(create)
                    _READY.add(self.location)

    def _prepare(self, create: bool) -> None:
        """Make sure the schema is there and current, once per location and process."""
        if not create:
            try:
                self.require_schema()
            except StoreNotCreated:
                self._conn.close()
                raise
            if not self._outdated():
                return
        self._create_schema()

    def require_schema(self) -> None:
        """Raise :class:`StoreNotCreated` unless every table of the schema exists, but for the
        ones added since (opening adds those), asked of the database each time: ``/healthz``
        uses it to notice tables dropped under it."""
        missing = sorted(set(TABLES) - self._tables())
        first = set(TABLES) - set(_ADDED_TABLES)  # an older store lacks the added ones
        if not first.intersection(missing):
            return
        if first.issubset(missing):
            raise StoreNotCreated(f"{describe(self.location)} holds no session database",
                                  _CREATE_FIX, missing)
        raise StoreNotCreated(f"the session database {describe(self.location)} lacks the "
                              f"tables {', '.join(missing)}", _CREATE_FIX, missing)

    def _tables(self) -> set[str]:
        with self.errors("cannot open the session database"):
            rows = self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'" if self.dialect == "sqlite"
                else "SELECT tablename FROM pg_tables"
                     " WHERE schemaname = ANY (current_schemas(false))").fetchall()
        return {row[0] for row in rows}

    def _outdated(self) -> bool:
        return bool(set(_ADDED_TABLES) - self._tables()) or not self._columns(TRANSCRIPT) or any(
            column not in self._columns(table) for table, column, _ in _ADDED_COLUMNS)

    def _connect(self, create: bool) -> Any:
        if self.dialect == "postgresql":
            import psycopg

            with _IDLE_LOCK:
                idle = _IDLE.get(self.location, [])
                pooled = idle.pop() if idle else None
            while pooled is not None:
                try:
                    pooled.execute("SELECT 1")  # the server may have ended it while it idled
                    return pooled
                except psycopg.Error:
                    pooled.close()
                with _IDLE_LOCK:
                    pooled = idle.pop() if idle else None
            return psycopg.connect(self.location, autocommit=True, connect_timeout=10)
        return self._connect_sqlite(Path(self.location).expanduser(), create)

    def _connect_sqlite(self, path: Path, create: bool) -> sqlite3.Connection:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            _create_private(path)
        elif not path.is_file():
            raise StoreNotCreated(f"no session database at {path}", _CREATE_FIX, TABLES)
        # A reader opens read-write (readers sign in and out) but never creates the file.
        target = path if create else f"file:{quote(str(path))}?mode=rw"
        conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None,
                               timeout=self._lock_wait_s, uri=not create)
        if create:  # WAL is a property of the file: set by whoever made it
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _create_schema(self) -> None:
        statements = [s for s in _SCHEMA.format(**_TYPES[self.dialect]).split(";") if s.strip()]
        with self.transaction():
            if self.dialect == "postgresql":
                # Two processes creating the schema at once would collide in the catalogue.
                self._conn.execute("SELECT pg_advisory_xact_lock(727011)")
            for statement in statements:
                self._conn.execute(statement)
            for table, column, kind in _ADDED_COLUMNS:
                if column not in self._columns(table):
                    kind = kind.format(**_TYPES[self.dialect])
                    self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            if not self._columns(TRANSCRIPT):
                self._create_transcript()
        if self.dialect == "postgresql":
            self._trigram_index()

    def _create_transcript(self) -> None:
        """The search table, its index (SQLite) and the utterances stored before it existed."""
        self._conn.execute(_TRANSCRIPT_TABLE.format(**_TYPES[self.dialect]))
        for statement in _SQLITE_FTS if self.dialect == "sqlite" else ():
            self._conn.execute(statement)
        self._conn.execute(_BACKFILL.format(**_JSON_FIELDS[self.dialect]))

    def _trigram_index(self) -> None:
        """pg_trgm's index, in a transaction of its own: a server that does not let this user
        install the extension still searches, by scanning, and the log says so once."""
        try:
            with self._conn.transaction():
                for statement in _PG_TRIGRAM:
                    self._conn.execute(statement)
        except Exception as exc:  # psycopg's error, whatever the server's reason
            log.warning("transcript search on %s runs without the pg_trgm index (%s); a "
                        "superuser can run CREATE EXTENSION pg_trgm", describe(self.location),
                        " ".join(str(exc).split()))

    def _columns(self, table: str) -> set[str]:
        if self.dialect == "sqlite":
            return {row[1] for row in self._conn.execute(f"PRAGMA table_info({table})")}
        rows = self._conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))
        return {row[0] for row in rows}

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; returns the cursor (``fetchone``, ``fetchall``, iteration)."""
        with self.errors("session database error"):
            return self._conn.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.errors("session database error"):
            if self.dialect == "sqlite":
                self._conn.executemany(sql, rows)
            else:
                with self._conn.cursor() as cur:
                    cur.executemany(self._sql(sql), rows)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.errors("session database error"):  # SQLite may fail while it fetches
            return [tuple(row) for row in self.execute(sql, params).fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with self.errors("session database error"):
            row = self.execute(sql, params).fetchone()
        return tuple(row) if row is not None else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all."""
        with self.errors("session database error"):
            if self.dialect == "postgresql":
                with self._conn.transaction():
                    yield
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    with suppress(sqlite3.Error):  # the first error is the one to report
                        self._conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Done with the connection: a healthy idle PostgreSQL one waits for the next use."""
        if self.dialect == "postgresql" and self._reusable():
            with _IDLE_LOCK:
                idle = _IDLE.setdefault(self.location, [])
                if len(idle) < _IDLE_MAX:
                    idle.append(self._conn)
                    return
        self._conn.close()

    def _reusable(self) -> bool:
        from psycopg.pq import TransactionStatus

        conn = self._conn
        return (not conn.closed and not conn.broken
                and conn.info.transaction_status == TransactionStatus.IDLE)

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sql(self, sql: str) -> str:
        if self.dialect == "sqlite":
            return sql
        return re.sub(r"\?", "%s", sql.replace("%", "%%"))

    @contextmanager
    def errors(self, what: str) -> Iterator[None]:
        """Driver and file errors become one line naming the database and the fix."""
        try:
            yield
        except CallmonitorError:
            raise
        except Exception as exc:
            if not _is_database_error(exc):
                raise
            detail = " ".join(str(exc).split())
            raise DatabaseError(f"{what}: {describe(self.location)} ({detail})",
                                _FIX[self.dialect], _is_transient(exc)) from None


def _create_private(path: Path) -> None:
    """Make the SQLite file, if it is not there, readable by its owner alone: it holds what
    was said on calls and the users' password hashes. SQLite gives its -wal and -shm files
    the database file's permissions."""
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))


def _is_database_error(exc: Exception) -> bool:
    if isinstance(exc, (sqlite3.Error, OSError)):
        return True
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(exc, psycopg.Error)


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return any(word in str(exc) for word in ("locked", "busy"))
    if isinstance(exc, sqlite3.Error | OSError):
        return False
    import psycopg

    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def open_database(location: str | Path, lock_wait_s: float = 30.0, *,
                  create: bool = False) -> Database:
    """Open the database at ``location`` (a SQLite file path or a ``postgresql://`` URL),
    upgrading an older schema on first use in this process. ``create`` (writers only) makes it
    where it is missing, else a missing one is :class:`StoreNotCreated`. ``lock_wait_s``: how
    long a SQLite statement waits for a lock another connection holds before it fails."""
    return Database(location, lock_wait_s, create=create)
