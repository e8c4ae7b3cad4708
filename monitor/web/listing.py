"""The ``sessions`` blueprint: the sessions list (``/``) and its CSV export (``/sessions.csv``).

Both read the same query string: ``agent``, ``since`` and ``until`` (days in the user's time
zone, both included),
``rule``, ``min_score``, ``max_score``, ``sort`` (one of the store's ``SORTABLE_COLUMNS``),
``order`` (``asc``/``desc``) and, for the page, ``page``. An agent's own name
replaces any ``agent`` they ask for. The list reads one page of rows; the export pages through
every matching session in chunks, so neither ever holds thousands of sessions in memory.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, stream_with_context

from monitor.storage.coaching import record
from monitor.storage.sessions import (
    SORTABLE_COLUMNS,
    SessionFilter,
    SessionInfo,
    agents,
    alerted_rules,
    audio_missing,
    query_sessions,
)
from monitor.storage.users import User
from monitor.web.context import settings, time_zone, user

bp = Blueprint("sessions", __name__)

# The first click on a column sorts it the way a supervisor usually wants it: names A to Z,
# the worst scores first, everything else the newest or longest first.
ASCENDING_FIRST = frozenset({"agent", "score"})
EXPORT_CHUNK = 500
# A page number past the end of any store (shown as its last page, like any stale link) whose
# offset the database still takes as an integer.
PAST_THE_END = 2**31
CSV_COLUMNS = ("id", "started_at", "agent", "company", "source", "profile", "mode", "status",
               "duration_s", "score", "rings_before_pickup", "agent_rate_cpm", "alerts")
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The list's query string, checked: what to show, in which order, which page."""

    flt: SessionFilter
    sort: str = "started_at"
    order: str = "desc"
    page: int = 1
    problems: tuple[str, ...] = ()
    """Parameters that were not understood (and are ignored), to tell the user."""
    own_only: bool = False
    """The agent is the signed-in agent's own name, not a choice (links leave it out)."""

    @property
    def descending(self) -> bool:
        return self.order == "desc"

    @property
    def filtered(self) -> bool:
        agent = None if self.own_only else self.flt.agent
        return any(v is not None for v in (agent, self.flt.since, self.flt.until,
                                           self.flt.rule, self.flt.min_score,
                                           self.flt.max_score))

    def args(self, **changes: Any) -> dict[str, str]:
        """Query-string arguments for a link to this list with ``changes`` (None drops one)."""
        values: dict[str, Any] = {
            "agent": None if self.own_only else self.flt.agent, "since": self.flt.since,
            "until": self.flt.until,
            "rule": self.flt.rule, "min_score": self.flt.min_score,
            "max_score": self.flt.max_score,
            "sort": None if self.sort == "started_at" else self.sort,
            "order": None if self.order == first_order(self.sort) else self.order,
            "page": None if self.page == 1 else self.page}
        values.update(changes)
        if values["page"] == 1:
            values["page"] = None
        return {k: _arg(v) for k, v in values.items() if v is not None}

    def filter_args(self) -> dict[str, str]:
        """Only the filters (the CSV export link, the sort links keep them)."""
        return self.args(sort=None, order=None, page=None)

    def sort_args(self, column: str) -> dict[str, str]:
        """The link of a column header: sort by it, or turn its order around."""
        if column == self.sort:
            order = "asc" if self.descending else "desc"
        else:
            order = first_order(column)
        return self.args(sort=None if column == "started_at" else column,
                         order=None if order == first_order(column) else order, page=None)


def first_order(column: str) -> str:
    return "asc" if column in ASCENDING_FIRST else "desc"


@bp.get("/")
def index() -> str:
    cfg = settings()
    who = user()
    size = max(1, cfg.cfg.web.page_size)
    query = parse_query(request.args, who)
    query, rows, total = _page_of(query, size) if who.sees_any else (query, [], 0)
    pages = max(1, math.ceil(total / size))
    first = (query.page - 1) * size + 1 if rows else 0
    return render_template(
        "sessions.html", rows=rows, total=total, query=query, page=query.page,
        pages=pages, page_links=page_links(query.page, pages), first=first,
        last=first + len(rows) - 1 if rows else 0,
        agents=agents(cfg.location) if who.sees_all else [],
        rules=visible_rules(who), severity=cfg.severity, sortable=SORTABLE_COLUMNS,
        missing_audio={s.id for s in rows if audio_missing(cfg.audio_dir, s)})


@bp.get("/sessions.csv", endpoint="csv")
def export_csv() -> Response:
    cfg = settings()
    who = user()
    query = parse_query(request.args, who)
    if query.problems:
        abort(400, "; ".join(query.problems))
    record(cfg.location, who.name, "download", None,
           "csv " + request.query_string.decode("utf-8", "replace"))
    lines = csv_lines(cfg.location, query.flt, visible_rules(who))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(lines if who.sees_any else islice(lines, 1)),  # the header alone
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="sessions-{stamp}.csv"'})


def visible_rules(who: User) -> list[str]:
    """The rules that fired on calls ``who`` may see (the filter's choices, the CSV's
    columns): an agent learns no rule that fired only on another agent's calls."""
    if not who.sees_any:
        return []
    return alerted_rules(settings().location, None if who.sees_all else who.agent)


