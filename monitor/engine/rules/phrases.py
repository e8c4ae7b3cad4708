"""``forbidden_phrase`` and ``filler.excess``: what the agent should not say.

Each taboo is a family of patterns for one intent (blaming the caller, refusing responsibility,
hiding behind the rules ...; ``[phrases."taboo.*"]``), matched in characters and by sound, so a
paraphrase or a recogniser's near-homophone still counts; each carries the standard's polite
alternative, which is what the agent hears, and which never matches its taboo. Where the
patterns of two taboos cover the same words, the words count once. Fillers (嗯, 啊, 那个 ...) are
counted in the agent's own speech per minute of agent talk; an agent backchannel inside the
caller's turn, or a filler sound inside a backchannel phrase (嗯嗯), is not a filler.

A taboo is caught while the sentence goes on: in the agreed words of the agent's open phrase
(``PartialUtterance``) as soon as they hold it, stamped at the end of its words (no later than
the audio the decode heard). The phrase's final ``Utterance`` then does not raise it again for
the same occurrence (the same taboo over overlapping word times); a taboo only the final
words hold is raised then, also stamped at the end of its words, so a replay that recognises
each phrase once (``[asr] partials_in_replay``) gives the timeline live gives. The phrase's own
word times are in the evidence either way.
"""

from __future__ import annotations

from typing import Any

from monitor.config import Config, FillerExcessConfig
from monitor.engine.phrase_match import Match, family_matcher, taboo_matchers
from monitor.engine.rules.base import EngineEvent, Rule
from monitor.frames import Filler, PartialUtterance, Record, Utterance


class ForbiddenPhrase(Rule):
    id = "forbidden_phrase"
    summary_keys = ("forbidden",)
    needs_words = frozenset({"forbidden_phrase"})

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self._matchers = taboo_matchers(cfg)
        self._suggestion = {name: cfg.phrases[name].suggestion for name in self._matchers}
        self._found: list[dict[str, Any]] = []
        # Occurrences (taboo family, match) already raised from the open phrase's agreed words.
        self._early: list[tuple[str, Match]] = []

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if not isinstance(ev, Utterance | PartialUtterance) or ev.channel != "agent":
            return []
        words = ev.utterance() if isinstance(ev, PartialUtterance) else ev
        out: list[Record] = []
        for family, m in self._taboos(words):
            if any(f == family and e.start < m.end and m.start < e.end
                   for f, e in self._early):
                continue  # raised already, from the words agreed while it was said
            # Where its words end: as soon as they are agreed (live), or when the phrase's
            # words come in (a replay), the same audio time.
            t = min(m.end, ev.t) if isinstance(ev, PartialUtterance) else m.end
            out.append(self._raise(family, m, t))
            if isinstance(ev, PartialUtterance):
                self._early.append((family, m))
        if isinstance(ev, Utterance):  # the phrase is over: its occurrences are done with
            self._early = [(f, e) for f, e in self._early if e.start >= ev.end]
        return out

    def _raise(self, family: str, m: Match, t: float) -> Record:
        suggestion = self._suggestion[family]
        evidence = {"family": family, "phrase": m.phrase, "heard": m.text,
                    "suggestion": suggestion, "word_start": round(m.start, 3),
                    "word_end": round(m.end, 3)}
        self._found.append({"t": round(m.end, 3), "family": family, "phrase": m.phrase,
                            "heard": m.text, "suggestion": suggestion})
        return self.alert(t, evidence)

    def summary(self) -> dict[str, Any]:
        return {"forbidden": list(self._found)}

    def _taboos(self, ev: Utterance) -> list[tuple[str, Match]]:
        """Every taboo said, in order; of two taboos on overlapping words, the earlier (then
        the closer) one."""
        found = sorted(((m.units[0], m.cost, -m.units[1]), family, m)
                       for family, matcher in self._matchers.items() for m in matcher.find(ev))
        out: list[tuple[str, Match]] = []
        for _, family, m in found:
            if not out or m.units[0] >= out[-1][1].units[1]:
                out.append((family, m))
        return out


