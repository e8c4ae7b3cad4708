"""filler.excess on hand-made events: acoustic fillers (``Filler``) merged with the
recogniser's (filler tokens in an ``Utterance``'s words), an overlapping pair counted once."""

from __future__ import annotations

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.frames import Alert, Filler, Speech, SpeechStart, Summary, Utterance, Word


def feed(events, channels=("agent", "customer")):
    engine = Engine(load_config("zh-CN"), channels)
    out = []
    for ev in events:
        out += engine.on_event(ev)
    t_end = max(getattr(ev, "end", ev.t) for ev in events) + 1.0
    out += engine.finish(t_end, {})
    summary = out[-1]
    assert isinstance(summary, Summary)
    return [r for r in out if isinstance(r, Alert) and r.rule == "filler.excess"], summary.fields


def words(start, text):
    """One Word a character, 0.3 s each from ``start``."""
    return tuple(Word(start + 0.3 * i, start + 0.3 * (i + 1), ch, 0.9)
                 for i, ch in enumerate(text))


def agent_phrase(start, text, fillers=()):
    """An agent phrase, the acoustic fillers heard in it (before its words arrive, as in the
    pipeline), then its utterance."""
    end = start + 0.3 * len(text)
    return [SpeechStart("agent", start), *fillers, Speech("agent", start, end),
            Utterance("agent", start, end, text, words(start, text))]


def test_a_filler_both_heard_and_recognised_counts_once():
    # 嗯 is the first word (1.0-1.3 s); the detector heard it at 1.05-1.4.
    _, summary = feed(agent_phrase(1.0, "嗯您好请讲", [Filler("agent", 1.05, 1.4)]))
    assert summary["filler_count"] == 1


def test_fillers_only_heard_and_only_recognised_add_up():
    # The recogniser wrote 嗯 at 1.0-1.3; the detector heard another filler at 2.6-3.0 that
    # the recogniser left out.
    _, summary = feed(agent_phrase(1.0, "嗯您好请讲一下", [Filler("agent", 2.6, 3.0)]))
    assert summary["filler_count"] == 2


def test_acoustic_fillers_alone_fire_without_a_recogniser():
    # A mono call with no recogniser: six fillers in 20 s of agent talk (min_talk_s 60 s: more
    # than 4 a minute from the fifth on); the alert comes at the fifth filler's end.
    events = [SpeechStart("agent", 0.5)]
    events += [Filler("agent", 1.0 + 3 * i, 1.5 + 3 * i) for i in range(6)]
    events.append(Speech("agent", 0.5, 20.5))
    alerts, summary = feed(events, channels=("agent",))
    assert summary["filler_count"] == 6
    assert [a.t for a in alerts] == [13.5]
    assert alerts[0].evidence["count"] == 5


def test_an_acoustic_filler_while_the_caller_speaks_is_a_backchannel():
    events = [SpeechStart("customer", 1.0), Filler("agent", 2.0, 2.4),
              Speech("customer", 1.0, 6.0), SpeechStart("agent", 7.0),
              Filler("agent", 7.0, 7.5), Speech("agent", 7.0, 9.0)]
    _, summary = feed(events)
    assert summary["filler_count"] == 1
