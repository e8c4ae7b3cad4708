"""The call's measurements that need no rule: pickup, rings, talk time, turns, speaking rate.

They are what a supervisor reads first in a summary, and what the rules build on. Pickup,
rings and talk time are the call state's (monitor/engine/state.py); this reads them out.
"""

from __future__ import annotations

from typing import Any

from monitor.config import Config
from monitor.engine.rules.base import EngineEvent
from monitor.engine.state import CallState
from monitor.engine.turns import build_turns
from monitor.frames import Channel, Metric, Record, Speech, Utterance
from monitor.text import count_units


class CallMetrics:
    """Accumulates the measurements as events arrive; ``summary`` reads them out."""

    def __init__(self, cfg: Config, channels: tuple[Channel, ...], state: CallState,
                 mixed: bool) -> None:
        self._cfg = cfg
        self._channels = channels
        # Both sides in the one channel: rings are heard there, but its words are not the
        # agent's alone, so they give no agent rate.
        self._mixed = mixed
        self._state = state
        self._segments: dict[Channel, list[Speech]] = {c: [] for c in channels}
        self._agent_units: list[tuple[float, int]] = []

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if isinstance(ev, Speech):
            self._segments[ev.channel].append(ev)
        elif isinstance(ev, Utterance) and ev.channel == "agent" and not self._mixed:
            self._agent_units.append((ev.start, count_units(ev.text, self._cfg.language)))
            rate = self.agent_rate()
            if rate is not None:
                return [Metric(ev.end, "agent_rate", rate, {"unit": self._cfg.rate_unit})]
        return []

    def agent_rate(self) -> float | None:
        """Units per minute over the agent's turns long enough to judge a pace by.

        A turn's span runs from its first to its last speech, pauses included: the standard's
        150 characters per minute is the pace a caller hears, not the syllable rate.
        """
        eng = self._cfg.engine
        turns = build_turns(self._segments.get("agent", []), self._segments.get("customer", []),
                            eng.turn_gap_s, eng.backchannel_max_s)
        units = span = 0.0
        for turn in turns:
            if turn.span_s < eng.rate_min_turn_s:
                continue
            counted = [n for start, n in self._agent_units if turn.start <= start < turn.end]
            if counted:
                units += sum(counted)
                span += turn.span_s
        return 60.0 * units / span if span else None

    def summary(self) -> dict[str, Any]:
        eng = self._cfg.engine
        state = self._state
        talk = {c: round(s, 3) for c, s in state.talk_s.items()}
        out: dict[str, Any] = {
            # The rings are heard on the customer channel (the one channel of a mixed recording)
            # or reported by the softphone.
            "rings_before_pickup": (state.rings if "customer" in self._channels or self._mixed
                                    or state.signalled_rings else None),
            "pickup_t": state.pickup_t,
            "agent_rate_cpm": _round(self.agent_rate(), 1),
            "rate_unit": self._cfg.rate_unit,
            "talk_s": talk,
            "talk_ratio_agent": None,
            "longest_customer_turn_s": None,
        }
        if "customer" in self._channels:
            total = sum(talk.values())
            # A leg of the caller alone (tap) did not hear the agent: no share, not 0.
            agent = talk.get("agent")
            if total and agent is not None:
                out["talk_ratio_agent"] = round(agent / total, 3)
            turns = build_turns(self._segments["customer"], self._segments.get("agent", []),
                                eng.turn_gap_s, eng.backchannel_max_s)
            out["longest_customer_turn_s"] = round(max((t.span_s for t in turns), default=0.0), 3)
        return out


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
