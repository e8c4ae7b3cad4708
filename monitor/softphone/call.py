"""One incoming call as the softphone reports it, turned into the session's ``CallEvent``s.

Pure: every event is handed in with the audio time it reached the session at, and nothing
here reads a clock. While the call rings, a ``ring`` is due at the start of every cycle of
the configured cadence (0, period, 2 period ...), so the engine counts the rings before
pickup from the ringing time and the timeline shows each ring when it starts. The rule at
the limit: a ring that would start exactly at the answer's time, or later, is not counted
(the phone was answered before it sounded).

The softphone's reports are checked against the call: an event for another call, a second
incoming call, a repeated answer, are each one warning line and change nothing. baresip has
no hold event; the call's line in its ``listcalls`` answer says whether it is on hold, and a
call missing from that list (baresip restarted while we were away) has ended, by whom unknown.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from monitor.frames import CallEvent, Channel
from monitor.softphone.baresip import CallLine, PhoneEvent


class CallTracker:
    """The state of the one call a session follows, from its incoming event on."""

    def __init__(self, incoming: PhoneEvent, ring_period_s: float,
                 warn: Callable[[str], None]) -> None:
        self.call = incoming.call
        self.peer = incoming.peer
        self._period = ring_period_s
        self._warn = warn
        self._rings = 0  # rings given so far: the next starts at rings * period
        self._answered = False
        self._held = False
        self.ended = False
        self.hung_up_by: Channel | None = None

    @property
    def ringing(self) -> bool:
        return not (self._answered or self.ended)

    def rings_before(self, t: float) -> list[CallEvent]:
        """The rings that start before ``t`` not given yet, while the call still rings."""
        if not self.ringing:
            return []
        due = max(0, math.ceil(t / self._period - 1e-9))  # starts k * period < t
        out = [CallEvent(k * self._period, "ring") for k in range(self._rings, due)]
        self._rings = max(self._rings, due)
        return out

    def take(self, ev: PhoneEvent, t: float) -> list[CallEvent]:
        """``ev`` as it reached the session at audio time ``t``; its rings first."""
        out = self.rings_before(t)
        if self.ended:
            self._warn(f"softphone: {ev.kind} event after call {self.call} closed; ignored")
            return out
        if ev.kind == "listed":
            return out + self._listed(ev.lines, t)
        if ev.kind == "media":
            return out  # the link asks for the calls' states; their answer says
        if ev.call != self.call:
            self._warn(f"softphone: {_what(ev)} for call {ev.call} while call {self.call} is "
                       "the one monitored; ignored")
            return out
        if ev.kind == "answered":
            return out + self._answer(t)
        if ev.kind == "closed":
            return out + self._close(t, ev)
        self._warn(f"softphone: call {ev.call} reported incoming again; ignored")
        return out

    def _answer(self, t: float) -> list[CallEvent]:
        if self._answered:
            self._warn(f"softphone: call {self.call} answered again; ignored")
            return []
        self._answered = True
        return [CallEvent(t, "answer")]

    def _close(self, t: float, ev: PhoneEvent | None) -> list[CallEvent]:
        self.ended = True
        self.hung_up_by = ev.by if ev else None
        return [CallEvent(t, "hangup", by=self.hung_up_by)]

    def _listed(self, lines: tuple[CallLine, ...], t: float) -> list[CallEvent]:
        line = next((x for x in lines if x.peer == self.peer), None)
        if line is None:
            self._warn(f"softphone: call {self.call} is no longer listed (the softphone "
                       "restarted?): the session ends here, who hung up unknown")
            return self._close(t, None)
        out = []
        if line.state == "ESTABLISHED" and not self._answered:
            self._warn(f"softphone: call {self.call} was answered while its events were "
                       "missed; answer taken at the time this was learnt")
            out += self._answer(t)
        if line.on_hold != self._held and self._answered:
            self._held = line.on_hold
            out.append(CallEvent(t, "hold" if line.on_hold else "resume"))
        return out


def _what(ev: PhoneEvent) -> str:
    return {"incoming": "a second incoming call", "answered": "an answer",
            "closed": "a close"}.get(ev.kind, ev.kind)
