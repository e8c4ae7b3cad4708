"""What the trend pages read: each finished session's start, length, score and summary
figures, for one agent or the whole floor, from a given moment on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from monitor.storage.database import open_database
from monitor.storage.sessions import Location


@dataclass(frozen=True, slots=True)
class TrendRow:
    """One finished session, as much of it as a trend needs."""

    started_at: str
    duration_s: float | None
    score: float | None
    summary: dict[str, Any]

    @property
    def alerts_by_rule(self) -> dict[str, int]:
        return dict(self.summary.get("alerts_by_rule") or {})


def latest_start(location: Location, agent: str | None) -> str | None:
    """When the newest finished session (of ``agent``, or anyone's) started."""
    where, params = _where(agent)
    with open_database(location) as db:
        row = db.one(f"SELECT MAX(started_at) FROM sessions{where}", params)
    return row[0] if row else None


def trend_rows(location: Location, agent: str | None, since: str) -> list[TrendRow]:
    """Every finished session (of ``agent``, or anyone's) started at ``since`` (UTC, ISO 8601)
    or later, oldest first."""
    where, params = _where(agent)
    with open_database(location) as db:
        rows = db.rows(f"SELECT started_at, duration_s, score, summary FROM sessions{where}"
                       " AND started_at >= ? ORDER BY started_at, id", [*params, since])
    return [TrendRow(started, duration, score, json.loads(summary))
            for started, duration, score, summary in rows]


def _where(agent: str | None) -> tuple[str, list[Any]]:
    if agent is None:
        return " WHERE summary IS NOT NULL", []
    return " WHERE summary IS NOT NULL AND agent = ?", [agent]
