"""The hold family: ``hold.too_long``, ``hold.unannounced`` and ``hold.no_thanks``.

A hold begins when, soon after the agent announced one (请您稍等 ...), both sides fall silent
for ``confirm_silence_s``; it starts where that silence started and ends when the agent speaks
again. A warning comes ``warn_before_s`` before the limit (shorter for a transfer) and a
violation at it. On return the agent must thank the caller (感谢您的耐心等待 / 让您久等了)
within ``return_window_s``. A long silence that the agent ends with such thanks was a hold
nobody announced. A hold in progress is never dead air: the hold records tell that rule.

The limit does not hang on one heard word: once the agent has spoken, both sides silent with
no hold announced or signalled is the caller waiting all the same, so that silence reaching
the limit is ``hold.too_long`` too (evidence ``announced: false``, worded by the profile's
``wait_unannounced``); dead air has said so at its own, shorter limit before. Such a silence
is on the record (``holds``) once it reaches the limit, or when the agent ends it with thanks.
Without the customer's channel silence cannot be told from listening, so it is not timed.

Where the softphone reports hold and resume, those decide: the hold starts at the hold event
(announced if an announcement came within ``announce_window_s`` before it; an unannounced
one is flagged at the resume, when its length is known) and only the resume ends it, so the
agent talking to a colleague while the caller hears music does not end it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from monitor.config import Config, HoldTooLongConfig, HoldUnannouncedConfig
from monitor.engine.phrase_match import family_matcher
from monitor.engine.rules.base import EngineEvent, Rule
from monitor.frames import CallEvent, HoldEnd, HoldStart, Record, SpeechStart, Utterance


@dataclass
class _Hold:
    start: float
    announced: bool
    transfer: bool
    end: float | None = None
    signalled: bool = False  # the softphone reported it: only its resume ends it
    warned: bool = False
    violated: bool = False
    thanked: bool | None = None
    last_return_end: float | None = None

    def record(self) -> dict[str, Any]:
        """Its summary entry: by then every hold has ended (``finish`` ends the open one)."""
        end = self.end
        assert end is not None, "a hold is put in the summary only once it has ended"
        return {"start": round(self.start, 3), "end": round(end, 3),
                "duration": round(end - self.start, 3), "announced": self.announced,
                "thanked": self.thanked, "transfer": self.transfer}


class HoldRule(Rule):
    id = "hold.too_long"
    summary_keys = ("holds",)
    ids = ("hold.too_long", "hold.unannounced", "hold.no_thanks")
    # Both judge words (an announcement, thanks); the limit is timing alone.
    needs_words = frozenset({"hold.unannounced", "hold.no_thanks"})
    settings = (HoldTooLongConfig, HoldUnannouncedConfig)

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self._s = cfg.rules.hold_too_long
        self._unannounced_min_s = cfg.rules.hold_unannounced.unannounced_min_s
        self._announce = family_matcher(cfg, "hold.announce", "hold.transfer")
        self._transfer = family_matcher(cfg, "hold.transfer")
        self._thanks = family_matcher(cfg, "hold.thanks")
        self._announced: tuple[float, bool] | None = None  # (utterance end, transfer?)
        self._hold: _Hold | None = None  # on hold now
        self._silence: _Hold | None = None  # both silent now, no hold announced or signalled
        self._returned: _Hold | None = None  # back from hold, thanks not yet judged
        self._holds: list[_Hold] = []

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if isinstance(ev, CallEvent):
            return self._on_call_event(ev)
        if isinstance(ev, SpeechStart):
            timed = self._end_silence(ev.t)
            if ev.channel != "agent":
                return []
            if self._hold is not None:
                return [] if self._hold.signalled else self._end_hold(ev.t)
            self._unannounced_return(ev.t, timed)
        elif isinstance(ev, Utterance) and ev.channel == "agent":
            return self._on_agent_words(ev)
        return []

    def on_tick(self, t: float) -> list[Record]:
        hold = self._hold
        if hold is not None:
            return self._limits(hold, t)
        if self.state.last_end is None or self.state.speaking:
            return []
        return self._confirm_announced(t) or self._time_silence(t)

    def next_due(self, t: float) -> float:
        """The hold's warning or limit; in a silence, its confirmation as an announced hold
        or the silence's own warning or limit."""
        if self._hold is not None:
            return self._limit_due(self._hold)
        if self.state.last_end is None or self.state.speaking:
            return math.inf
        return min(self._confirm_due(), self._silence_due())

    def finish(self, t_end: float) -> list[Record]:
        """The call's end ends the silence or hold still on; a hold just returned from has
        had all the time it will get to be thanked. (Only ``summary`` is called after this.)"""
        self._end_silence(t_end)
        if self._hold is not None:
            self._hold.end = t_end
        return [] if self._returned is None else self._judge_thanks(self._returned, t_end)

    def summary(self) -> dict[str, Any]:
        return {"holds": [h.record() for h in self._holds]}

    def _confirm_announced(self, t: float) -> list[Record]:
        """Both sides silent for ``confirm_silence_s`` soon after an announcement: a hold."""
        last_end = self.state.last_end
        if self._announced is None or last_end is None:
            return []
        if t - last_end + 1e-9 < self._s.confirm_silence_s or last_end - self._announced[0] > (
                self._s.announce_window_s):
            return []
        transfer = self._announced[1]
        self._announced, self._silence = None, None
        self._hold = _Hold(last_end, announced=True, transfer=transfer)
        self._holds.append(self._hold)
        return [HoldStart(round(last_end, 3), announced=True, transfer=transfer)]

    def _confirm_due(self) -> float:
        """When the silence after an announcement is long enough to confirm a hold; never if
        it began too long after the announcement."""
        last_end = self.state.last_end
        if self._announced is None or last_end is None or last_end - self._announced[0] > (
                self._s.announce_window_s):
            return math.inf
        return last_end + self._s.confirm_silence_s

    def _silence_due(self) -> float:
        """When the unannounced silence ``_time_silence`` times next warns or reaches the
        limit. Right after a tick it is timing this silence; one it is not is due at once."""
        start = self._silence_start()
        if start is None:
            return math.inf
        silence = self._silence
        if silence is None or silence.start != start:
            return -math.inf
        return self._limit_due(silence)

    def _time_silence(self, t: float) -> list[Record]:
        """A silence nobody announced, against the hold limit: from the agent's first words on
        (before them the caller is ringing, or answered into dead air)."""
        start = self._silence_start()
        if start is None:
            return []
        silence = self._silence
        if silence is None or silence.start != start:
            silence = self._silence = _Hold(start, announced=False, transfer=False)
        out = self._limits(silence, t)
        if out and silence.violated:  # the limit reached: a hold on the record
            self._holds.append(silence)
        return out

    def _silence_start(self) -> float | None:
        """Where the silence timed against the hold limit started; None before the agent's
        first words, or without the customer's channel (silence is then listening)."""
        state = self.state
        start = state.silent_since
        if start is None or state.last_end_of["agent"] is None or (
                "customer" not in state.channels):
            return None
        return start

    def _end_silence(self, t: float) -> _Hold | None:
        """Speech (or a hold) ends the silence; returns it if it was put on the record."""
        silence, self._silence = self._silence, None
        if silence is None or not silence.violated:
            return None
        silence.end = t
        return silence

    def _on_call_event(self, ev: CallEvent) -> list[Record]:
        if ev.event == "resume" and self._hold is not None:
            hold = self._hold
            out = self._end_hold(ev.t)
            if not hold.announced:
                out.append(self.alert(ev.t, {"start": round(hold.start, 3), "phrase": "-",
                                             "duration_s": round(ev.t - hold.start, 1)},
                                      rule="hold.unannounced"))
            return out
        if ev.event != "hold":
            return []
        if self._hold is not None:  # already heard as an announced silence
            self._hold.signalled = True
            return []
        announced = self._announced is not None and (
            ev.t - self._announced[0] <= self._s.announce_window_s)
        transfer = ev.transfer or (announced and self._announced is not None
                                   and self._announced[1])
        self._announced = None
        self._end_silence(ev.t)
        self._hold = _Hold(ev.t, announced=announced, transfer=transfer, signalled=True)
        self._holds.append(self._hold)
        return [HoldStart(round(ev.t, 3), announced=announced, transfer=transfer)]

    def _limit_due(self, hold: _Hold) -> float:
        """When ``_limits`` next alerts on ``hold``: its warning, then its limit."""
        limit = self._limit_s(hold)
        due = math.inf if hold.violated else hold.start + limit
        return due if hold.warned else min(due, hold.start + limit - self._s.warn_before_s)

    def _limit_s(self, hold: _Hold) -> float:
        return self._s.transfer_limit_s if hold.transfer else self._s.limit_s

    def _limits(self, hold: _Hold, t: float) -> list[Record]:
        limit = self._limit_s(hold)
        wait = self._s.wait_announced if hold.announced else self._s.wait_unannounced
        evidence = {"start": round(hold.start, 3), "limit_s": limit, "transfer": hold.transfer,
                    "announced": hold.announced, "wait": wait}
        if not hold.warned and t - hold.start + 1e-9 >= limit - self._s.warn_before_s:
            hold.warned = True
            return [self.alert(hold.start + limit - self._s.warn_before_s, evidence,
                               severity="warn")]
        if not hold.violated and t - hold.start + 1e-9 >= limit:
            hold.violated = True
            return [self.alert(hold.start + limit, evidence, severity="violation")]
        return []

    def _end_hold(self, t: float) -> list[Record]:
        assert self._hold is not None
        hold, self._hold = self._hold, None
        hold.end = t
        self._returned = hold
        return [HoldEnd(round(t, 3), round(hold.start, 3))]

    def _unannounced_return(self, t: float, timed: _Hold | None) -> None:
        """A long unannounced silence may have been a hold; the returning words will tell.

        Only a silence after the agent has spoken: the first words after ringing answer the
        call, they return from nothing. The state already holds this speech start, and
        ``last_end`` is still the end of the speech before it. ``timed`` is the silence just
        ended if it reached the hold limit (already on the record).
        """
        state = self.state
        last_end = state.last_end
        if self._returned is None and state.last_end_of["agent"] is not None and (
                last_end is not None and state.speaking.keys() == {"agent"}
                and t - last_end >= self._unannounced_min_s):
            self._returned = timed or _Hold(last_end, announced=False, transfer=False, end=t)

    def _on_agent_words(self, ev: Utterance) -> list[Record]:
        if self._announce.first(ev) is not None:
            self._announced = (ev.end, self._transfer.first(ev) is not None)
        hold = self._returned
        if hold is None or hold.end is None or ev.start < hold.end - self._s.return_lead_s:
            return []
        if ev.start > hold.end + self._s.return_window_s:
            return self._judge_thanks(hold, ev.start)
        thanks = self._thanks.first(ev)
        hold.last_return_end = ev.end
        if thanks is None:
            return []
        hold.thanked = True
        self._returned = None
        if hold.announced or hold.signalled:  # already a hold on the record
            return []
        if not hold.violated:  # (a silence that reached the limit is on it already)
            self._holds.append(hold)
        return [self.alert(ev.end, {"start": round(hold.start, 3), "phrase": thanks.text,
                                    "duration_s": round(hold.end - hold.start, 1)},
                           rule="hold.unannounced")]

    def _judge_thanks(self, hold: _Hold, t: float) -> list[Record]:
        """No thanks in the return window: the caller was not thanked for waiting."""
        self._returned = None
        if not self.hears_words:
            return []  # nothing recognised: whether they thanked is unknown (thanked null)
        hold.thanked = False
        if not (hold.announced or hold.signalled):
            return []  # a silence, not a hold: dead air has said what there is to say
        at = hold.last_return_end if hold.last_return_end is not None else t
        return [self.alert(at, {"start": round(hold.start, 3)}, rule="hold.no_thanks")]
