"""The ``search`` blueprint: ``/search?q=`` finds what was said, in every call the user may
see (an agent: their own), newest first. Each hit shows its line with the query marked and
links to the moment in its session (``?t=``, which the session page seeks to)."""

from __future__ import annotations

import re

from flask import Blueprint, render_template, request

from monitor.storage.search import search_transcripts
from monitor.web.context import settings, user
from monitor.web.labels import pieces

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
    """``text`` in pieces, each saying whether it is the query (case ignored)."""
    found = re.finditer(re.escape(query), text, re.IGNORECASE) if query else ()
    return pieces(text, [match.span() for match in found])
