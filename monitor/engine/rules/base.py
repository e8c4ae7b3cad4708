"""What a rule is: a small object that reads engine events in audio time and returns alerts.

A rule never looks at the wall clock, audio samples or storage; that keeps it deterministic,
so a replay finds exactly what the live call found and a test runs in milliseconds.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from monitor.config import Config
from monitor.engine.state import CallState
from monitor.frames import (
    Alert,
    CallEvent,
    Channel,
    Filler,
    HoldEnd,
    HoldStart,
    Nucleus,
    PartialUtterance,
    Pickup,
    Record,
    Ring,
    Severity,
    Speech,
    SpeechStart,
    Utterance,
)

EngineEvent = (SpeechStart | Nucleus | Filler | Speech | Utterance | PartialUtterance | Ring
               | CallEvent | Pickup | HoldStart | HoldEnd)
"""What rules read: the pipeline's events, the softphone's, and the pickup and holds derived
from them. A ``PartialUtterance`` (the agreed words of a phrase still open) is for the rules
that act before a phrase ends; the others wait for its ``Utterance``."""


class Rule:
    """Base class: override what the rule needs; the defaults do nothing."""

    id: ClassVar[str]
    # Every rule id the class raises alerts under (a class may own a family, like hold.*).
    ids: ClassVar[tuple[str, ...]] = ()
    needs: ClassVar[frozenset[Channel]] = frozenset({"agent"})
    # The rule ids (of ``rule_ids()``) whose check judges recognised words. Without a
    # recogniser they are not checked: listed in ``rules_skipped``, left out of the score,
    # their alerts dropped; a class all of whose ids need words does not run at all (its
    # summary keys are null). Per class, so a rule that learns to judge from the audio alone
    # (fillers from the sound) can say so here.
    needs_words: ClassVar[frozenset[str]] = frozenset()
    # The rule ids (of ``rule_ids()``) judged from the agent's own voice, not words: its level,
    # its fillers. A mixed recording (both sides in one channel) cannot tell whose voice it
    # hears, so these are not checked there, nor are ``needs_words`` and the two-sided rules.
    agent_voice: ClassVar[frozenset[str]] = frozenset()
    # The events of the audio analyses that cost an FFT a frame and are made only for a rule
    # that reads them (the engine's ``hears``): ``Nucleus`` (the syllable counter), ``Filler``
    # (the filler detector). A rule that reads one of them must list it here.
    analyses: ClassVar[frozenset[type]] = frozenset()
    # The summary keys ``summary`` fills: null when the rule cannot run on the source.
    summary_keys: ClassVar[tuple[str, ...]] = ()
    # The settings the rule reads: the [rules."<rule id>"] tables of its ids (cfg.rules).
    settings: ClassVar[tuple[type, ...]] = ()
    # The call state the engine keeps (answered, who speaks, last speech ends, hold), set by the
    # engine when it adds the rule. Read it, never write it; it already includes the event the
    # rule is handling (see monitor/engine/state.py).
    state: CallState
    # A recogniser hears the call (set by the engine, like ``state``): without one a rule that
    # runs for its timing ids leaves what only words could tell unjudged (null), not failed.
    hears_words: bool = True

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    @classmethod
    def rule_ids(cls) -> tuple[str, ...]:
        return cls.ids or (cls.id,)

    def on_event(self, ev: EngineEvent) -> list[Record]:
        return []

    def on_tick(self, t: float) -> list[Record]:
        """Called at the 20 ms steps with the audio time at the end of the step: at every step
        from ``next_due`` on, and at the first step after any event."""
        return []

    def next_due(self, t: float) -> float:
        """Right after ``on_tick(t)``, with no event since: the earliest audio time at which
        ``on_tick`` could act (return a record or change what the rule keeps) if no event
        comes first; ``math.inf`` when only an event can make it act.

        The engine skips a rule's ticks before this time (most steps of a call have nothing
        due: ticking every rule 50 times a second cost a tenth of a timing-only replay). It
        may be early, never late: a tick skipped that would have acted changes the timeline,
        one made early costs a call. The time is that of the rule's own check; the engine
        allows for rounding. The default, ``-math.inf``, ticks at every step."""
        return -math.inf

    def finish(self, t_end: float) -> list[Record]:
        """The audio has ended at ``t_end``: close what is still open."""
        return []

    def summary(self) -> dict[str, Any]:
        """The summary keys this rule owns (DESIGN.md's contract)."""
        return {}

    def alert(self, t: float, evidence: dict[str, Any], rule: str = "",
              severity: Severity | None = None) -> Alert:
        """An alert worded by the profile: the templates are filled from ``evidence``, with the
        parts it lists in the profile's words (``[labels]``)."""
        rule = rule or self.id
        msg = self.cfg.messages[rule]
        words = self.cfg.labels.worded(evidence)
        return Alert(rule, round(t, 3), severity or msg.severity,
                     msg.message.format(**words), msg.say.format(**words), evidence)