def parse_query(args: Mapping[str, str], who: User) -> ListQuery:
    # No name, rule or date holds a NUL, and PostgreSQL refuses text with one.
    problems = [f"{key}: holds a NUL character" for key, value in args.items() if "\0" in value]
    args = {key: value for key, value in args.items() if "\0" not in value}
    flt = SessionFilter(agent=_text(args, "agent") if who.sees_all else who.agent,
                        since=_day(args, "since", problems),
                        until=_day(args, "until", problems), rule=_text(args, "rule"),
                        min_score=_score(args, "min_score", problems),
                        max_score=_score(args, "max_score", problems), time_zone=time_zone())
    sort = _text(args, "sort") or "started_at"
    if sort not in SORTABLE_COLUMNS:
        problems.append(f"sort: cannot sort by {sort!r}")
        sort = "started_at"
    order = _text(args, "order") or first_order(sort)
    if order not in ("asc", "desc"):
        problems.append(f"order: {order!r} is neither asc nor desc")
        order = first_order(sort)
    try:
        page = min(max(1, int(_text(args, "page") or 1)), PAST_THE_END)
    except ValueError:
        problems.append("page: not a number")
        page = 1
    return ListQuery(flt, sort, order, page, tuple(problems), own_only=not who.sees_all)


def _text(args: Mapping[str, str], name: str) -> str | None:
    value = (args.get(name) or "").strip()
    return value or None


def _day(args: Mapping[str, str], name: str, problems: list[str]) -> date | None:
    value = _text(args, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(f"{name}: {value!r} is not a date (YYYY-MM-DD)")
        return None


def _score(args: Mapping[str, str], name: str, problems: list[str]) -> float | None:
    value = _text(args, name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0.0 <= number <= 100.0:
        problems.append(f"{name}: {value!r} is not a score from 0 to 100")
        return None
    return number


def _page_of(query: ListQuery, size: int) -> tuple[ListQuery, list[SessionInfo], int]:
    """The rows of the page ``query`` asks for, and how many sessions match in all; a stale
    link past the end gets the last page (and a query that says so)."""
    location = settings().location

    def rows_of(page: int) -> tuple[list[SessionInfo], int]:
        return query_sessions(location, query.flt, sort=query.sort,
                              descending=query.descending, offset=(page - 1) * size,
                              limit=size)

    rows, total = rows_of(query.page)
    pages = max(1, math.ceil(total / size))
    if not rows and query.page > pages:
        query = replace(query, page=pages)
        rows, total = rows_of(pages)
    return query, rows, total


def page_links(page: int, pages: int, around: int = 2) -> list[int | None]:
    """Page numbers to link: the first, the last, and ``around`` either side of the current
    one; ``None`` marks a gap."""
    wanted = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    out: list[int | None] = []
    for number in wanted:
        if out and number - (out[-1] or 0) > 1:
            out.append(None)
        out.append(number)
    return out


def csv_lines(location: Any, flt: SessionFilter, rules: list[str]) -> Iterator[str]:
    """The export, a chunk of lines at a time: UTF-8 with a byte-order mark (so Excel reads
    Chinese names right), oldest session first. Sessions that start while the export runs are
    left out, so paging by offset never repeats or skips a row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*CSV_COLUMNS, *rules])
    yield "\ufeff" + _take(buffer)
    newest, _ = query_sessions(location, flt, sort="id", descending=True, limit=1)
    if not newest:
        return
    last_id = newest[0].id
    offset = 0
    while True:
        rows, _ = query_sessions(location, flt, sort="id", descending=False, offset=offset,
                                 limit=EXPORT_CHUNK)
        for info in rows:
            if info.id > last_id:
                break
            writer.writerow(csv_row(info, rules))
        yield _take(buffer)
        if len(rows) < EXPORT_CHUNK or rows[-1].id >= last_id:
            return
        offset += EXPORT_CHUNK


def csv_row(info: SessionInfo, rules: list[str]) -> list[Any]:
    """One session; a rule's cell is its alert count, empty where the rule was not checked
    (no summary, or listed in ``rules_skipped``): not checked is not zero alerts."""
    summary = info.summary or {}
    by_rule = info.alerts_by_rule
    skipped = {s["rule"] for s in summary.get("rules_skipped") or []}
    return [info.id, info.started_at, _cell(info.agent), _cell(info.company),
            _cell(info.source), _cell(info.profile), _cell(info.mode), _cell(info.status),
            _round(info.duration_s, 2), _round(info.score, 1),
            summary.get("rings_before_pickup"), _round(summary.get("agent_rate_cpm"), 1),
            sum(by_rule.values()) if info.summary is not None else None,
            *(by_rule.get(rule, 0) if info.summary is not None and rule not in skipped
              else None for rule in rules)]


def _cell(text: str) -> str:
    """Text as a spreadsheet shows it, never run as a formula (``=HYPERLINK(...)``)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _round(value: Any, digits: int) -> float | None:
    return round(float(value), digits) if isinstance(value, int | float) else None


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _arg(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value.isoformat() if isinstance(value, date) else str(value)
