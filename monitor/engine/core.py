"""The timing engine: events in audio time go in, records for the timeline come out.

It is pure: no clock, no audio, no I/O. The pipeline feeds it VAD, tone and ASR events and
calls ``on_tick`` once per 20 ms step, so live and replay produce the same records.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from monitor.config import Config
from monitor.engine.metrics import CallMetrics
from monitor.engine.rules import PENDING, PENDING_WHY, RULES, Rule
from monitor.engine.rules.base import EngineEvent
from monitor.frames import Alert, Channel, Record, SpeechStart, Summary


class Engine:
    """Runs the metrics and every rule whose channels are present."""

    def __init__(self, cfg: Config, channels: tuple[Channel, ...],
                 rules: tuple[type[Rule], ...] = RULES) -> None:
        self._metrics = CallMetrics(cfg, channels)
        self._rules: list[Rule] = []
        self._skipped: list[dict[str, str]] = []
        for cls in rules:
            missing = cls.needs - set(channels)
            if missing:
                self._skipped.append({"rule": cls.id, "why": _needs_why(missing)})
            else:
                self._rules.append(cls(cfg))
        self._skipped += [{"rule": rule, "why": PENDING_WHY} for rule in PENDING]
        self._alerts: Counter[str] = Counter()

    def on_event(self, ev: EngineEvent) -> list[Record]:
        """Feed one event; returns it (when it belongs on the timeline) and what it caused."""
        out: list[Record] = [] if isinstance(ev, SpeechStart) else [ev]
        out += self._metrics.on_event(ev)
        for rule in self._rules:
            out += rule.on_event(ev)
        return self._count(out)

    def on_tick(self, t: float) -> list[Record]:
        out: list[Record] = []
        for rule in self._rules:
            out += rule.on_tick(t)
        return self._count(out)

    def finish(self, t_end: float, extra: dict[str, Any] | None = None) -> list[Record]:
        """Close the session at ``t_end``: final alerts, then the one summary record."""
        out: list[Record] = []
        for rule in self._rules:
            out += rule.finish(t_end)
        self._count(out)
        fields: dict[str, Any] = {key: None for keys in PENDING.values() for key in keys}
        fields.update(self._metrics.summary())
        for rule in self._rules:
            fields.update(rule.summary())
        for skipped in self._skipped:
            fields.update({key: None for key in PENDING.get(skipped["rule"], ())})
        fields.update({
            "score": None,
            "alerts_by_rule": dict(sorted(self._alerts.items())),
            "rules_skipped": list(self._skipped),
            "duration_s": round(t_end, 3),
        })
        fields.update(extra or {})
        return [*out, Summary(t_end, fields)]

    def _count(self, records: list[Record]) -> list[Record]:
        self._alerts.update(r.rule for r in records if isinstance(r, Alert))
        return records


def _needs_why(missing: set[str]) -> str:
    return f"needs the {' and '.join(sorted(missing))} channel (the source has none)"
