"""The ``coaching`` blueprint: notes pinned to a moment of a call, the review state of a
session, the "needs review" queue and the audit log.

Who may do what: a supervisor writes notes and sets any review state; the agent whose call it
is reads its notes, acknowledges them, and may dispute the call (with a note saying why).
Another agent's call is "not found" for every route, as everywhere in the app. The queue and
the audit log are the supervisors'; an agent asking for them gets "not found".

Every form posted here must come from the app's own pages: the sign-in's cross-site check
(``Sec-Fetch-Site``, ``Origin``) and a form token derived from the sign-in token, which a page
of another site cannot read.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from monitor.storage.coaching import (
    AUDIT_ACTIONS,
    QUEUE_ORDERS,
    REVIEW_STATES,
    acknowledge,
    add_note,
    agent_notes,
    audit_rows,
    get_note,
    needs_review,
    review_of,
    session_notes,
    set_review,
)
from monitor.storage.sessions import SessionInfo
from monitor.web.auth import COOKIE, _cross_site
from monitor.web.context import plain_text, sees_agent, settings, user, visible_session

bp = Blueprint("coaching", __name__)

FORM_TOKEN = "form_token"
"""The name of the hidden field every form posted here carries."""


@bp.before_request
def _same_site_only() -> BaseResponse | None:
    """A form posted from another site is refused before it changes anything."""
    if request.method != "POST":
        return None
    sent = request.form.get(FORM_TOKEN, "")
    if _cross_site() or not hmac.compare_digest(sent, form_token()):
        return plain_text(403, "cross-site form refused")
    return None


def form_token() -> str:
    """The token the signed-in browser's forms carry: a hash of its sign-in token (which
    only this browser holds, in an HttpOnly cookie), so no stored state is needed."""
    cookie = request.cookies.get(COOKIE, "")
    return hashlib.sha256(f"callmonitor form {cookie}".encode()).hexdigest()[:32]


def coaching_of(info: SessionInfo) -> dict[str, Any]:
    """What the session page shows of coaching: its notes, its review state, the form token,
    and what the signed-in user may do."""
    who = user()
    own = not who.sees_all and info.agent == who.agent
    return {"notes": session_notes(settings().location, info.id),
            "review": review_of(settings().location, info.id), "form_token": form_token(),
            "may_write_notes": who.sees_all, "may_acknowledge": own, "may_dispute": own,
            "review_states": REVIEW_STATES if who.sees_all else (),
            "note_max_chars": settings().cfg.web.note_max_chars}


@bp.post("/sessions/<int:session_id>/notes")
def write_note(session_id: int) -> BaseResponse:
    info = visible_session(session_id)
    if not user().sees_all:
        abort(403)
    note = add_note(settings().location, session_id, _moment(info), user().name, _body())
    return redirect(url_for("session.page", session_id=session_id, _anchor=f"note-{note}"), 303)


@bp.post("/notes/<int:note_id>/ack")
def ack_note(note_id: int) -> BaseResponse:
    """The agent whose call it is has read the note."""
    note = get_note(settings().location, note_id)
    who = user()
    if note is None or not sees_agent(who, note.agent):
        abort(404)
    if who.sees_all or note.author == who.name:  # the agent's own word needs no receipt
        abort(403)
    acknowledge(settings().location, note_id, who.name)
    return redirect(url_for("session.page", session_id=note.session_id,
                            _anchor=f"note-{note_id}"), 303)


@bp.post("/sessions/<int:session_id>/review")
def review(session_id: int) -> BaseResponse:
    """A supervisor sets the state; the call's agent may only dispute it, saying why in a
    note at the moment in question."""
    info = visible_session(session_id)
    state = request.form.get("state", "")
    if state not in REVIEW_STATES:
        abort(400, f"state: one of {', '.join(REVIEW_STATES)}")
    who = user()
    if not who.sees_all:
        if state != "disputed":
            abort(403)
        add_note(settings().location, session_id, _moment(info), who.name, _body())
    set_review(settings().location, session_id, state, who.name)
    return redirect(url_for("session.page", session_id=session_id), 303)


@bp.get("/notes")
def notes() -> str:
    """Notes on the signed-in agent's calls (a supervisor: on every call), a page of them,
    not yet acknowledged first."""
    who = user()
    rows = agent_notes(settings().location, None if who.sees_all else who.agent,
                       settings().cfg.web.page_size) if who.sees_any else []
    return render_template("notes.html", notes=rows, form_token=form_token())


@bp.get("/queue")
def queue() -> str:
    """Ended sessions nobody has reviewed yet, and disputed ones: the worst first."""
    if not user().sees_all:
        abort(404)
    order = request.args.get("order", "score")
    if order not in QUEUE_ORDERS:
        abort(400, f"order: one of {', '.join(QUEUE_ORDERS)}")
    size = settings().cfg.web.page_size
    page = _page()
    rows, total = needs_review(settings().location, order, offset=(page - 1) * size,
                               limit=size)
    return render_template("queue.html", rows=rows, total=total, order=order, page=page,
                           pages=max(1, math.ceil(total / size)), orders=QUEUE_ORDERS,
                           severity=settings().severity)


@bp.get("/audit")
def audit() -> str:
    """Who viewed, played and downloaded which call, newest first."""
    if not user().sees_all:
        abort(404)
    name = (request.args.get("user") or "").strip() or None
    session_id = _optional_id(request.args.get("session"))
    size = settings().cfg.web.page_size
    page = _page()
    rows, total = audit_rows(settings().location, name, session_id, offset=(page - 1) * size,
                             limit=size)
    return render_template("audit.html", rows=rows, total=total, page=page,
                           pages=max(1, math.ceil(total / size)), user_filter=name or "",
                           session_filter=session_id, actions=AUDIT_ACTIONS)


def moment(value: str | None, duration: float) -> float | None:
    """``value`` as seconds into a call that lasts ``duration`` (a note's ``t``, a link's
    ``?t=``), to the millisecond; ``None`` if it is not a moment of the call."""
    try:
        t = float(value) if value else math.nan
    except ValueError:
        return None
    return round(t, 3) if 0.0 <= t <= duration else None


def _moment(info: SessionInfo) -> float:
    """The posted ``t`` (a running call has no end yet)."""
    t = moment(request.form.get("t"), info.duration_s if info.duration_s is not None
               else math.inf)
    if t is None:
        abort(400, "t: a moment of the call, in seconds from its start")
    return t


def _body() -> str:
    body = request.form.get("body", "").strip()
    limit = settings().cfg.web.note_max_chars
    if not body or len(body) > limit:
        abort(400, f"note: 1 to {limit} characters")
    return body


def _page() -> int:
    value = request.args.get("page", "1")
    if not value.isdigit() or not 0 < len(value) < 7 or int(value) < 1:
        abort(400, "page: a page number")
    return int(value)


def _optional_id(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        abort(400, "session: a session number")
    return int(value)
