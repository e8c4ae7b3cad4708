"""Sign-in for the review app: the sign-in cookie, the throttle on failed sign-ins, and where
a sign-in may send the browser next.

Passwords and tokens are ``monitor.storage.users``' business; this module only moves the
token between the browser and the database. The throttle is per process and in memory: it
slows a password guesser down to a few tries a minute per name and address, which is all it
is for.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

COOKIE = "callmonitor_session"


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
