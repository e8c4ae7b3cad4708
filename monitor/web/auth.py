"""Sign-in for the review app: the ``auth`` blueprint (``/login``, ``/logout``), the sign-in
cookie, the throttle on failed sign-ins, and where a sign-in may send the browser next.

Passwords and tokens are ``monitor.storage.users``' business; this module only moves the
token between the browser and the database. The throttle is per process and in memory: it
slows a password guesser down to a few tries a minute per name and address, which is all it
is for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as BaseResponse

from monitor.storage.users import User, authenticate, sign_in, sign_out
from monitor.web.context import plain_text, settings

log = logging.getLogger("monitor.web")

bp = Blueprint("auth", __name__)

COOKIE = "callmonitor_session"
THROTTLE = "callmonitor_throttle"
"""The key of the app's ``SignInThrottle`` in ``app.extensions``."""
# Longer passwords are refused unhashed: nobody types them, and hashing them costs.
MAX_PASSWORD_CHARS = 1024


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if g.user is not None:
            return redirect(target, 303)
        return render_template("login.html", next=target, name="", error=None)
    if _cross_site():
        return plain_text(403, "cross-site sign-in refused")
    return _sign_in(target, request.form.get("name", "").strip(),
                    request.form.get("password", ""), request.remote_addr or "?")


@bp.post("/logout")
def logout() -> BaseResponse:
    if _cross_site():
        return plain_text(403, "cross-site sign-out refused")
    token = request.cookies.get(COOKIE)
    if token:
        sign_out(settings().location, token)
    response = redirect(url_for("auth.login"), 303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict",
                           secure=settings().cfg.web.secure_cookies)
    return response


def _sign_in(target: str, name: str, password: str, address: str) -> ResponseReturnValue:
    """Check a posted name and password, unless this name and address have failed too often
    lately; a wrong one counts against both."""
    throttle: SignInThrottle = current_app.extensions[THROTTLE]
    wait = throttle.retry_after(name, address)
    if wait > 0:
        log.warning("sign-in throttled: name=%r address=%s (retry in %.0f s)", name, address,
                    wait)
        seconds = max(1, round(wait))
        return (render_template("login.html", next=target, name=name,
                                error=f"Too many failed sign-ins. Try again in {seconds} s."),
                429, {"Retry-After": str(seconds)})
    plausible = name and password and len(password) <= MAX_PASSWORD_CHARS
    who = authenticate(settings().location, name, password) if plausible else None
    if who is None:
        throttle.failed(name, address)
        log.warning("failed sign-in: name=%r address=%s", name, address)
        return (render_template("login.html", next=target, name=name,
                                error="Wrong name or password."), 401, {})
    throttle.succeeded(name, address)
    return _signed_in(who, target, address)


def _signed_in(who: User, target: str, address: str) -> BaseResponse:
    """Start a session of ``who`` in the database and hand its token to the browser."""
    hours = settings().cfg.web.sign_in_hours
    token = sign_in(settings().location, who, timedelta(hours=hours))
    log.info("signed in: name=%r role=%s address=%s", who.name, who.role, address)
    response = redirect(target, 303)
    response.set_cookie(COOKIE, token, max_age=int(hours * 3600), path="/", httponly=True,
                        samesite="Strict", secure=settings().cfg.web.secure_cookies)
    return response


def _cross_site() -> bool:
    """A form posted from another site (the cookie's SameSite=Strict covers signed-in posts;
    this also refuses signing a browser in to someone else's account)."""
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return True
    origin = request.headers.get("Origin")
    return bool(origin) and origin != "null" and urlsplit(origin).netloc != request.host


class SignInThrottle:
    """Counts failed sign-ins in a sliding window: at most ``per_name`` for one user name from
    one address, and ``per_address`` for all names from one address (a guesser trying many
    names). A successful sign-in clears its name's count."""

    def __init__(self, per_name: int = 5, per_address: int = 20, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000) -> None:
        self.per_name = per_name
        self.per_address = per_address
        self.window_s = window_s
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, name: str, address: str) -> float:
        """Seconds until ``name`` may try again from ``address``; 0 if it may now."""
        now = self._clock()
        with self._lock:
            wait = 0.0
            for key, limit in ((_name_key(name, address), self.per_name),
                               ((address,), self.per_address)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    wait = max(wait, times[-limit] + self.window_s - now)
            return wait

    def failed(self, name: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) >= self._max_keys:
                self._forget_old(now)
            for key in (_name_key(name, address), (address,)):
                self._recent(key, now).append(now)

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop(_name_key(name, address), None)

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def _forget_old(self, now: float) -> None:
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        while len(self._failures) >= self._max_keys:  # all recent: drop the oldest entries
            del self._failures[next(iter(self._failures))]


def _name_key(name: str, address: str) -> tuple[str, str]:
    return (name.strip().casefold(), address)


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site (``/sessions/3?x=1``), else ``default``: a
    sign-in link must not send the browser to another site (``//evil.example``, ``https:``,
    ``/\\evil.example``)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(ch) < 32 or ch == "\\" for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
