"""When to whisper which alert, in audio time: one hint at a time, never over the agent.

An agent hears one short hint at a time. A rule that keeps firing must not nag (a cool-down
per rule), a violation goes before a warning, and a hint waits for a short gap in the agent's
own speech so it does not talk over them, but not longer than ``max_delay_s``: a late hint is
better than none. Rules listed as urgent (an interruption: the agent is talking over the
caller, so waiting for a gap would defeat the hint) are said at once.

Pure: it reads the alerts and the agent's voice activity in audio time, so a replay schedules
exactly the hints the live call did, and tests need no audio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from monitor.config import HintConfig

_SEVERITY_RANK = {"violation": 0, "warn": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Hint:
    """A hint to start now: the alert's ``say`` text, for ``rule``, found at ``alert_t``."""

    rule: str
    say: str
    severity: str
    alert_t: float
    offered_t: float


class HintScheduler:
    """Takes alerts as they come (``offer``) and says which hint to start at each step.

    ``duration_s`` gives how long a hint's audio lasts, so the next one waits for it to end.
    """

    def __init__(self, cfg: HintConfig, duration_s: Callable[[str], float]) -> None:
        self._cfg = cfg
        self._duration_s = duration_s
        # One per rule, the newest: a rule cannot be offered again while cooling down after
        # being said, so what is pending is never inside its cool-down.
        self._pending: dict[str, Hint] = {}
        self._last_said: dict[str, float] = {}
        self._busy_until = float("-inf")
        self._quiet_since: float | None = 0.0
        self.dropped = 0
        """Hints not said because their rule was cooling down."""

    def offer(self, alert: dict[str, Any], now: float) -> None:
        """An alert record reached the sinks at audio time ``now``."""
        rule = alert["rule"]
        if not alert.get("say") or self._cooling(rule, now):
            self.dropped += bool(alert.get("say"))
            return
        self._pending[rule] = Hint(rule, alert["say"], alert["severity"], alert["t"], now)

    def step(self, t: float, agent_speaking: bool) -> Hint | None:
        """The hint to start at audio time ``t``, if any; call once per 20 ms step."""
        if agent_speaking:
            self._quiet_since = None
        elif self._quiet_since is None:
            self._quiet_since = t
        if t + 1e-9 < self._busy_until or not self._pending:
            return None
        ready = [h for h in self._pending.values() if self._ready(h, t)]
        if not ready:
            return None
        hint = min(ready, key=lambda h: (h.rule not in self._cfg.urgent_rules,
                                         _SEVERITY_RANK.get(h.severity, len(_SEVERITY_RANK)),
                                         h.offered_t))
        del self._pending[hint.rule]
        self._last_said[hint.rule] = t
        self._busy_until = t + self._duration_s(hint.say)
        return hint

    def _ready(self, hint: Hint, t: float) -> bool:
        quiet = self._quiet_since is not None and t - self._quiet_since + 1e-9 >= self._cfg.gap_s
        return (quiet or hint.rule in self._cfg.urgent_rules
                or t - hint.offered_t + 1e-9 >= self._cfg.max_delay_s)

    def _cooling(self, rule: str, t: float) -> bool:
        last = self._last_said.get(rule)
        return last is not None and t - last < self._cfg.cooldown_s
