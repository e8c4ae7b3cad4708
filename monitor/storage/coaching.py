"""Coaching on stored calls: notes pinned to a moment, a review state per session, and the
audit log of who viewed, played and downloaded which call.

A supervisor pins a note to second ``t`` of a call; the agent whose call it is reads it there
and acknowledges it (when and by whom is kept). A session is ``new`` until a supervisor marks
it ``reviewed`` (or the agent ``disputed``); the "needs review" queue is every ended session
still new or disputed. The audit log answers "who listened to this call?": every page view,
play and download, one row each, with the user and the time (UTC, ISO 8601).

The web layer decides who may do what; these functions only read and write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from monitor.storage.database import Database, open_database
from monitor.storage.sessions import _COLUMNS, Location, SessionInfo, _info

ReviewState = Literal["new", "reviewed", "disputed"]
REVIEW_STATES: tuple[ReviewState, ...] = ("new", "reviewed", "disputed")
QUEUE_STATES: tuple[ReviewState, ...] = ("new", "disputed")
QUEUE_ORDERS = ("score", "violations")
"""How the queue may be sorted: the lowest score first, or the most violations first."""
AUDIT_ACTIONS = ("view", "play", "download")


@dataclass(frozen=True, slots=True)
class Note:
    id: int
    session_id: int
    t: float
    """The moment of the call it is pinned to (audio seconds)."""
    author: str
    body: str
    created_at: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    agent: str
    """The agent of the session (who is to acknowledge it)."""


@dataclass(frozen=True, slots=True)
class Review:
    state: ReviewState
    by_user: str | None
    at: str | None


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: str
    user_name: str
    action: str
    session_id: int | None
    detail: str


_NOTE_COLUMNS = ("n.id, n.session_id, n.t, n.author, n.body, n.created_at, n.acknowledged_at,"
                 " n.acknowledged_by, s.agent")


def add_note(location: Location, session_id: int, t: float, author: str, body: str) -> int:
    """Pin ``body`` to second ``t`` of the session; its id."""
    with open_database(location) as db:
        rows = db.rows("INSERT INTO notes (session_id, t, author, body, created_at)"
                       " VALUES (?, ?, ?, ?, ?) RETURNING id",
                       (session_id, round(t, 3), author, body, _now()))
    return int(rows[0][0])


def get_note(location: Location, note_id: int) -> Note | None:
    with open_database(location) as db:
        row = db.one(f"SELECT {_NOTE_COLUMNS} FROM notes n JOIN sessions s"
                     " ON s.id = n.session_id WHERE n.id = ?", (note_id,))
    return Note(*row) if row else None


def session_notes(location: Location, session_id: int) -> list[Note]:
    """A session's notes in the order of the call."""
    with open_database(location) as db:
        rows = db.rows(f"SELECT {_NOTE_COLUMNS} FROM notes n JOIN sessions s"
                       " ON s.id = n.session_id WHERE n.session_id = ? ORDER BY n.t, n.id",
                       (session_id,))
    return [Note(*row) for row in rows]


def agent_notes(location: Location, agent: str | None, limit: int) -> list[Note]:
    """Notes on the calls of ``agent`` (everyone's for ``None``): the ones not acknowledged
    first, then the newest."""
    where, params = ("", []) if agent is None else (" WHERE s.agent = ?", [agent])
    with open_database(location) as db:
        rows = db.rows(f"SELECT {_NOTE_COLUMNS} FROM notes n JOIN sessions s"
                       f" ON s.id = n.session_id{where}"
                       " ORDER BY CASE WHEN n.acknowledged_at IS NULL THEN 0 ELSE 1 END,"
                       " n.created_at DESC, n.id DESC LIMIT ?", [*params, limit])
    return [Note(*row) for row in rows]


def acknowledge(location: Location, note_id: int, by: str) -> None:
    """Mark the note read by ``by``; the first acknowledgement stands."""
    with open_database(location) as db:
        db.execute("UPDATE notes SET acknowledged_at = ?, acknowledged_by = ?"
                   " WHERE id = ? AND acknowledged_at IS NULL", (_now(), by, note_id))


def review_of(location: Location, session_id: int) -> Review:
    with open_database(location) as db:
        row = db.one("SELECT state, by_user, at FROM reviews WHERE session_id = ?",
                     (session_id,))
    return Review(*row) if row else Review("new", None, None)


def set_review(location: Location, session_id: int, state: ReviewState, by: str) -> None:
    if state not in REVIEW_STATES:
        raise ValueError(f"unknown review state {state!r}")
    with open_database(location) as db:
        db.execute("INSERT INTO reviews (session_id, state, by_user, at) VALUES (?, ?, ?, ?)"
                   " ON CONFLICT (session_id) DO UPDATE SET state = excluded.state,"
                   " by_user = excluded.by_user, at = excluded.at",
                   (session_id, state, by, _now()))


