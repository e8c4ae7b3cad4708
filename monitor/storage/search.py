"""Full-text search of what was said, in any language, over the ``transcript_lines`` table the
writer fills as utterances are stored (``monitor.storage.database`` makes it, and fills it
from the records of an older store, on first open).

Chinese has no spaces to split words at, so the index is of character trigrams: SQLite's FTS5
``trigram`` tokenizer, PostgreSQL's ``pg_trgm``. A trigram index cannot answer a query shorter
than three characters, and Chinese queries often are (退款): those scan the lines with
``LIKE`` instead, which gives the same answer, only slower.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.storage.database import open_database
from monitor.storage.sessions import Location

MIN_INDEXED_CHARS = 3
"""The shortest query a trigram index can answer; shorter ones scan."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One utterance that holds the query, with the session it belongs to."""

    session_id: int
    agent: str
    started_at: str
    seq: int
    start: float
    channel: str
    text: str


def search_transcripts(location: Location, query: str, *, agent: str | None,
                       limit: int) -> list[Hit]:
    """The utterances whose text holds ``query`` (a substring, case ignored), newest session
    first and in call order within one, at most ``limit``; ``agent`` (not None) keeps to that
    agent's sessions, as the review app does for an agent."""
    words = query.strip()
    if not words:
        return []
    with open_database(location) as db:
        if db.dialect == "sqlite" and len(words) >= MIN_INDEXED_CHARS:
            match = ("l.rowid IN (SELECT rowid FROM transcript_fts WHERE transcript_fts MATCH ?)")
            param = '"' + words.replace('"', '""') + '"'  # one phrase: the text as typed
        else:
            like = "LIKE" if db.dialect == "sqlite" else "ILIKE"
            match = f"l.text {like} ? ESCAPE '\\'"
            param = "%" + _escape_like(words) + "%"
        params: list[object] = [param]
        if agent is not None:
            match += " AND s.agent = ?"
            params.append(agent)
        rows = db.rows("SELECT l.session_id, s.agent, s.started_at, l.seq, l.start_t,"
                       " l.channel, l.text FROM transcript_lines l"
                       f" JOIN sessions s ON s.id = l.session_id WHERE {match}"
                       " ORDER BY s.started_at DESC, l.session_id DESC, l.seq LIMIT ?",
                       [*params, limit])
    return [Hit(*row) for row in rows]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
