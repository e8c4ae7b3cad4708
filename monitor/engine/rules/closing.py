"""``closing.incomplete``: the call must end properly.

In the agent's last words (the final ``window_s`` of the call) the standard wants the agent to
ask whether there is anything else (还有什么可以帮您) and to thank the caller (感谢您的来电). It
also wants the caller to hang up first: where the softphone reports the hang-up, an agent who
hung up first fails the closing; a recording alone cannot say, so the summary then only
reports who spoke last (``caller_spoke_last``) without judging it.
"""

from __future__ import annotations

from typing import Any

from monitor.config import ClosingIncompleteConfig, Config
from monitor.engine.phrase_match import family_matcher
from monitor.engine.rules.base import EngineEvent, Rule
from monitor.frames import CallEvent, Record, Utterance


class ClosingIncomplete(Rule):
    id = "closing.incomplete"
    summary_keys = ("closing_ok", "closing")
    needs_words = frozenset({"closing.incomplete"})
    settings = (ClosingIncompleteConfig,)

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self._s = cfg.rules.closing_incomplete
        self._ask = family_matcher(cfg, "closing.ask_more")
        self._thanks = family_matcher(cfg, "closing.thanks")
        self._goodbye = family_matcher(cfg, "closing.goodbye")
        self._agent: list[Utterance] = []
        self._hung_up_by: str | None = None
        self._result: dict[str, Any] = {}

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if isinstance(ev, Utterance) and ev.channel == "agent":
            self._agent.append(ev)
        elif isinstance(ev, CallEvent) and ev.event == "hangup" and self._hung_up_by is None:
            self._hung_up_by = ev.by
        return []

    def finish(self, t_end: float) -> list[Record]:
        state = self.state
        if state.talk_s["agent"] < self._s.min_agent_talk_s or not self._agent:
            return []
        last_end = state.last_end or 0.0
        last = [u for u in self._agent if u.end >= last_end - self._s.window_s]
        parts = {"asked_anything_else": any(self._ask.first(u) for u in last),
                 "thanked": any(self._thanks.first(u) for u in last),
                 "said_goodbye": any(self._goodbye.first(u) for u in last),
                 "caller_spoke_last": state.last_speaker == "customer",
                 "caller_hung_up_first": (None if self._hung_up_by is None
                                          else self._hung_up_by == "customer")}
        judged = ("asked_anything_else", "thanked", "caller_hung_up_first",
                  *(("said_goodbye",) if self._s.require_goodbye else ()))
        missing = [k for k in judged if parts[k] is False]
        self._result = {"ok": not missing, **parts}
        if not missing:
            return []
        return [self.alert(t_end, {"missing": ", ".join(missing)})]

    def summary(self) -> dict[str, Any]:
        return {"closing_ok": self._result.get("ok"),
                "closing": {k: v for k, v in self._result.items() if k != "ok"} or None}
