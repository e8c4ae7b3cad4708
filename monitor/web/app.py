"""The supervisor review app: sign-in, the sessions list, a session's timeline, exports.

``create_app(location, audio_dir, cfg)`` builds it; ``callmonitor serve`` runs it with
waitress. Every page but the sign-in page, the static files and ``/healthz`` needs a valid
sign-in: a page answers a browser without one with a redirect to ``/login`` (which comes back
to the page afterwards), the data routes (CSV, JSON, audio) with a bare 401. An agent sees only
their own sessions; anyone else's is "not found", exactly like a missing one.

Every response carries a Content-Security-Policy without inline script (the timeline's data
rides in a ``<script type="application/json">`` block, which is not run) and may not be framed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from monitor.config import Config
from monitor.errors import CallmonitorError
from monitor.storage.sessions import Location
from monitor.storage.users import signed_in_user
from monitor.web import auth, coaching, health, labels, listing, live, search, session, trends
from monitor.web.auth import COOKIE, THROTTLE, SignInThrottle, safe_next
from monitor.web.context import SETTINGS, Settings, plain_text, settings, time_zone

log = logging.getLogger("monitor.web")

BLUEPRINTS = (auth.bp, listing.bp, session.bp, health.bp, coaching.bp, trends.bp, search.bp,
              live.bp)
# Routes anyone may ask for; everything else needs a sign-in.
PUBLIC = frozenset({"auth.login", "static", "health.check"})
# Routes that answer with data rather than a page: 401 instead of a redirect to sign in.
DATA = frozenset({"sessions.csv", "session.json", "session.audio", "trends.json", "live.json",
                  "live.events"})

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "media-src 'self'; connect-src 'self'; font-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def create_app(location: Location, audio_dir: Path, cfg: Config, *,
               throttle: SignInThrottle | None = None, host: str | None = None) -> Flask:
    """The review app over the session store at ``location`` (a SQLite path or a
    ``postgresql://`` URL), with kept audio in ``audio_dir``; ``cfg`` (a loaded profile) gives
    ``[web]`` and the speaking-rate band. ``throttle`` replaces the one ``[web]`` configures
    (a test's runs on its own clock); ``host``, the address ``serve`` listens on, is a name
    the app answers to besides ``[web] allowed_hosts``."""
    app = Flask(__name__)
    app.extensions[SETTINGS] = Settings.build(location, Path(audio_dir), cfg)
    app.extensions[THROTTLE] = throttle or SignInThrottle(cfg.web)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # on DefaultJSONProvider, not the base class
    app.jinja_env.filters.update(clock=labels.clock, duration=labels.duration,
                                 local=_local_time,
                                 rule_label=labels.rule_label,
                                 score_class=labels.score_class, number=labels.number,
                                 score=labels.score, short_source=labels.short_source)
    app.jinja_env.globals.update(rule_standard=labels.RULE_STANDARD, time_zone=time_zone)
    app.before_request(_host_check({name.lower() for name in (*cfg.web.allowed_hosts, host)
                                    if name}))
    app.before_request(_gate)
    app.after_request(_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CallmonitorError, _store_error)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app


def _local_time(iso: str | None) -> str:
    """The ``local`` filter: a stored UTC time on the signed-in user's clock."""
    return labels.local_time(iso, time_zone())


def _host_check(allowed: set[str]) -> Callable[[], BaseResponse | None]:
    """Refuse a request whose Host is not one of ``allowed``: a page of another site whose
    name was pointed at this server (DNS rebinding) must not read it. ``/healthz`` answers
    whatever name a probe uses."""
    def check() -> BaseResponse | None:
        if request.endpoint == "health.check":
            return None
        try:
            name = urlsplit("//" + request.host).hostname
        except ValueError:
            name = None
        if name not in allowed:
            return plain_text(400, "unknown host name: add it to [web] allowed_hosts")
        return None
    return check


def _gate() -> BaseResponse | None:
    """Let a request through only with a valid sign-in (or to a public route)."""
    g.user = None
    if request.endpoint in ("static", "health.check"):
        return None
    token = request.cookies.get(COOKIE)
    if token:
        g.user = signed_in_user(settings().location, token)
    if request.endpoint in PUBLIC or g.user is not None:
        return None
    if request.endpoint in DATA:
        return plain_text(401, "sign in required")
    target = safe_next(request.full_path if request.query_string else request.path)
    return redirect(url_for("auth.login", next=None if target == "/" else target), 303)


def _headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _http_error(exc: HTTPException) -> BaseResponse:
    code = exc.code or 500
    if request.endpoint in DATA or g.get("user") is None or code not in (400, 404, 405):
        text = {404: "not found"}.get(code, exc.description if code == 400 else exc.name)
        return plain_text(code, text or "error")
    what = exc.name
    if code == 404:
        what = "Session not found" if request.endpoint == "session.page" else "Page not found"
    detail = exc.description if code == 400 else None
    return Response(render_template("error.html", code=code, what=what, detail=detail),
                    status=code)


def _store_error(exc: CallmonitorError) -> BaseResponse:
    """The database is unreachable or broken: log what and where; tell the browser little."""
    log.error("session store: %s", exc)
    if request.endpoint in DATA or g.get("user") is None:
        return plain_text(503, "session database unavailable")
    return Response(render_template("error.html", code=503, what="Session database unavailable",
                                    detail="The review app cannot reach the session database. "
                                           "The server log says why."), status=503)
