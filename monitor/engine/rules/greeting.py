"""``greeting.incomplete`` and ``ring.late_pickup``: how the agent answered the call.

The greeting is what the agent says before the caller first speaks (at most ``window_s`` after
pickup): it must greet (您好), name the company and the agent, and must not open with 喂 or
你找谁. The caller's first speech is counted from after the agent's first sound: a 喂？ heard
as the softphone answers, before the agent made any sound, has not answered a greeting yet.
After more than ``max_rings`` rings the late pickup is whispered at once (请先致歉), and
the same greeting must also apologise (对不起，让您久等了).

The greeting is judged when the caller starts to speak, once the recogniser has delivered the
words of everything the agent said before (their phrases close a little after the speech).
The agreed words of the agent's open phrase (``PartialUtterance``) count as delivered when
they cover its speech (``settled``, heard up to the caller's start or the agent's last speech
end): then the greeting is judged as the caller starts, without waiting for the phrase's gap,
and stamped where the agent's speech ended, as it would be on the phrase's utterance.
"""

from __future__ import annotations

import math
from typing import Any

from monitor.config import Config, GreetingIncompleteConfig, RingLatePickupConfig
from monitor.engine.phrase_match import PhraseMatcher, Tolerance, family_matcher
from monitor.engine.rules.base import EngineEvent, Rule
from monitor.frames import PartialUtterance, Pickup, Record, Speech, SpeechStart, Utterance


