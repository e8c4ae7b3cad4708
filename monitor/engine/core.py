"""The timing engine: events in audio time go in, records for the timeline come out.

It is pure: no clock, no audio, no I/O. The pipeline feeds it VAD, tone and ASR events and
calls ``on_tick`` once per 20 ms step, so live and replay produce the same records.

Each event first updates the one ``CallState`` (monitor/engine/state.py), then goes to the
metrics and the rules, which read that state: a rule never sees the state lag its event.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Set as AbstractSet
from typing import Any

from monitor.config import Config
from monitor.engine.metrics import CallMetrics
from monitor.engine.rules import RULES
from monitor.engine.rules.base import EngineEvent, Rule
from monitor.engine.scoring import qa_score
from monitor.engine.state import CallState
from monitor.errors import CallmonitorError
from monitor.frames import (
    Alert,
    Channel,
    Filler,
    HoldEnd,
    HoldStart,
    Nucleus,
    PartialUtterance,
    Record,
    SpeechStart,
    Summary,
)

NO_WORDS_WHY = "needs recognised words (no speech recognition: --asr none)"
"""Why a check that judges words was not made when no recogniser hears the call."""
DUE_SLACK_S = 1e-3
"""How much earlier than a rule's ``next_due`` the engine ticks it: that time is a sum made
apart from the rule's own check (``t - start + 1e-9 >= limit``), so it may round the other
way; a millisecond (less than a step) keeps a rounding from skipping the step that acts."""
MIXED_WHY = "mixed recording: both sides in one channel, whose words or voice cannot be told"
"""Why a check that needs the sides apart was not made on a mixed recording (--channels mixed)."""


class Engine:
    """Runs the metrics and every rule whose channels are present.

    ``words``: a recogniser hears the call. Without one (``--asr none``) the checks that judge
    recognised words (``Rule.needs_words``) are not made: a check not made is not passed, so
    they are listed in ``rules_skipped`` and left out of the score rather than counted as
    passed because nothing was heard to fail them.

    ``mixed``: the one ``agent`` channel holds both sides (a recorder that mixed them). The
    checks of the agent's words or voice (``needs_words``, ``agent_voice``) and the two-sided
    ones would judge the caller as the agent: they are skipped with ``MIXED_WHY``.
    """

    def __init__(self, cfg: Config, channels: tuple[Channel, ...],
                 rules: tuple[type[Rule], ...] = RULES, words: bool = True,
                 mixed: bool = False) -> None:
        self._state = CallState(channels, cfg.tones.cadence_gap_s)
        self._metrics = CallMetrics(cfg, channels, self._state, mixed)
        self._rules: list[Rule] = []
        self._skipped: list[dict[str, str]] = []
        self._skipped_keys: list[str] = []
        for cls in rules:
            unchecked = _not_checked(cls, channels, words, mixed)
            self._skipped += [{"rule": r, "why": why} for r, why in unchecked.items()]
            if unchecked.keys() >= set(cls.rule_ids()):
                self._skipped_keys += cls.summary_keys
                continue
            rule = cls(cfg)
            rule.state, rule.hears_words = self._state, words
            self._rules.append(rule)
        self._unchecked = frozenset(s["rule"] for s in self._skipped)
        self._weights = _weights(cfg, [r for rule in self._rules for r in rule.rule_ids()
                                       if r not in self._unchecked])
        # Most rules only react to events; ticking them 50 times a second would cost for nothing.
        self._tickers = [r for r in self._rules if type(r).on_tick is not Rule.on_tick]
        # Per ticking rule, the audio time from which its ticks are made (``Rule.next_due``,
        # less ``DUE_SLACK_S``), and the earliest of these: any event makes them all due.
        self._due = [-math.inf] * len(self._tickers)
        self._next_due = -math.inf
        self._alerts: Counter[str] = Counter()

    @property
    def weights(self) -> dict[str, float]:
        """The score's weight of each check this call makes (``qa_score``'s ``weights``)."""
        return dict(self._weights)

    def hears(self, kind: type[EngineEvent]) -> bool:
        """Whether a rule that runs reads events of ``kind`` (``Rule.analyses``): without a
        recogniser the speaking rate is not judged, so nothing reads the syllable nuclei,
        and the pipeline need not count them."""
        return any(kind in rule.analyses for rule in self._rules)

    def on_event(self, ev: EngineEvent) -> list[Record]:
        """Feed one event; returns it (when it belongs on the timeline) and what it caused."""
        out: list[Record] = ([] if isinstance(ev, SpeechStart | Nucleus | Filler | PartialUtterance)
                             else [ev])
        pickup = self._state.update(ev)
        if pickup is not None:  # the rules hear of the pickup before the event that made it
            out += [pickup, *self._to_rules(pickup)]
        out += self._metrics.on_event(ev)
        return self._count(out + self._to_rules(ev))

    def on_tick(self, t: float) -> list[Record]:
        """Advance the clock to ``t``. Called every 20 ms and almost always finds nothing, so
        only the rules whose ``next_due`` has come are ticked (in their order, as all were),
        and a step at which none has costs one comparison."""
        if t < self._next_due:
            return []
        out: list[Record] = []
        due = self._due
        for i, rule in enumerate(self._tickers):
            if t < due[i]:
                continue
            records = rule.on_tick(t)
            due[i] = rule.next_due(t) - DUE_SLACK_S
            if records:  # (their holds are events: every rule is due again)
                out += self._derived(records)
        self._next_due = min(due, default=math.inf)
        return self._count(out) if out else out

    def _to_rules(self, ev: EngineEvent) -> list[Record]:
        """Hand ``ev`` to every rule. It may change what any of them waits for (the state, or
        their own), so every ticking rule is ticked at the next step and says again when it is
        next due."""
        out: list[Record] = []
        for rule in self._rules:
            out += self._derived(rule.on_event(ev))
        self._due[:] = [-math.inf] * len(self._due)
        self._next_due = -math.inf
        return out

    def _derived(self, records: list[Record]) -> list[Record]:
        """A hold one rule found is an event for the state and the other rules (dead air is not
        a hold)."""
        out = list(records)
        for record in records:
            if isinstance(record, HoldStart | HoldEnd):
                self._state.update(record)
                out += self._to_rules(record)
        return out

    def finish(self, t_end: float, extra: dict[str, Any] | None = None) -> list[Record]:
        """Close the session at ``t_end``: final alerts, then the one summary record."""
        out: list[Record] = []
        for rule in self._rules:
            out += rule.finish(t_end)
        out = self._count(out)
        fields: dict[str, Any] = dict.fromkeys(self._skipped_keys)
        fields.update(self._metrics.summary())
        for rule in self._rules:
            fields.update(rule.summary())
        score, checks = qa_score(self._weights, self._alerts)
        fields.update({
            "score": score,
            "checks": checks,
            "alerts_by_rule": dict(sorted(self._alerts.items())),
            "rules_skipped": list(self._skipped),
            "duration_s": round(t_end, 3),
        })
        fields.update(extra or {})
        return [*out, Summary(t_end, fields)]

    def _count(self, records: list[Record]) -> list[Record]:
        """Count the alerts; those of a check not made are dropped (a rule running for its
        other ids cannot judge these: a softphone hold's announcement without words)."""
        if self._unchecked:
            records = [r for r in records
                       if not (isinstance(r, Alert) and r.rule in self._unchecked)]
        self._alerts.update(r.rule for r in records if isinstance(r, Alert))
        return records


def _weights(cfg: Config, rule_ids: list[str]) -> dict[str, float]:
    missing = [r for r in rule_ids if r not in cfg.score_weights]
    if missing:
        raise CallmonitorError(f"no score weight for {', '.join(missing)}",
                               "add it under [score.weights] in config/default.toml")
    return {r: cfg.score_weights[r] for r in rule_ids}


def _not_checked(cls: type[Rule], channels: tuple[Channel, ...], words: bool,
                 mixed: bool) -> dict[str, str]:
    """The rule ids of ``cls`` this call cannot check, each with why."""
    if mixed:
        apart = cls.needs_words | cls.agent_voice
        return {r: MIXED_WHY for r in cls.rule_ids()
                if r in apart or "customer" in cls.needs}
    missing = cls.needs - set(channels)
    if missing:
        return dict.fromkeys(cls.rule_ids(), _needs_why(missing))
    if words:
        return {}
    return {r: NO_WORDS_WHY for r in cls.rule_ids() if r in cls.needs_words}


def _needs_why(missing: AbstractSet[str]) -> str:
    return f"needs the {' and '.join(sorted(missing))} channel (the source has none)"