class FillerExcess(Rule):
    """Fillers a minute of agent talk, from the words and from the sound.

    The recogniser's fillers are the ``[phrases."filler"]`` family found in agent utterances;
    the acoustic ones are ``Filler`` events (monitor/analysis/fillers.py), which hear the 嗯
    and 啊 that Whisper leaves out, and keep the rule running without a recogniser. A
    recognised filler whose word time overlaps an acoustic one is that filler and counts once,
    whichever arrives first (the sound does: within half a second of its end, the words only
    once the phrase has ended). A filler while the caller speaks is a backchannel, not counted.
    """

    id = "filler.excess"
    summary_keys = ("filler_count",)
    # The acoustic fillers make the check without a recogniser (the 嗯 / 啊 / 呃 that stand
    # alone; 那个 and 就是说 need the words).
    settings = (FillerExcessConfig,)
    agent_voice = frozenset({"filler.excess"})
    analyses = frozenset({Filler})

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self._s = cfg.rules.filler_excess
        self._matcher = family_matcher(cfg, "filler")
        self._bc_max_s = cfg.engine.backchannel_max_s
        self._count = 0
        self._last_alert: float | None = None
        # Fillers of one source that no filler of the other has matched yet: (start, end).
        self._heard: list[tuple[float, float]] = []
        self._written: list[tuple[float, float]] = []

    def on_event(self, ev: EngineEvent) -> list[Record]:
        if isinstance(ev, Filler) and ev.channel == "agent" and not self._backchannel(ev.start):
            if not _claim(self._written, ev.start, ev.end):
                return []  # the recogniser already counted it
            self._heard.append((ev.start, ev.end))
            return self._judge(ev.end, 1, ev.end - ev.start, "", ev.end)
        if not isinstance(ev, Utterance) or ev.channel != "agent":
            return []
        if ev.end - ev.start <= self._bc_max_s and self._backchannel(ev.start):
            return []  # a backchannel (嗯 while the caller talks), not a filler
        fillers = [m for m in self._matcher.find(ev) if _claim(self._heard, m.start, m.end)]
        self._written += [(m.start, m.end) for m in fillers]
        if not fillers:
            return []
        return self._judge(ev.end, len(fillers), ev.end - ev.start,
                           "".join(m.text for m in fillers), fillers[-1].end)

    def _backchannel(self, start: float) -> bool:
        """The caller was speaking during agent sound from ``start``: a 嗯 there is listening."""
        customer_end = self.state.last_end_of.get("customer")
        return "customer" in self.state.speaking or (customer_end is not None
                                                     and customer_end > start)

    def _judge(self, t: float, new: int, span_s: float, tokens: str,
               word_end: float) -> list[Record]:
        """Count ``new`` fillers; alert at ``t`` when the rate is over the limit."""
        self._count += new
        talk_s = self.state.talk_s["agent"]
        per_min = 60.0 * self._count / max(talk_s, span_s, self._s.min_talk_s)
        if per_min <= self._s.max_per_min:
            return []
        if self._last_alert is not None and t - self._last_alert < self._s.cooldown_s:
            return []
        self._last_alert = t
        return [self.alert(t, {"count": self._count, "per_min": round(per_min, 1),
                               "max_per_min": self._s.max_per_min, "tokens": tokens,
                               "word_end": round(word_end, 3)})]

    def summary(self) -> dict[str, Any]:
        return {"filler_count": self._count}


def _claim(pool: list[tuple[float, float]], start: float, end: float) -> bool:
    """Whether [start, end] is a new filler: if it overlaps one in ``pool``, that one is
    taken out (matched) and the answer is no."""
    for i, (s, e) in enumerate(pool):
        if s < end and start < e:
            del pool[i]
            return False
    return True
