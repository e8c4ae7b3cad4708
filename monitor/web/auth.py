"""Sign-in for the review app: the ``auth`` blueprint (``/login``, ``/logout``), the sign-in
cookie, the throttle on failed sign-ins, and where a sign-in may send the browser next.

Passwords and tokens are ``monitor.storage.users``' business; this module only moves the
token between the browser and the database. The throttle is per process and in memory, and
bounded: it slows a password guesser down to a few tries per account and address, which is
all it is for.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as BaseResponse

from monitor.config import WebConfig
from monitor.storage.users import MAX_NAME_CHARS, User, authenticate, sign_in, sign_out
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
                    request.form.get("password", ""))


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


def _sign_in(target: str, typed: str, password: str) -> ResponseReturnValue:
    """Check a posted name and password, unless the account is locked or this address has
    failed too often lately. A name longer than any user's is a failed try, counted (and
    logged, echoed) cut to that length."""
    throttle: SignInThrottle = current_app.extensions[THROTTLE]
    address = throttle.client_address(request.remote_addr,
                                      request.headers.getlist("X-Forwarded-For"))
    name = typed[:MAX_NAME_CHARS]
    wait = throttle.admit(name, address)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        return (render_template("login.html", next=target, name=name,
                                error=f"Too many failed sign-ins. Try again in {seconds} s."),
                429, {"Retry-After": str(seconds)})
    plausible = (name == typed and name and "\0" not in name and password
                 and len(password) <= MAX_PASSWORD_CHARS)
    who = authenticate(settings().location, name, password) if plausible else None
    if who is None:
        log.warning("failed sign-in: name=%r address=%s", name, address)
        throttle.failed(name, address)
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
    # "null": a sandboxed frame, a file or a redirect from elsewhere; never this site's form.
    return origin == "null" or (bool(origin) and urlsplit(origin).netloc != request.host)


@dataclass(slots=True)
class _Account:
    """Failed sign-ins of one user name in a row, from anywhere, and its lock."""

    failures: int = 0
    locked_until: float = 0.0
    last: float = 0.0


@dataclass(frozen=True, slots=True)
class Held:
    """What the throttle remembers: entries (names and addresses) and the characters of their
    keys; bounded by ``[web] sign_in_throttle_entries`` whatever a flood sends."""

    entries: int
    chars: int


class SignInThrottle:
    """Failed sign-ins, limited two ways (``[web]`` sets the numbers):

    - per client address, a sliding window: a guesser trying many names is held up, and a
      trusted proxy's own address (no client named) gets a higher limit than one client;
    - per account (user name, from any address): locked after so many failures in a row, for
      longer after each further one, so a guesser with many addresses gets few tries per name
      while a locked account locks nobody else.

    ``admit`` checks and counts a try in one step under a lock (parallel tries cannot all pass
    one check); a try refused is not counted. Memory is bounded: names arrive cut to the
    longest user name, and the least recently failed entries are forgotten beyond the cap."""

    def __init__(self, web: WebConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._web = web
        self._proxies = tuple(ipaddress.ip_network(p, strict=False)
                              for p in web.trusted_proxies)
        self._clock = clock
        self._accounts: OrderedDict[str, _Account] = OrderedDict()
        self._addresses: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, name: str, address: str) -> float:
        """0 if ``name`` may try a password from ``address`` now, and the try is counted as a
        failure until ``succeeded`` says otherwise; else the seconds to wait (nothing counted)."""
        now = self._clock()
        with self._lock:
            account = self._accounts.get(name)
            times = self._recent(address, now)
            limit = self._address_limit(address)
            wait = max(account.locked_until - now if account else 0.0,
                       times[-limit] + self._web.sign_in_window_s - now
                       if len(times) >= limit else 0.0)
            if wait > 0:
                return wait
            self._count(name, address, now)
            return 0.0

    def failed(self, name: str, address: str) -> None:
        """The try ``admit`` let through failed: log a lock it started (one line per lock)."""
        now = self._clock()
        with self._lock:
            account = self._accounts.get(name)
            times = self._addresses.get(address, ())
            if account and account.failures >= self._web.sign_in_account_failures:
                log.warning("sign-in locked: name=%r for %.0f s after %d failures in a row",
                            name, account.locked_until - now, account.failures)
            if len(times) == self._address_limit(address):
                log.warning("sign-ins from address %s held for %.0f s after %d failures",
                            address, self._web.sign_in_window_s, len(times))

    def succeeded(self, name: str, address: str) -> None:
        """The try was right: the account starts afresh and the address gets its try back."""
        with self._lock:
            self._accounts.pop(name, None)
            times = self._addresses.get(address)
            if times:
                times.pop()

    def held(self) -> Held:
        with self._lock:
            keys = [*self._accounts, *self._addresses]
            return Held(len(keys), sum(map(len, keys)))

    def _count(self, name: str, address: str, now: float) -> None:
        account = self._accounts.pop(name, None) or _Account()
        account.failures += 1
        account.last = now
        beyond = account.failures - self._web.sign_in_account_failures
        if beyond >= 0:
            lock_s = self._web.sign_in_lockout_s * 2.0 ** min(beyond, 32)
            account.locked_until = now + min(lock_s, self._web.sign_in_lockout_max_s)
        self._accounts[name] = account  # the most recent last
        times = self._addresses.pop(address, deque())
        times.append(now)
        self._addresses[address] = times
        self._forget(now)

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._addresses.get(address, deque())
        while times and times[0] <= now - self._web.sign_in_window_s:
            times.popleft()
        return times

    def _forget(self, now: float) -> None:
        """Drop entries that no longer hold anything back, and the least recently failed
        beyond the cap (both maps are in order of the last failure)."""
        cap = self._web.sign_in_throttle_entries
        quiet = now - self._web.sign_in_lockout_max_s
        while self._accounts:
            first = next(iter(self._accounts.values()))
            if len(self._accounts) <= cap and (first.locked_until > now or first.last > quiet):
                break
            self._accounts.popitem(last=False)
        while self._addresses:
            address = next(iter(self._addresses))
            if len(self._addresses) <= cap and self._recent(address, now):
                break
            self._addresses.popitem(last=False)

    def _address_limit(self, address: str) -> int:
        if _in(address, self._proxies):
            return self._web.sign_in_proxy_failures
        return self._web.sign_in_address_failures

    def client_address(self, remote: str | None, forwarded: list[str]) -> str:
        """Who is signing in: the connecting address, or behind trusted proxies the
        rightmost ``X-Forwarded-For`` hop that is not one of them (a hop that is no address
        stops the walk at the proxy that passed it on). An IPv6 client is its /64: one
        host holds a whole one, and would otherwise get a limit per address in it."""
        client = _address(remote or "") or "unknown"
        hops = [hop.strip() for header in forwarded for hop in header.split(",")]
        for hop in reversed(hops):
            if not _in(client, self._proxies):
                break
            parsed = _address(hop)
            if parsed is None:
                break
            client = parsed
        if ":" in client and not _in(client, self._proxies):
            return str(ipaddress.ip_network(f"{client}/64", strict=False))
        return client


def _address(text: str) -> str | None:
    """The address as one spelling (an IPv4 address mapped into IPv6 as IPv4)."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return str(mapped or ip)


def _in(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
        ) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


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