# An alert record's severity, in each engine's JSON.
_SEVERITY = {"sqlite": "json_extract(a.body, '$.severity')",
             "postgresql": "(a.body::jsonb ->> 'severity')"}


def needs_review(location: Location, order: str, *, offset: int = 0,
                 limit: int = 50) -> tuple[list[tuple[SessionInfo, str]], int]:
    """Ended sessions still ``new`` or ``disputed`` (with that state), one page, and how many
    in all. ``order``: ``score`` (lowest first, unscored last) or ``violations`` (the most
    alerts of severity ``violation`` first, then the lowest score)."""
    if order not in QUEUE_ORDERS:
        raise ValueError(f"unknown queue order {order!r}")
    states = ", ".join("?" for _ in QUEUE_STATES)
    where = (" FROM sessions LEFT JOIN reviews r ON r.session_id = sessions.id"
             f" WHERE sessions.status <> 'running' AND COALESCE(r.state, 'new') IN ({states})")
    columns = ", ".join(f"sessions.{c.strip()}" for c in _COLUMNS.split(","))
    with open_database(location) as db:
        first = ("(SELECT COUNT(*) FROM records a WHERE a.session_id = sessions.id AND"
                 f" a.type = 'alert' AND {_SEVERITY[db.dialect]} = 'violation') DESC, "
                 if order == "violations" else "")
        total = db.one(f"SELECT COUNT(*){where}", QUEUE_STATES)
        rows = db.rows(f"SELECT {columns}, COALESCE(r.state, 'new'){where}"
                       f" ORDER BY {first}sessions.score ASC NULLS LAST, sessions.id DESC"
                       " LIMIT ? OFFSET ?", [*QUEUE_STATES, limit, offset])
    return [(_info(row[:-1]), row[-1]) for row in rows], int(total[0]) if total else 0


def record(location: Location, who: str, action: str, session_id: int | None,
           detail: str = "") -> int:
    """One row of the audit log; its id (a page view's id ties its plays to it)."""
    with open_database(location) as db:
        return _insert(db, who, action, session_id, detail)


def continued_view(location: Location, who: str, session_id: int, view: str) -> int | None:
    """``view`` (a page's ``?v=``, the audit id of its view) if it is this user's view of this
    session: a running call's page fetches itself again every second (static/session-live.js),
    and that is the same view going on, not one more row in the log."""
    if not view.isdigit() or len(view) >= 19:
        return None
    with open_database(location) as db:
        row = db.one("SELECT id FROM audit WHERE id = ? AND action = 'view' AND user_name = ?"
                     " AND session_id = ?", (int(view), who, session_id))
    return int(row[0]) if row else None


def record_play(location: Location, who: str, session_id: int, view: str,
                window_s: float) -> bool:
    """A play of the session's audio, from page view ``view`` (its audit id; "" from
    elsewhere): one row per view and window, because a player fetches the audio in many
    range requests. Whether a row was written."""
    since = (datetime.now(UTC) - timedelta(seconds=window_s)).isoformat()
    with open_database(location) as db, db.transaction():
        if db.dialect == "postgresql":  # two range requests at once must not both write
            db.execute("SELECT pg_advisory_xact_lock(727012)")
        seen = db.one("SELECT 1 FROM audit WHERE action = 'play' AND user_name = ?"
                      " AND session_id = ? AND detail = ? AND at >= ?",
                      (who, session_id, _view_detail(view), since))
        if seen:
            return False
        _insert(db, who, "play", session_id, _view_detail(view))
    return True


def audit_rows(location: Location, user: str | None, session_id: int | None, *,
               offset: int = 0, limit: int = 100) -> tuple[list[AuditRow], int]:
    """The audit log, newest first, narrowed to a user and/or a session; and how many rows."""
    clauses: list[str] = []
    params: list[Any] = []
    if user is not None:
        clauses.append("user_name = ?")
        params.append(user)
    if session_id is not None:
        clauses.append("session_id = ?")
        params.append(session_id)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    with open_database(location) as db:
        total = db.one(f"SELECT COUNT(*) FROM audit{where}", params)
        rows = db.rows("SELECT id, at, user_name, action, session_id, detail"
                       f" FROM audit{where} ORDER BY id DESC LIMIT ? OFFSET ?",
                       [*params, limit, offset])
    return [AuditRow(*row) for row in rows], int(total[0]) if total else 0


def _insert(db: Database, who: str, action: str, session_id: int | None, detail: str) -> int:
    rows = db.rows("INSERT INTO audit (at, user_name, action, session_id, detail)"
                   " VALUES (?, ?, ?, ?, ?) RETURNING id",
                   (_now(), who, action, session_id, detail))
    return int(rows[0][0])


def _view_detail(view: str) -> str:
    return f"view {view}" if view else ""


def _now() -> str:
    return datetime.now(UTC).isoformat()
