"""``forbidden_phrase`` and ``filler.excess``: what the agent should not say.

Taboo phrases (你找谁, 我不知道 ...) are matched in characters and pinyin, so a homophone from
the recogniser still counts, and each carries the standard's polite alternative, which is what
the agent hears. The polite alternatives themselves never match a taboo they contain (请问有什么
事可以帮您 contains 有什么事). Fillers (嗯, 啊, 那个 ...) are counted in the agent's own speech
per minute of agent talk; an agent backchannel inside the caller's turn is not a filler.

A taboo is caught while the sentence goes on: in the agreed words of the agent's open phrase
(``PartialUtterance``) as soon as they hold it, stamped at the end of its words (no later than
the audio the decode heard). The phrase's final ``Utterance`` then does not raise it again for
the same occurrence (the same phrase over overlapping word times); a taboo only the final
words hold is raised then, stamped at the end of the utterance, the moment the recogniser could
know it was said. The phrase's own word times are in the evidence either way.
"""

from __future__ import annotations

from typing import Any

from monitor.config import Config, FillerExcessConfig, ForbiddenPhraseConfig
from monitor.engine.phrase_match import Match, PhraseMatcher
from monitor.engine.rules.base import EngineEvent, Rule
from monitor.frames import PartialUtterance, Record, Utterance


class ForbiddenPhrase(Rule):
    id = "forbidden_phrase"
    summary_keys = ("forbidden",)
    settings = (ForbiddenPhraseConfig,)

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        s = cfg.rules.forbidden_phrase
        self._suggestion = {p.phrase: p.suggestion for p in s.pairs}
        self._polite = set(s.polite) | set(self._suggestion.values())
        self._matcher = PhraseMatcher(list(self._suggestion), cfg.language,
                                      exclusions=sorted(self._polite))
        self._found: list[dict[str, Any]] = []
        # Occurrences already raised from the open phrase's agreed words.
        self._early: list[Match] = []

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if not isinstance(ev, Utterance | PartialUtterance) or ev.channel != "agent":
            return []
        words = ev.utterance() if isinstance(ev, PartialUtterance) else ev
        out: list[Record] = []
        for m in self._matcher.find(words):
            if any(e.phrase == m.phrase and e.start < m.end and m.start < e.end
                   for e in self._early):
                continue  # raised already, from the words agreed while it was said
            t = min(m.end, ev.t) if isinstance(ev, PartialUtterance) else ev.end
            out.append(self._raise(m, t))
            if isinstance(ev, PartialUtterance):
                self._early.append(m)
        if isinstance(ev, Utterance):  # the phrase is over: its occurrences are done with
            self._early = [e for e in self._early if e.start >= ev.end]
        return out

    def _raise(self, m: Match, t: float) -> Record:
        evidence = {"phrase": m.phrase, "heard": m.text, "suggestion":
                    self._suggestion[m.phrase], "word_start": round(m.start, 3),
                    "word_end": round(m.end, 3)}
        self._found.append({"t": round(m.end, 3), "phrase": m.phrase,
                            "suggestion": self._suggestion[m.phrase]})
        return self.alert(t, evidence)

    def summary(self) -> dict[str, Any]:
        return {"forbidden": list(self._found)}


class FillerExcess(Rule):
    id = "filler.excess"
    summary_keys = ("filler_count",)
    settings = (FillerExcessConfig,)

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self._s = cfg.rules.filler_excess
        self._matcher = PhraseMatcher(self._s.tokens, cfg.language)
        self._bc_max_s = cfg.engine.backchannel_max_s
        self._count = 0
        self._last_alert: float | None = None

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if not isinstance(ev, Utterance) or ev.channel != "agent":
            return []
        if ev.end - ev.start <= self._bc_max_s:
            return []  # a backchannel (嗯 while the caller talks), not a filler
        fillers = self._matcher.find(ev)
        self._count += len(fillers)
        talk_s = self.state.talk_s["agent"]
        per_min = 60.0 * self._count / max(talk_s, ev.end - ev.start, self._s.min_talk_s)
        if not fillers or per_min <= self._s.max_per_min:
            return []
        t = ev.end
        if self._last_alert is not None and t - self._last_alert < self._s.cooldown_s:
            return []
        self._last_alert = t
        return [self.alert(t, {"count": self._count, "per_min": round(per_min, 1),
                               "max_per_min": self._s.max_per_min,
                               "tokens": "".join(m.text for m in fillers),
                               "word_end": round(fillers[-1].end, 3)})]

    def summary(self) -> dict[str, Any]:
        return {"filler_count": self._count}
