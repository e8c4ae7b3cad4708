"""``rate.too_fast`` and ``rate.too_slow``: the agent's pace over a sliding window of talk.

The standard asks for about 150 characters a minute (words in English). The pace is taken over
the agent's most recent utterances adding up to ``window_talk_s`` of talk (pauses inside an
utterance included, as a caller hears them), and judged only once there is at least
``min_window_s`` of it; short utterances (backchannels, 好的) say nothing about pace.

The same window is also measured by the syllable nuclei heard in the agent's audio (one
Chinese character is one syllable), which needs no recogniser; both figures are reported
(``estimated``), the recognised count decides.
"""

from __future__ import annotations

from typing import Any

from monitor.config import Config, RateTooFastConfig, RateTooSlowConfig
from monitor.engine.rules.base import EngineEvent, Rule
from monitor.frames import Metric, Nucleus, Record, Utterance
from monitor.text import count_units


class SpeakingRate(Rule):
    id = "rate.too_fast"
    summary_keys = ("agent_rate_window_max", "agent_rate_window_min", "agent_rate_est_cpm")
    ids = ("rate.too_fast", "rate.too_slow")
    # The recognised count decides the pace (the syllable estimate is only reported beside it).
    needs_words = frozenset(ids)
    settings = (RateTooFastConfig, RateTooSlowConfig)
    analyses = frozenset({Nucleus})

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self._s = cfg.rules.rate_too_fast
        self._too_slow_below = cfg.rules.rate_too_slow.too_slow_below
        self._recent: list[tuple[float, int, int]] = []  # (span_s, units, nuclei), newest last
        self._nuclei: list[float] = []
        self._last_alert: dict[str, float] = {}
        self._extremes: dict[str, float] = {}

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if isinstance(ev, Nucleus):
            self._nuclei.append(ev.t)
        if not isinstance(ev, Utterance) or ev.channel != "agent":
            return []
        span = ev.end - ev.start
        if span < self._s.min_utterance_s:
            return []
        nuclei = sum(ev.start <= t <= ev.end for t in self._nuclei)
        self._nuclei = [t for t in self._nuclei if t > ev.end]
        self._recent.append((span, count_units(ev.text, self.cfg.language), nuclei))
        rate, estimated = self._window_rates()
        if rate is None:
            return []
        self._extremes["max"] = max(self._extremes.get("max", rate), rate)
        self._extremes["min"] = min(self._extremes.get("min", rate), rate)
        out: list[Record] = [Metric(ev.end, "agent_rate_window", rate,
                                    {"unit": self.cfg.rate_unit, "estimated": round(estimated)})]
        if rate > self._s.too_fast_above:
            out += self._fire("rate.too_fast", ev.end, rate, self._s.too_fast_above)
        elif rate < self._too_slow_below:
            out += self._fire("rate.too_slow", ev.end, rate, self._too_slow_below)
        return out

    def summary(self) -> dict[str, Any]:
        total = sum(s for s, _, _ in self._recent)
        return {"agent_rate_window_max": _round(self._extremes.get("max")),
                "agent_rate_window_min": _round(self._extremes.get("min")),
                "agent_rate_est_cpm": _round(60.0 * sum(n for _, _, n in self._recent) / total)
                if total else None}

    def _window_rates(self) -> tuple[float | None, float]:
        """Recognised and estimated (syllable) units per minute over the window."""
        span = units = nuclei = 0.0
        for s, n, k in reversed(self._recent):
            span += s
            units += n
            nuclei += k
            if span >= self._s.window_talk_s:
                break
        if span < self._s.min_window_s:
            return None, 0.0
        return 60.0 * units / span, 60.0 * nuclei / span

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
