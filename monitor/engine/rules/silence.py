"""``dead_air``: both sides silent for longer than the limit once the call is answered."""

from __future__ import annotations

from typing import Any

from monitor.config import Config, DeadAirConfig
from monitor.engine.rules.base import EngineEvent, Rule
from monitor.frames import HoldEnd, HoldStart, Record, Speech, SpeechStart


class DeadAir(Rule):
    """Alerts the moment a silence reaches the limit, and records how long it lasted.

    It fires on the audio clock during the silence (not when speech resumes) so the agent can
    be told while the caller is still waiting. An announced hold is not dead air.
    """

    id = "dead_air"
    summary_keys = ("dead_air",)
    needs = frozenset({"agent", "customer"})
    settings = (DeadAirConfig,)

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self._limit_s = cfg.rules.dead_air.limit_s
        self._speaking: set[str] = set()
        self._answered = False
        self._last_end = 0.0
        self._open: float | None = None
        self._on_hold = False
        self._gaps: list[dict[str, float]] = []

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if isinstance(ev, SpeechStart):
            self._answered |= ev.channel == "agent"
            self._speaking.add(ev.channel)
            self._close(ev.t)
        elif isinstance(ev, Speech):
            self._speaking.discard(ev.channel)
            self._last_end = max(self._last_end, ev.end)
        elif isinstance(ev, HoldStart | HoldEnd):
            self._on_hold = isinstance(ev, HoldStart)
            self._last_end = max(self._last_end, ev.t)
        return []

    def on_tick(self, t: float) -> list[Record]:
        if not self._answered or self._speaking or self._open is not None or self._on_hold:
            return []
        if t - self._last_end + 1e-9 < self._limit_s:
            return []
        self._open = self._last_end
        fired = self._last_end + self._limit_s
        return [self.alert(fired, {"start": round(self._last_end, 3), "limit_s": self._limit_s})]

    def finish(self, t_end: float) -> list[Record]:
        self._close(t_end)
        return []

    def summary(self) -> dict[str, Any]:
        return {"dead_air": list(self._gaps)}

    def _close(self, t: float) -> None:
        if self._open is not None:
            self._gaps.append({"start": round(self._open, 3), "end": round(t, 3),
                               "duration_s": round(t - self._open, 3)})
            self._open = None
