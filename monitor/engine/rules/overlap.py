"""``interruption``: the agent starts talking while the customer is still speaking.

An agent segment that starts inside customer speech is a candidate, settled at the first of:
- the customer stops first: the agent talked on past them, so it is no backchannel, and the
  overlap is final (customer end - agent start);
- the agent stops first: a segment no longer than a backchannel is one; otherwise the whole
  segment overlapped;
- both still talk: once the agent has certainly spoken longer than a backchannel can last
  and the overlap is certainly more than the threshold (a segment still open, the agent's or
  the customer's, may have stopped up to one VAD hangover ago), the alert fires without
  waiting for either to stop.

The overlap must be *more than* ``min_overlap_s`` (README: "more than 0.5 s"): exactly the
threshold is not an interruption.

An agent turn that a short pause splits in two is still one interruption: an agent segment
that starts inside the same customer turn it already interrupted, less than ``turn_gap_s``
after the agent's previous speech, raises no new alert; its overlap is added to that
interruption's. Turns are the engine's (monitor/engine/turns.py): a customer turn goes on
across pauses shorter than ``turn_gap_s`` unless the agent takes the floor in one.
"""

from __future__ import annotations

import math
from typing import Any

from monitor.config import Config, InterruptionConfig
from monitor.engine.rules.base import EngineEvent, Rule
from monitor.frames import Record, Speech, SpeechStart


class Interruption(Rule):
    id = "interruption"
    summary_keys = ("interruptions",)
    needs = frozenset({"agent", "customer"})
    settings = (InterruptionConfig,)

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self._s = cfg.rules.interruption
        self._hangover_s = cfg.vad.hangover_s
        self._bc_max_s = cfg.engine.backchannel_max_s
        self._turn_gap_s = cfg.engine.turn_gap_s
        self._candidate: float | None = None  # start of an agent segment inside customer speech
        self._fired = False
        self._earlier_s = 0.0  # the overlap of the interruption's earlier agent segments
        self._turn: float | None = None  # the start of the customer's current turn
        self._interrupted_turn: float | None = None  # ... of the turn last interrupted
        self._agent_floor: float | None = None  # the agent's latest segment past a backchannel
        self._found: list[dict[str, float]] = []

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if isinstance(ev, SpeechStart):
            self._on_start(ev)
        elif isinstance(ev, Speech) and ev.channel == "customer":
            if self._candidate is not None:
                return self._settle(ev.end - self._candidate)
        elif isinstance(ev, Speech):
            if ev.duration_s > self._bc_max_s:
                self._agent_floor = ev.start
            if ev.start != self._candidate:
                return []
            if ev.duration_s <= self._bc_max_s and not self._fired:
                self._candidate = None  # a backchannel
                return []
            return self._settle(ev.duration_s)
        return []

    def on_tick(self, t: float) -> list[Record]:
        a = self._candidate
        if a is None or self._fired:
            return []
        # Either side's open segment may have ended up to one VAD hangover ago: only the speech
        # until then is certain (an agent's 0.9 s 嗯 must not pass for an interruption).
        certain = t - self._hangover_s - a
        if certain <= self._bc_max_s:
            return []
        return self._fire(certain) if certain > self._s.min_overlap_s else []

    def next_due(self, t: float) -> float:
        a = self._candidate
        if a is None or self._fired:
            return math.inf
        return a + self._hangover_s + max(self._bc_max_s, self._s.min_overlap_s)

    def summary(self) -> dict[str, Any]:
        return {"interruptions": list(self._found)}

    def _on_start(self, ev: SpeechStart) -> None:
        if ev.channel == "customer":
            if self._opens_customer_turn(ev.t):
                self._turn = ev.t
        elif "customer" in self.state.speaking:
            # Resuming the interruption already counted: settled like one, never alerted again.
            again = self._resumes_interruption(ev.t)
            self._candidate, self._fired = ev.t, again
            self._earlier_s = self._found[-1]["overlap_s"] if again else 0.0

    def _opens_customer_turn(self, t: float) -> bool:
        """Customer speech starting at ``t`` opens a turn (as build_turns groups them): after a
        pause of ``turn_gap_s`` or more, or one in which the agent took the floor (started
        speech longer than a backchannel; one still going counts by its length so far)."""
        last = self.state.last_end_of["customer"]
        if last is None or t - last >= self._turn_gap_s:
            return True
        agent_since = self.state.speaking.get("agent")
        if agent_since is not None and agent_since >= last and t - agent_since > self._bc_max_s:
            return True
        return self._agent_floor is not None and self._agent_floor >= last

    def _resumes_interruption(self, t: float) -> bool:
        """The agent speaks again inside the customer turn it last interrupted, after a pause
        shorter than a turn gap: the same agent turn, so the same interruption."""
        agent_end = self.state.last_end_of["agent"]
        return (bool(self._found) and self._interrupted_turn == self._turn
                and agent_end is not None and t - agent_end < self._turn_gap_s)

    def _settle(self, overlap_s: float) -> list[Record]:
        """The overlap is final: fire if long enough, or correct the provisional figure."""
        out: list[Record] = []
        if self._fired:  # (a segment that began as the customer stopped adds nothing)
            self._found[-1]["overlap_s"] = round(self._earlier_s + max(overlap_s, 0.0), 3)
        elif overlap_s > self._s.min_overlap_s:  # "more than": exactly the limit is not
            out = self._fire(overlap_s)
        self._candidate = None
        return out

    def _fire(self, overlap_s: float) -> list[Record]:
        a = self._candidate
        assert a is not None
        self._fired, self._interrupted_turn = True, self._turn
        self._found.append({"t": round(a, 3), "overlap_s": round(overlap_s, 3)})
        return [self.alert(a + self._s.min_overlap_s,
                           {"start": round(a, 3), "overlap_s": round(overlap_s, 3),
                            "min_overlap_s": self._s.min_overlap_s})]
