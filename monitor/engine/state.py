"""The call's state, kept once: answered and when, rings, who speaks, last speech ends, holds.

Rules used to track these themselves and disagreed (was the call answered at the agent's first
words, at the end of them, or at the softphone's answer?). Now the engine owns one
``CallState``, updates it from every event, and every rule reads the same one.

Rule of thumb: **when a rule sees an event, the state already includes it.** The engine
updates the state first, then hands the event to the rules. A ``SpeechStart`` is already in
``speaking``; a ``Speech`` has already moved ``last_end``; the rules see the derived
``Pickup`` with ``answered`` already true, and a ``HoldStart`` with ``hold`` already set. A
``SpeechStart`` moves no speech end, so ``last_end`` at a ``SpeechStart`` is still the end of
the speech before it: the silence that start breaks is ``ev.t - last_end``.

Rules only read it. Everything is a read-only property; the mappings are typed ``Mapping``
(they are the state's own dicts, not copies: a copy per read would cost at 50 ticks a second).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from monitor.frames import CallEvent, Channel, HoldEnd, HoldStart, Pickup, Ring, Speech, SpeechStart

if TYPE_CHECKING:  # the rules read the state: importing them here at run time would be a cycle
    from monitor.engine.rules.base import EngineEvent


class CallState:
    """What is true of the call at the current event; the engine alone calls ``update``."""

    __slots__ = ("_cadence_gap_s", "_channels", "_hold", "_hold_end_t", "_last_burst_end",
                 "_last_end", "_last_end_of", "_last_speaker", "_pickup_t", "_signalled_rings",
                 "_speaking", "_talk_s", "_tone_rings")

    def __init__(self, channels: tuple[Channel, ...], cadence_gap_s: float) -> None:
        # Ring bursts closer than this are one ring (a UK double ring is one ring).
        self._cadence_gap_s = cadence_gap_s
        self._channels = channels
        self._pickup_t: float | None = None
        # Only how many rings were heard and when the last burst ended matter: a burst closer
        # than the cadence gap to that end extends the ring instead of starting one.
        self._tone_rings = 0
        self._last_burst_end: float | None = None
        self._signalled_rings = 0
        self._speaking: dict[Channel, float] = {}
        self._last_end: float | None = None
        self._last_speaker: Channel | None = None
        self._last_end_of: dict[Channel, float | None] = dict.fromkeys(channels)
        self._talk_s: dict[Channel, float] = dict.fromkeys(channels, 0.0)
        self._hold: HoldStart | None = None
        self._hold_end_t: float | None = None

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The sides the source carries: without the customer's, nobody can tell silence from
        the agent listening."""
        return self._channels

    @property
    def answered(self) -> bool:
        """The call has been picked up: the agent spoke or the softphone answered."""
        return self._pickup_t is not None

    @property
    def pickup_t(self) -> float | None:
        """When the call was answered: the agent's first speech start or the softphone's
        ``answer``, whichever came first."""
        return self._pickup_t

    @property
    def rings(self) -> int:
        """Rings before pickup (so far, while ringing): the softphone's count where it gave
        one, since it beats the tones heard; else the ring cadences heard."""
        return self._signalled_rings or self._tone_rings

    @property
    def signalled_rings(self) -> int:
        """Rings the softphone reported before pickup (0 without a softphone)."""
        return self._signalled_rings

    @property
    def speaking(self) -> Mapping[Channel, float]:
        """The channels speaking now, each with the start of its current speech."""
        return self._speaking

    @property
    def last_end(self) -> float | None:
        """The end of the latest speech on either side; None until someone has spoken."""
        return self._last_end

    @property
    def last_speaker(self) -> Channel | None:
        """The side whose speech ended last (the later one on a tie of ends)."""
        return self._last_speaker

    @property
    def last_end_of(self) -> Mapping[Channel, float | None]:
        """Per channel, the end of its latest speech; None until that side has spoken."""
        return self._last_end_of

    @property
    def talk_s(self) -> Mapping[Channel, float]:
        """Per channel, the seconds of speech so far (pauses between segments excluded)."""
        return self._talk_s

    @property
    def hold(self) -> HoldStart | None:
        """The hold in progress (its start, announced, transfer), or None."""
        return self._hold

    @property
    def on_hold(self) -> bool:
        return self._hold is not None

    @property
    def hold_end_t(self) -> float | None:
        """When the latest hold ended; None before any hold has."""
        return self._hold_end_t

    @property
    def silent_since(self) -> float | None:
        """When the caller last heard anyone, once the call is answered: the latest of the
        pickup, the last speech end and the end of the last hold (a hold is waiting the caller
        was told about); None before the pickup. Meaningful while nobody speaks."""
        if self._pickup_t is None:
            return None
        return max(self._pickup_t, self._last_end or 0.0, self._hold_end_t or 0.0)

    def update(self, ev: EngineEvent) -> Pickup | None:
        """Take in one event; returns the ``Pickup`` when this event answered the call."""
        if isinstance(ev, SpeechStart):
            self._speaking[ev.channel] = ev.t
            if ev.channel == "agent":
                return self._pickup(ev.t)
        elif isinstance(ev, Speech):
            self._speaking.pop(ev.channel, None)
            self._last_end_of[ev.channel] = ev.end
            self._talk_s[ev.channel] += ev.duration_s
            if self._last_end is None or ev.end >= self._last_end:
                self._last_end, self._last_speaker = ev.end, ev.channel
        elif isinstance(ev, Ring) and not self.answered:
            self._ring(ev)
        elif isinstance(ev, CallEvent) and ev.event == "ring" and not self.answered:
            self._signalled_rings += 1
        elif isinstance(ev, CallEvent) and ev.event == "answer":
            return self._pickup(ev.t)
        elif isinstance(ev, HoldStart):
            self._hold = ev
        elif isinstance(ev, HoldEnd):
            self._hold, self._hold_end_t = None, ev.t
        return None

    def _pickup(self, t: float) -> Pickup | None:
        if self.answered:
            return None
        self._pickup_t = t
        return Pickup(t, self.rings)

    def _ring(self, ev: Ring) -> None:
        last = self._last_burst_end
        if last is None or ev.start - last >= self._cadence_gap_s:
            self._tone_rings += 1
        self._last_burst_end = ev.end
