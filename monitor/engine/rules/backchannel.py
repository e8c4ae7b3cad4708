"""``backchannel.missing``: a long customer turn with no 嗯 / 对 / 我明白 from the agent.

The standard asks the agent to respond now and then while the customer talks. The rule keeps
the time since the last sign of listening (the turn's start, or the agent's last backchannel)
and fires when the customer's speech has certainly reached the limit (talking for exactly
the limit is enough) while their turn goes on; a backchannel starts the count again. The
agent taking the floor ends the customer's turn: an agent segment longer than a backchannel
can last (``[engine] backchannel_max_s``), known as soon as the agent has certainly spoken
longer than that (an open segment may have ended up to one VAD hangover ago, as for the
interruption), or when the segment is handed over.
"""

from __future__ import annotations

import math
from typing import Any

from monitor.config import BackchannelMissingConfig, Config
from monitor.engine.rules.base import EngineEvent, Rule
from monitor.frames import Record, Speech, SpeechStart


class BackchannelMissing(Rule):
    id = "backchannel.missing"
    summary_keys = ("backchannel_gaps",)
    needs = frozenset({"agent", "customer"})
    settings = (BackchannelMissingConfig,)

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self._s = cfg.rules.backchannel_missing
        self._turn_gap_s = cfg.engine.turn_gap_s
        self._bc_max_s = cfg.engine.backchannel_max_s
        self._hangover_s = cfg.vad.hangover_s
        self._listening_since: float | None = None  # None: no customer turn open
        self._open_gap: dict[str, float] | None = None
        self._gaps: list[dict[str, float]] = []

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if isinstance(ev, SpeechStart) and ev.channel == "customer":
            if self._listening_since is None or not self._paused_briefly(ev.t):
                self._close_gap(ev.t)
                self._listening_since = ev.t
        elif isinstance(ev, Speech) and ev.channel == "agent" and self._listening_since is not None:
            self._close_gap(ev.start)  # a backchannel, or the agent took the floor
            self._listening_since = ev.end if ev.duration_s <= self._bc_max_s else None
        return []

    def on_tick(self, t: float) -> list[Record]:
        agent_since = self.state.speaking.get("agent")
        if agent_since is not None and t - self._hangover_s - agent_since > self._bc_max_s:
            self._close_gap(agent_since)  # the agent has certainly taken the floor
            self._listening_since = None
        since = self._listening_since
        heard = self._heard_until(t)
        if since is None or self._open_gap is not None or heard is None:
            return []
        limit = self._s.max_silent_listening_s
        if heard - since + 1e-9 < limit:
            return []
        self._open_gap = {"start": round(since, 3)}
        return [self.alert(since + limit, {"start": round(since, 3), "limit_s": limit})]

    def next_due(self, t: float) -> float:
        """The agent's speech turning into the floor, or the customer's open segment reaching
        the limit. A customer who has stopped cannot: their turn is heard up to the end of
        their speech, no further, so a tick that did not fire then never will."""
        state = self.state
        since, due = self._listening_since, math.inf
        agent_since = state.speaking.get("agent")
        if agent_since is not None and since is not None:  # (an open gap has a turn open)
            due = agent_since + self._hangover_s + self._bc_max_s
        if since is not None and self._open_gap is None and "customer" in state.speaking:
            due = min(due, since + self._hangover_s + self._s.max_silent_listening_s)
        return due

    def finish(self, t_end: float) -> list[Record]:
        customer_end = self.state.last_end_of["customer"]
        self._close_gap(t_end if customer_end is None else min(t_end, customer_end))
        return []

    def summary(self) -> dict[str, Any]:
        return {"backchannel_gaps": list(self._gaps)}

    def _heard_until(self, t: float) -> float | None:
        """How far the customer's speech is certain at ``t`` (None before they spoke): a
        segment still open may have ended up to one VAD hangover ago, so a turn that stopped
        just short of the limit is not taken for one that reached it; a segment handed over
        ended where it says, even when that hangover was longer than a turn gap (the turn
        reached its end's time before it ended)."""
        if "customer" in self.state.speaking:
            return t - self._hangover_s
        return self.state.last_end_of["customer"]

    def _paused_briefly(self, t: float) -> bool:
        """The customer's last speech ended less than a turn gap before ``t``: a pause
        inside their turn, not the end of it."""
        end = self.state.last_end_of["customer"]
        return end is not None and t - end < self._turn_gap_s

    def _close_gap(self, t: float) -> None:
        if self._open_gap is not None:
            self._gaps.append({**self._open_gap, "end": round(max(t, self._open_gap["start"]), 3)})
            self._open_gap = None
