"""The calls a tap server holds: each is one ``Session`` (the same pipeline as replay and live)
on a thread of its own, stored like any other session (mode ``tap``).

A connection that has named its call gets a ``Leg`` from ``Calls.leg``; legs of the same call
id on the two sides' ports are one two-channel call. The first leg waits ``partner_wait_s``
for the other side, then the call is fixed: a call of its side alone (the rules that need the
other side are listed as skipped in the summary), and a partner that comes later is logged and
becomes a call of its own. A leg never waits on its session: what it pushes goes into the
call's inbox, bounded at ``queue_messages``; a full inbox means the server is overloaded
(counted, logged once a call): that connection stops reading until there is room, so TCP
holds the peer back and no audio is lost, while the other connections go on.

A connection that carries every side of its call (a WebSocket fork) opens it with ``Calls.call``:
its legs at once, nothing waited for, and what its protocol says of the call (``CallSetup``:
the agent's and company's names, a mixed channel) over the process's configuration.

A call whose legs all end without any audio stores no session (one log line): an AudioSocket
that was opened and closed carries no call to judge.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from monitor.asr.base import Recognizer
from monitor.config import Config
from monitor.errors import CallmonitorError
from monitor.frames import CHANNELS, Channel
from monitor.pipeline import Session
from monitor.sinks.store import StoreSink, open_stored_session
from monitor.sources.pushed import Chunk, LegEnd, Pushed, PushedSource

log = logging.getLogger("callmonitor.tap")

RecordCallback = Callable[[dict[str, Any]], None]
"""Hears every record of a call as it is made, on the call's thread (a protocol that sends
alerts back to the PBX hands them to its connection from here)."""


@dataclass(frozen=True, slots=True)
class TapContext:
    """What every call's session is made of: the configuration, the one recogniser of the
    process (shared: see docs/tap.md) and the store."""

    cfg: Config
    recognizer: Recognizer | None
    location: str


@dataclass(frozen=True, slots=True)
class CallSetup:
    """What a call's connection says about it, over the process's configuration: the agent's
    and the company's names (for the greeting rules), and ``mixed``: its one channel holds both
    sides (the rules that need them apart are skipped, as for ``--channels mixed``)."""

    agent_name: str | None = None
    company: str | None = None
    mixed: bool = False


class Leg:
    """One side of a call, as one connection carries it."""

    def __init__(self, call: Call, channel: Channel, limit: int) -> None:
        self.call = call
        self.channel = channel
        self._limit = limit
        self.ended = False

    def full(self) -> bool:
        """The call's inbox is full: the session is behind (counted, logged once a call);
        the connection should wait before it pushes more."""
        if self.call.finished or self.call.inbox.qsize() < self._limit:
            return False
        self.call.overloaded(self.channel)
        return True

    def push(self, rate_hz: int, pcm: bytes) -> None:
        """Queue audio for the session; never waits (``full`` says when to). A call whose
        session is over (it failed: the store could not be opened) takes no more."""
        if not self.call.finished:
            self.call.inbox.put(Chunk(self.channel, rate_hz, pcm))

    def end(self, cut: bool, reason: str) -> None:
        """The leg is over (the first end counts); ``cut``: it broke off, not hung up."""
        if not self.ended:
            self.ended = True
            self.call.inbox.put(LegEnd(self.channel, cut, reason))
            self.call.calls.wake()


class Call:
    """One call: its legs, its inbox and the thread that runs its session."""

    def __init__(self, calls: Calls, call_id: str, protocol: str, open_to_partner: bool,
                 setup: CallSetup | None = None) -> None:
        self.calls = calls
        self.call_id = call_id
        self.protocol = protocol
        self.setup = setup or CallSetup()
        self.inbox: queue.Queue[Pushed] = queue.Queue()
        self.legs: dict[Channel, Leg] = {}
        self.open_to_partner = open_to_partner
        self.callbacks: list[RecordCallback] = []
        self.session: Session | None = None
        self.finished = False
        """The session is over: what the legs still send is dropped (it has nowhere to go)."""
        self.overloads = 0
        """Times a leg found the inbox full and had to wait."""
        self.thread = threading.Thread(target=self._run, name=f"tap-{call_id[:8]}", daemon=True)

    def overloaded(self, channel: Channel) -> None:
        self.overloads += 1
        if self.overloads == 1:
            log.warning("call %s: the server is overloaded: the %s leg waits (TCP holds its "
                        "audio back) while the session catches up", self.call_id, channel)

    def _run(self) -> None:
        try:
            self._session(self.calls.await_partner(self))
        except CallmonitorError as exc:
            log.warning("call %s: %s (%s)", self.call_id, exc.problem, exc.fix)
        except Exception:
            log.exception("call %s: the session failed", self.call_id)
        finally:
            self.finished = True
            self.calls.forget(self)

    def _session(self, channels: tuple[Channel, ...]) -> None:
        ctx = self.calls.ctx
        name = f"{self.protocol} {self.call_id} ({'+'.join(channels)})"
        source = PushedSource(name, channels, self.inbox, ctx.cfg.tap.lag_wait_s,
                              on_cut=lambda: session.stop())
        source.mixed = self.setup.mixed
        if not source.wait_for_audio():
            log.warning("call %s: no audio came on any leg; no session stored", self.call_id)
            return
        cfg = replace(ctx.cfg, agent_name=self.setup.agent_name or ctx.cfg.agent_name,
                      company=self.setup.company or ctx.cfg.company)
        writer, extra = open_stored_session(ctx.location, "tap", name, cfg, ctx.recognizer,
                                            log.warning)
        session = Session(cfg, source, ctx.recognizer, [StoreSink(writer), _Callbacks(self)])
        self.session = session
        log.info("call %s: session %d (%s)", self.call_id, writer.session_id, name)
        summary = session.run(extra)
        log.info("call %s: session %d %s, %.1f s of audio", self.call_id, writer.session_id,
                 summary["status"], summary["duration_s"])
        if writer.failure is not None:
            log.warning("%s", writer.failure.as_error(writer.session_id))


class _Callbacks:
    """The call's record callbacks as a sink; one that raises is dropped, logged."""

    def __init__(self, call: Call) -> None:
        self._call = call

    def write(self, record: dict[str, Any]) -> None:
        for callback in list(self._call.callbacks):
            try:
                callback(record)
            except Exception as exc:  # a peer's trouble must not end the session
                self._call.callbacks.remove(callback)
                log.warning("call %s: a record callback failed (%s); it gets no more",
                            self._call.call_id, exc)

    def close(self, status: str) -> None:
        """Nothing to close: the connections end themselves."""


