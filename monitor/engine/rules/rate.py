"""``rate.too_fast`` and ``rate.too_slow``: the agent's pace over a sliding window of talk.

The standard asks for about 150 characters a minute (words in English). The pace is taken over
the agent's most recent utterances adding up to ``window_talk_s`` of talk (pauses inside an
utterance included, as a caller hears them), and judged only once there is at least
``min_window_s`` of it; short utterances (backchannels, 好的) say nothing about pace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.asr.normalize import count_units
from monitor.config import Config
from monitor.engine.rules.base import EngineEvent, Rule
from monitor.frames import Metric, Record, Utterance


@dataclass(frozen=True, slots=True)
class RateSettings:
    target_per_min: float
    too_fast_above: float
    too_slow_below: float
    window_talk_s: float
    min_window_s: float
    min_utterance_s: float
    cooldown_s: float


class SpeakingRate(Rule):
    id = "rate.too_fast"
    ids = ("rate.too_fast", "rate.too_slow")
    section = "rate"

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self._s: RateSettings = self.settings(RateSettings)
        self._recent: list[tuple[float, int]] = []  # (span_s, units), newest last
        self._last_alert: dict[str, float] = {}
        self._extremes: dict[str, float] = {}

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if not isinstance(ev, Utterance) or ev.channel != "agent":
            return []
        span = ev.end - ev.start
        if span < self._s.min_utterance_s:
            return []
        self._recent.append((span, count_units(ev.text, self.cfg.language)))
        rate = self._window_rate()
        if rate is None:
            return []
        self._extremes["max"] = max(self._extremes.get("max", rate), rate)
        self._extremes["min"] = min(self._extremes.get("min", rate), rate)
        out: list[Record] = [Metric(ev.end, "agent_rate_window", rate,
                                    {"unit": self.cfg.rate_unit})]
        if rate > self._s.too_fast_above:
            out += self._fire("rate.too_fast", ev.end, rate, self._s.too_fast_above)
        elif rate < self._s.too_slow_below:
            out += self._fire("rate.too_slow", ev.end, rate, self._s.too_slow_below)
        return out

    def summary(self) -> dict[str, Any]:
        return {"agent_rate_window_max": _round(self._extremes.get("max")),
                "agent_rate_window_min": _round(self._extremes.get("min"))}

    def _window_rate(self) -> float | None:
        span = units = 0.0
        for s, n in reversed(self._recent):
            span += s
            units += n
            if span >= self._s.window_talk_s:
                break
        return 60.0 * units / span if span >= self._s.min_window_s else None

    def _fire(self, rule: str, t: float, rate: float, limit: float) -> list[Record]:
        last = self._last_alert.get(rule)
        if last is not None and t - last < self._s.cooldown_s:
            return []
        self._last_alert[rule] = t
        return [self.alert(t, {"rate": round(rate), "limit": limit,
                               "target": self._s.target_per_min, "unit": self.cfg.rate_unit},
                           rule=rule)]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
