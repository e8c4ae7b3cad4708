"""The ``search`` blueprint: ``/search?q=`` finds what was said, in every call the user may
see (an agent: their own), newest first. Each hit shows its line with the query marked and
links to the moment in its session (``?t=``, which the session page seeks to)."""

from __future__ import annotations

import re

from flask import Blueprint, render_template, request

from monitor.storage.search import search_transcripts
from monitor.web.context import settings, user

bp = Blueprint("search", __name__)


@bp.get("/search")
def page() -> str:
    cfg = settings()
    who = user()
    query = (request.args.get("q") or "").strip()
    limit = max(1, cfg.cfg.web.page_size)
    hits = search_transcripts(cfg.location, query, agent=None if who.sees_all else who.agent,
                              limit=limit) if query and who.sees_any else []
    return render_template("search.html", query=query, limit=limit,
                           hits=[(hit, marked(hit.text, query)) for hit in hits])


def marked(text: str, query: str) -> list[tuple[str, bool]]:
    """``text`` in pieces, each saying whether it is the query (case ignored), for the page to
    wrap in ``<mark>``: the pieces are escaped like any text, so a line can never inject
    markup."""
    pieces: list[tuple[str, bool]] = []
    at = 0
    for found in re.finditer(re.escape(query), text, re.IGNORECASE) if query else ():
        if found.start() > at:
            pieces.append((text[at:found.start()], False))
        pieces.append((found.group(), True))
        at = found.end()
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces
