"""``volume.too_loud``: the agent speaks louder than the standard allows.

Judged per speech segment on the mean level of its voiced frames, so a single plosive peak
does not count but a raised voice over a whole phrase does.
"""

from __future__ import annotations

from typing import Any

from monitor.config import Config, VolumeTooLoudConfig
from monitor.engine.rules.base import EngineEvent, Rule
from monitor.frames import Record, Speech


class VolumeTooLoud(Rule):
    id = "volume.too_loud"
    summary_keys = ("agent_loudest_dbfs",)
    settings = (VolumeTooLoudConfig,)
    agent_voice = frozenset({"volume.too_loud"})

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self._s = cfg.rules.volume_too_loud
        self._last_alert: float | None = None
        self._loudest: float | None = None

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if not isinstance(ev, Speech) or ev.channel != "agent" or ev.level_dbfs is None:
            return []
        if ev.duration_s < self._s.min_segment_s:
            return []
        self._loudest = max(self._loudest or ev.level_dbfs, ev.level_dbfs)
        if ev.level_dbfs <= self._s.max_level_dbfs:
            return []
        if self._last_alert is not None and ev.end - self._last_alert < self._s.cooldown_s:
            return []
        self._last_alert = ev.end
        return [self.alert(ev.end, {"level_dbfs": ev.level_dbfs, "start": ev.start,
                                    "max_level_dbfs": self._s.max_level_dbfs})]

    def summary(self) -> dict[str, Any]:
        return {"agent_loudest_dbfs": self._loudest}
