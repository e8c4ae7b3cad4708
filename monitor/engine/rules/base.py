"""What a rule is: a small object that reads engine events in audio time and returns alerts.

A rule never looks at the wall clock, audio samples or storage; that keeps it deterministic,
so a replay finds exactly what the live call found and a test runs in milliseconds.
"""

from __future__ import annotations

from typing import Any, ClassVar

from monitor.config import Config
from monitor.frames import Alert, Channel, Record, Speech, SpeechStart, Utterance
from monitor.frames import Ring as RingRecord

EngineEvent = SpeechStart | Speech | Utterance | RingRecord


class Rule:
    """Base class: override what the rule needs; the defaults do nothing."""

    id: ClassVar[str]
    needs: ClassVar[frozenset[Channel]] = frozenset({"agent"})

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def on_event(self, ev: EngineEvent) -> list[Record]:
        return []

    def on_tick(self, t: float) -> list[Record]:
        """Called once per 20 ms step with the audio time at the end of the step."""
        return []

    def finish(self, t_end: float) -> list[Record]:
        """The audio has ended at ``t_end``: close what is still open."""
        return []

    def summary(self) -> dict[str, Any]:
        """The summary keys this rule owns (DESIGN.md's contract)."""
        return {}

    def alert(self, t: float, evidence: dict[str, Any]) -> Alert:
        """An alert worded by the profile: the templates are filled from ``evidence``."""
        msg = self.cfg.messages[self.id]
        return Alert(self.id, round(t, 3), msg.severity, msg.message.format(**evidence),
                     msg.say.format(**evidence), evidence)
