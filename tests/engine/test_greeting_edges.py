"""The greeting's edges on exact engine events (mutation survivors of greeting.py, issue #16).

What the greeting is comes from the rule's docstring and ``[rules."greeting.incomplete"]``:
what the agent says before the caller first speaks, at most ``window_s`` after pickup; it must
greet, name the company and the agent, and must not open with 喂. Times sit exactly on each
edge (just below / at / just above: one 20 ms step); the window comes from the shipped
configuration. No audio, no models.
"""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.frames import (
    FRAME_S,
    Alert,
    CallEvent,
    PartialUtterance,
    Speech,
    SpeechStart,
    Utterance,
)
from testkit.engine_feed import feed, talk

CFG = load_config("zh-CN", {"company": "诚美", "agent_name": "小王"})
WINDOW_S = CFG.rules.greeting_incomplete.window_s
GAP = CFG.asr.phrase_gap_s  # the pause that closes a phrase: a later sound is a new phrase
D = FRAME_S
SIDES = (-D, 0.0, D)  # below, at, above an edge


def run(events, t_end):
    return feed(Engine(CFG, ("agent", "customer")), events, t_end)


def greeting_alerts(out):
    return [(a.t, a.evidence) for a in out
            if isinstance(a, Alert) and a.rule == "greeting.incomplete"]


def test_a_bad_opening_with_nothing_missing_names_no_missing_part():
    # Pins the evidence of an alert raised only by the opening: 喂 first, then every part
    # (greeting, company, name). "missing" says none is missing with "-", as "bad_opening"
    # does when there is no bad opening.
    said = "喂，您好，诚美客服，我是小王"
    out = run([*talk("agent", 2.0, 5.0, said), *talk("customer", 6.0, 7.0, "我想查话费")], 8.0)
    assert greeting_alerts(out) == [(5.0, {"missing": "-", "bad_opening": "喂", "text": said})]
    assert out[-1].fields["greeting"] == {"greeting": True, "company": True, "agent_name": True,
                                          "bad_opening": "喂"}


@pytest.mark.parametrize("d", SIDES)
def test_words_starting_window_s_after_pickup_are_still_the_greeting(d):
    # Pins the window's end: the greeting is what is said "at most window_s after pickup", so
    # words starting exactly window_s after the softphone's answer (or earlier) are the
    # greeting; starting later, nothing was said in the window: no greeting at all, alerted at
    # the window's end.
    answer = 1.0
    start = answer + WINDOW_S + d
    out = run([CallEvent(answer, "answer"),
               *talk("agent", start, start + 3.0, "您好，诚美客服，我是小王"),
               *talk("customer", start + 4.0, start + 5.0, "我想查话费")], start + 6.0)
    if d <= 0:
        assert greeting_alerts(out) == []
        assert out[-1].fields["greeting_ok"] is True
    else:
        assert greeting_alerts(out) == [(answer + WINDOW_S, {
            "missing": "greeting, company, agent_name", "bad_opening": "-", "text": ""})]
        assert out[-1].fields["greeting_ok"] is False


def test_a_greeting_in_two_phrases_is_judged_on_both_when_the_second_arrives():
    # Pins three things of a greeting the agent says in two phrases, the caller starting while
    # the second still goes on (its first segment heard, its words not yet in):
    # - the first phrase's agreed words are replaced by its utterance and then forgotten, so
    #   the wait for the second phrase's words is a plain wait;
    # - the greeting is judged when those words arrive, ending where they end;
    # - the evidence text is the two utterances as said, joined with nothing between.
    first, second = "您好，诚美客服", "请问有什么可以帮您"
    again = 4.0 + GAP + 0.2  # the second phrase: two segments, one utterance
    events = [*talk("agent", 2.0, 4.0),
              PartialUtterance("agent", 2.0, 3.0, "您好", (), settled=False),
              Utterance("agent", 2.0, 4.0, first),
              SpeechStart("agent", again), Speech("agent", again, again + 0.6),
              SpeechStart("agent", again + 0.8), Speech("agent", again + 0.8, again + 1.6),
              Utterance("agent", again, again + 1.6, second),
              *talk("customer", again + 1.1, again + 2.6, "我想查话费")]
    out = run(events, again + 3.0)
    assert greeting_alerts(out) == [(again + 1.6, {"missing": "agent_name", "bad_opening": "-",
                                           "text": first + second})]


@pytest.mark.parametrize("d", SIDES)
def test_agent_words_starting_as_the_caller_starts_are_not_the_greeting(d):
    # Pins the caller's start as the greeting's end: the greeting is what the agent says
    # *before* the caller first speaks. The agent greets and names the company, makes a sound
    # the recogniser gives no words for (so the words do not yet cover the agent's speech when
    # the caller starts), then says their name starting d from the caller's start. Before it,
    # the name is part of the greeting; at or after it, it is not: the greeting lacks the
    # name, judged once its window and a phrase gap have passed, ending with its words.
    sound = 4.0 + GAP  # a phrase of its own
    caller = sound + 1.8
    events = [*talk("agent", 2.0, 4.0, "您好，诚美客服"), *talk("agent", sound, sound + 0.4),
              *talk("customer", caller, caller + 2.0, "我想查话费"),
              *talk("agent", caller + d, caller + 1.0, "我是小王")]
    out = run(events, 2.0 + WINDOW_S + CFG.asr.phrase_gap_s + 1.0)
    if d < 0:
        assert greeting_alerts(out) == []
        assert out[-1].fields["greeting_ok"] is True
    else:
        assert greeting_alerts(out) == [(4.0, {"missing": "agent_name", "bad_opening": "-",
                                               "text": "您好，诚美客服"})]
