"""``interruption``: the agent starts talking while the customer is still speaking.

An agent segment that starts inside customer speech is a candidate, settled at the first of:
- the customer stops first: the agent talked on past them, so it is no backchannel, and the
  overlap is final (customer end - agent start);
- the agent stops first: a segment no longer than a backchannel is one; otherwise the whole
  segment overlapped;
- both still talk: once the agent has spoken longer than a backchannel can last, and the
  overlap is certain (a customer whose segment is still open may have stopped up to one VAD
  hangover ago), the alert fires without waiting for either to stop.
"""

from __future__ import annotations

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
        self._candidate: float | None = None  # start of an agent segment inside customer speech
        self._fired = False
        self._found: list[dict[str, float]] = []

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if isinstance(ev, SpeechStart) and ev.channel == "agent" and (
                "customer" in self.state.speaking):
            self._candidate, self._fired = ev.t, False
        elif isinstance(ev, Speech) and ev.channel == "customer":
            if self._candidate is not None:
                return self._settle(ev.end - self._candidate)
        elif isinstance(ev, Speech) and ev.start == self._candidate:
            if ev.duration_s <= self._bc_max_s and not self._fired:
                self._candidate = None  # a backchannel
                return []
            return self._settle(ev.duration_s)
        return []

    def on_tick(self, t: float) -> list[Record]:
        a = self._candidate
        if a is None or self._fired or t - a <= self._bc_max_s:
            return []
        certain = t - self._hangover_s - a
        return self._fire(certain) if certain >= self._s.min_overlap_s else []

    def summary(self) -> dict[str, Any]:
        return {"interruptions": list(self._found)}

    def _settle(self, overlap_s: float) -> list[Record]:
        """The overlap is final: fire if long enough, or correct the provisional figure."""
        out: list[Record] = []
        if self._fired:
            self._found[-1]["overlap_s"] = round(overlap_s, 3)
        elif overlap_s >= self._s.min_overlap_s:
            out = self._fire(overlap_s)
        self._candidate = None
        return out

    def _fire(self, overlap_s: float) -> list[Record]:
        a = self._candidate
        assert a is not None
        self._fired = True
        self._found.append({"t": round(a, 3), "overlap_s": round(overlap_s, 3)})
        return [self.alert(a + self._s.min_overlap_s,
                           {"start": round(a, 3), "overlap_s": round(overlap_s, 3),
                            "min_overlap_s": self._s.min_overlap_s})]
