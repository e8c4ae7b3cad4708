"""``dead_air``: both sides silent for longer than the limit once the call is answered.

Answered is the pickup: the agent's first speech, or the softphone's answer where it reports
one, so a caller answered by the softphone and met with silence is left in dead air too.
"""

from __future__ import annotations

import math
from typing import Any

from monitor.config import Config, DeadAirConfig
from monitor.engine.rules.base import EngineEvent, Rule
from monitor.frames import Record, SpeechStart


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
        self._open: float | None = None
        self._gaps: list[dict[str, float]] = []

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if isinstance(ev, SpeechStart):
            self._close(ev.t)
        return []

    def on_tick(self, t: float) -> list[Record]:
        start = self._timed_from()
        if start is None or t - start + 1e-9 < self._limit_s:
            return []
        self._open = start
        return [self.alert(start + self._limit_s,
                           {"start": round(start, 3), "limit_s": self._limit_s})]

    def next_due(self, t: float) -> float:
        start = self._timed_from()
        return math.inf if start is None else start + self._limit_s

    def _timed_from(self) -> float | None:
        """Where the silence being timed started; None while someone speaks, on hold, before
        the pickup, or once this silence has been alerted."""
        state = self.state
        start = state.silent_since
        if start is None or state.speaking or self._open is not None or state.on_hold:
            return None
        return start

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