class GreetingRule(Rule):
    id = "greeting.incomplete"
    summary_keys = ("greeting_ok", "greeting", "apology_ok")
    ids = ("greeting.incomplete", "ring.late_pickup")
    # The late pickup is counted from the rings and checked without words; only its apology
    # (apology_ok) needs them, and is then left unjudged.
    needs_words = frozenset({"greeting.incomplete"})
    settings = (GreetingIncompleteConfig, RingLatePickupConfig)

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        s = self._s = cfg.rules.greeting_incomplete
        self._ring = cfg.rules.ring_late_pickup
        lang = cfg.language
        self._greet = family_matcher(cfg, "greeting")
        self._bad = family_matcher(cfg, "bad_opening")
        self._sorry = family_matcher(cfg, "apology")
        # Names are what recognisers get wrong most: matched by sound, and in English by
        # spelling too.
        self._company, self._name = (
            PhraseMatcher([name], lang, Tolerance.of(cfg), literal=True,
                          min_spelling_similarity=s.name_spelling_similarity) if name else None
            for name in (cfg.company, cfg.agent_name))
        self._words: list[Utterance] = []
        # The agreed words of the agent's latest phrase, while its utterance is still to come.
        self._partial: PartialUtterance | None = None
        self._caller_spoke: float | None = None
        self._result: dict[str, Any] | None = None
        self._apology_needed = False

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if self._result is not None:
            return []
        if isinstance(ev, Pickup):
            return self._on_pickup(ev)
        if not self.state.answered:
            return []
        if isinstance(ev, SpeechStart) and ev.channel == "customer":
            if self._caller_spoke is None and self._agent_began_before(ev.t):
                self._caller_spoke = ev.t
        elif isinstance(ev, Utterance | PartialUtterance) and ev.channel == "agent":
            self._take_words(ev)
        elif not (isinstance(ev, Speech) and ev.channel == "agent"):
            return []  # (an agent's speech end may be what the words were waiting for)
        return self._judge_when_ready()

    def on_tick(self, t: float) -> list[Record]:
        return self._judge() if t > self._judged_after() else []

    def next_due(self, t: float) -> float:
        return self._judged_after()

    def _judged_after(self) -> float:
        """With words to judge and no caller to wait for, the greeting is judged once its
        window and a phrase gap after it have passed; ``math.inf`` with nothing to judge."""
        pickup_t = self.state.pickup_t
        if self._result is None and pickup_t is not None and self._words:
            return pickup_t + self._s.window_s + self.cfg.asr.phrase_gap_s
        return math.inf

    def finish(self, t_end: float) -> list[Record]:
        return self._judge() if self._result is None and self._words else []

    def summary(self) -> dict[str, Any]:
        result = self._result or {}
        return {"greeting_ok": result.get("ok"), "greeting": result.get("parts"),
                "apology_ok": result.get("apology_ok") if self._apology_needed else None}

    def _on_pickup(self, ev: Pickup) -> list[Record]:
        if ev.rings <= self._ring.max_rings:
            return []
        self._apology_needed = True
        return [self.alert(ev.t, {"rings": ev.rings, "max_rings": self._ring.max_rings},
                           rule="ring.late_pickup")]

    def _take_words(self, ev: Utterance | PartialUtterance) -> None:
        """Words of what the agent said before the caller spoke: a phrase's utterance replaces
        its agreed words."""
        if self._caller_spoke is not None and ev.start >= self._caller_spoke:
            return
        if isinstance(ev, PartialUtterance):
            self._partial = ev
            return
        self._words.append(ev)
        if self._partial is not None and self._partial.start <= ev.start:
            self._partial = None

    def _judge_when_ready(self) -> list[Record]:
        """The caller has spoken and the words of the agent's speech before it are in."""
        caller = self._caller_spoke
        if caller is None:
            return []
        # The agent's speech before the caller started: up to the caller's start while a
        # segment begun before it is still open (its end, once handed over, may come earlier).
        if self._agent_speaking_since_before(caller):
            until = caller
        else:
            # Not open since before the caller: the agent's segment begun before has ended.
            agent_end = self.state.last_end_of["agent"]
            assert agent_end is not None
            until = min(agent_end, caller)
        covered = until - 1e-6
        if self._words and self._words[-1].end >= covered:
            return self._judge()
        partial = self._partial
        if partial is not None and partial.settled and partial.t >= covered:
            # Ending where the agent's speech did, as its utterance will: when the decode ran
            # (later in a busy live session) must not move the alert.
            agent_end = self.state.last_end_of["agent"]
            end = (agent_end if agent_end is not None and partial.start <= agent_end <= partial.t
                   else partial.t)
            return self._judge([*self._words, partial.utterance(end)])
        return []

    def _agent_began_before(self, t: float) -> bool:
        """Whether the agent had begun to speak before ``t`` (the agent's first sound is the
        pickup, or follows the softphone's answer)."""
        return (self.state.last_end_of["agent"] is not None
                or self._agent_speaking_since_before(t))

    def _agent_speaking_since_before(self, t: float) -> bool:
        """Whether an agent segment begun before ``t`` is still open."""
        open_since = self.state.speaking.get("agent")
        return open_since is not None and open_since < t

    def _judge(self, words: list[Utterance] | None = None) -> list[Record]:
        pickup_t, rings = self.state.pickup_t, self.state.rings
        assert pickup_t is not None
        window_end = pickup_t + self._s.window_s
        said = [u for u in (self._words if words is None else words) if u.start <= window_end]
        # Nothing recognised within the window (the agent first spoke later): no greeting at
        # all, judged at the window's end.
        opening = said[0] if said else None
        parts = {
            "greeting": any(self._greet.first(u) for u in said),
            "company": None if self._company is None else any(self._company.first(u)
                                                               for u in said),
            "agent_name": None if self._name is None else any(self._name.first(u) for u in said),
            "bad_opening": None if opening is None else next(
                (m.text for m in self._bad.find(opening)
                 if self._within_opening(opening, m.start)), None),
        }
        missing = [k for k in ("greeting", "company", "agent_name") if parts[k] is False]
        ok = not missing and parts["bad_opening"] is None
        apology_ok = any(self._sorry.first(u) for u in said)
        self._result = {"ok": ok, "parts": parts, "apology_ok": apology_ok}
        t = said[-1].end if said else window_end
        out: list[Record] = []
        if not ok:
            out.append(self.alert(t, {"missing": ", ".join(missing) or "-",
                                      "bad_opening": parts["bad_opening"] or "-",
                                      "text": "".join(u.text for u in said)}))
        if self._apology_needed and not apology_ok:
            out.append(self.alert(t, {"rings": rings, "max_rings": self._ring.max_rings},
                                  rule="ring.late_pickup", severity="violation"))
        return out

    def _within_opening(self, opening: Utterance, t: float) -> bool:
        early = [w for w in opening.words if w.start < t - 1e-6]
        return len(early) < self._s.opening_units