class Calls:
    """Every open call of the server, and the joining of legs into calls (one lock)."""

    def __init__(self, ctx: TapContext) -> None:
        self.ctx = ctx
        self._cond = threading.Condition()
        self._open: dict[str, Call] = {}  # call id -> call still taking a partner
        self._running: set[Call] = set()
        self._ids: dict[str, int] = {}  # call id -> calls running under it

    def leg(self, call_id: str, channel: Channel, protocol: str,
            on_record: RecordCallback | None = None) -> Leg:
        """The leg of ``channel`` in call ``call_id``: joins the call waiting for it, else
        starts a call (a late or second leg of a side starts one of its own, logged)."""
        with self._cond:
            call = self._open.get(call_id)
            if call is None or channel in call.legs:
                call = self._start(call_id, channel, protocol)
            leg = call.legs[channel] = Leg(call, channel, self.ctx.cfg.tap.queue_messages)
            if on_record is not None:
                call.callbacks.append(on_record)
            self._cond.notify_all()
        return leg

    def call(self, call_id: str, channels: tuple[Channel, ...], protocol: str, setup: CallSetup,
             on_record: RecordCallback | None = None) -> list[Leg]:
        """A call whose every side one connection carries: a leg per channel at once, no
        partner waited for. A call id already open makes a call of its own (logged)."""
        with self._cond:
            if self._ids.get(call_id, 0) > 0:
                log.warning("call %s: another %s connection for a call already open: a call of "
                            "its own", call_id, protocol)
            call = Call(self, call_id, protocol, open_to_partner=False, setup=setup)
            legs = [Leg(call, channel, self.ctx.cfg.tap.queue_messages) for channel in channels]
            call.legs = {leg.channel: leg for leg in legs}
            if on_record is not None:
                call.callbacks.append(on_record)
            self._run(call)
        return legs

    def _start(self, call_id: str, channel: Channel, protocol: str) -> Call:
        late = self._ids.get(call_id, 0) > 0
        if late:
            log.warning("call %s: the %s leg came after the call was fixed (later than "
                        "[tap] partner_wait_s, or a second one of its side): a call of its own",
                        call_id, channel)
        call = Call(self, call_id, protocol, open_to_partner=not late)
        if not late:
            self._open[call_id] = call
        self._run(call)
        return call

    def _run(self, call: Call) -> None:
        """Count the call as running under its id and start its thread (lock held)."""
        self._running.add(call)
        self._ids[call.call_id] = self._ids.get(call.call_id, 0) + 1
        call.thread.start()

    def await_partner(self, call: Call) -> tuple[Channel, ...]:
        """On the call's thread: wait for the other side's leg (at most ``partner_wait_s``,
        less if the first leg ends), then fix the call's sides."""
        deadline = time.monotonic() + self.ctx.cfg.tap.partner_wait_s
        with self._cond:
            while call.open_to_partner and len(call.legs) < 2 and not any(
                    leg.ended for leg in call.legs.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            call.open_to_partner = False
            if self._open.get(call.call_id) is call:
                del self._open[call.call_id]
            return tuple(c for c in CHANNELS if c in call.legs)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def forget(self, call: Call) -> None:
        with self._cond:
            self._running.discard(call)
            self._ids[call.call_id] -= 1
            if not self._ids[call.call_id]:
                del self._ids[call.call_id]
            if self._open.get(call.call_id) is call:
                del self._open[call.call_id]

    def running(self) -> list[Call]:
        with self._cond:
            return list(self._running)

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for every call's session to end (its legs must have ended); False if some
        were still running after ``timeout_s``."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for call in self.running():
            call.thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(c.thread.is_alive() for c in self.running())


__all__ = ["Call", "CallSetup", "Calls", "Leg", "RecordCallback", "TapContext"]
