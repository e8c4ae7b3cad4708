"""``live --softphone``: wait for an incoming call, run its session from the incoming call to
its close, wait for the next, until stopped (Ctrl-C, SIGTERM). One stored session per call.

``Desk.calls`` yields one ``CallFeed`` per incoming call; the command builds the session
around it (audio time 0 is when the call came in). The feed is what the session polls at each
20 ms step: the rings due so far and the softphone's events that reached it, stamped with
that step's audio time; when the softphone closes the call, the feed says ``ended`` and the
session ends (status complete) with the hang-up and who did it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from monitor.config import SoftphoneConfig
from monitor.frames import CallEvent
from monitor.softphone.baresip import PhoneEvent
from monitor.softphone.call import CallTracker
from monitor.softphone.link import BaresipLink

WAIT_S = 0.2
"""How long a wait for the next call looks before it looks at the stop flag again."""


class CallFeed:
    """One call's softphone events, for its session (``CallEventFeed``)."""

    def __init__(self, events: queue.Queue[PhoneEvent], tracker: CallTracker) -> None:
        self._events = events
        self.tracker = tracker

    @property
    def ended(self) -> bool:
        return self.tracker.ended

    def poll(self, t: float) -> list[CallEvent]:
        out = self.tracker.rings_before(t)
        while not self.tracker.ended:
            try:
                ev = self._events.get_nowait()
            except queue.Empty:
                break
            out += self.tracker.take(ev, t)
        return out

    def rest(self, t: float) -> list[CallEvent]:
        """What reached us before the session stopped (Ctrl-C mid-call: no hang-up yet)."""
        return self.poll(t)

    def summary(self) -> dict[str, Any]:
        """Who ended the call, as the softphone said (None: it did not say, or not yet)."""
        return {"hung_up_by": self.tracker.hung_up_by}


class Desk:
    """The calls of one softphone, one after the other."""

    def __init__(self, events: queue.Queue[PhoneEvent], ring_period_s: float,
                 warn: Callable[[str], None]) -> None:
        self._events = events
        self._period = ring_period_s
        self._warn = warn
        self._stop = threading.Event()

    def stop(self) -> None:
        """Wait for no further call (safe from a signal handler: only sets a flag)."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def calls(self) -> Iterator[CallFeed]:
        """A feed per incoming call, as each comes in; the next is waited for once the
        consumer asks for it (after the session before has ended)."""
        while not self._stop.is_set():
            try:
                ev = self._events.get(timeout=WAIT_S)
            except queue.Empty:
                continue
            if ev.kind == "incoming":
                yield CallFeed(self._events, CallTracker(ev, self._period, self._warn))
            elif ev.kind in ("answered", "closed"):
                self._warn(f"softphone: {ev.kind} event for call {ev.call}, which is not "
                           "being monitored; ignored")


class CallRunner(Protocol):
    """How the command runs one call's session (``cli._LiveRig``)."""

    def start_source(self) -> Any:
        """Open the devices: audio time 0 is now."""
        ...

    def run(self, source: Any, call_events: CallFeed) -> tuple[Any, dict[str, Any], Any]:
        """The session on ``source`` fed by ``call_events``, to its end: (session, summary,
        what stopped it, with the signal's number in ``signum`` if one did)."""
        ...


StopOnSignals = Callable[[Callable[[], None]], AbstractContextManager[Any]]


def serve_calls(runner: CallRunner, address: tuple[str, int], cfg: SoftphoneConfig,
                stop_on_signals: StopOnSignals, warn: Callable[[str], None]
                ) -> tuple[Any, dict[str, Any] | None, Any]:
    """Run a session per incoming call until a signal stops us (between calls, or ending the
    call's session as interrupted). Returns the last session, its summary (None, None if no
    call came) and what stopped us."""
    link = BaresipLink(*address, cfg, warn)
    desk = Desk(link.events, cfg.ring_period_s, warn)
    last: tuple[Any, dict[str, Any] | None] = (None, None)
    link.start()
    try:
        with stop_on_signals(desk.stop) as waiting:
            for feed in desk.calls():
                session, summary, stopped = runner.run(runner.start_source(), feed)
                last = (session, summary)
                if stopped.signum is not None:
                    return session, summary, stopped
    finally:
        link.close()
    return last[0], last[1], waiting
