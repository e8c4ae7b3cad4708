"""When the greeting is judged and where its alert is stamped (mutation survivors of
greeting.py's timing, issue #16).

From the rule's docstring: the greeting is judged when the caller starts to speak, once the
recogniser has delivered the words of everything the agent said before; with words and no
caller, once its window (``window_s``) and a phrase gap (``[asr] phrase_gap_s``) after it have
passed. The agreed words of an open phrase count when, settled, they cover the agent's speech.
These look at the step each alert comes in (``feed_steps``), which a live hint follows.
"""

from __future__ import annotations

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
    Word,
)
from testkit.engine_feed import HANDOVER_S, feed, feed_steps, step_of, talk

CFG = load_config("zh-CN", {"company": "诚美", "agent_name": "小王"})
WINDOW_S = CFG.rules.greeting_incomplete.window_s
GAP = CFG.asr.phrase_gap_s


def greeting_steps(events, t_end):
    """(step, alert) of each greeting.incomplete alert and the summary's greeting_ok."""
    steps = list(feed_steps(Engine(CFG, ("agent", "customer")), events, t_end))
    found = [(round(t, 3), r) for t, records in steps for r in records
             if isinstance(r, Alert) and r.rule == "greeting.incomplete"]
    return found, steps[-1][1][-1].fields["greeting_ok"]


def test_with_no_caller_the_greeting_is_judged_the_step_after_its_window_and_a_gap():
    # Pins the tick's judgement: the agent greets without the agent's name and the caller
    # never speaks. At the step ending exactly window_s + phrase_gap_s after pickup nothing
    # is judged yet ("once ... have passed"); at the next step the greeting is judged,
    # stamped where its words end.
    pickup = 2.0
    due = pickup + WINDOW_S + GAP
    k = round(due / FRAME_S)
    assert k * FRAME_S == due  # a step ends exactly there
    found, ok = greeting_steps(talk("agent", pickup, pickup + 2.0, "您好，诚美客服"), due + 1.0)
    assert [(step, a.t, a.evidence["missing"]) for step, a in found] == [
        (round(due + FRAME_S, 3), pickup + 2.0, "agent_name")]
    assert ok is False


def test_the_greeting_is_judged_as_the_caller_starts_when_its_words_are_in():
    # Pins the judgement at the caller's start: the words of all the agent said are in
    # (its segment ended at 5 s, the words with it), so the alert comes at the caller's step,
    # not later.
    caller = 7.0
    events = [*talk("agent", 2.0, 5.0, "您好，诚美客服"), *talk("customer", caller, 9.0)]
    found, _ = greeting_steps(events, 10.0)
    assert [(step, a.t) for step, a in found] == [(caller, 5.0)]


def test_agreed_words_short_of_the_agents_speech_wait_for_the_phrase():
    # Pins "settled words cover the agent's speech": the agent's second phrase has a segment
    # heard (ending at `b_end`) but its agreed words reach only `heard` < b_end, then
    # the caller starts. Judging now would miss the agent's name said after `heard`; the
    # greeting waits for the phrase's utterance, which has it: complete, no alert.
    second = 4.0 + GAP + 0.2
    heard, b_end = second + 0.4, second + 0.6
    events = [*talk("agent", 2.0, 4.0, "您好，诚美客服"),
              SpeechStart("agent", second), Speech("agent", second, b_end),
              PartialUtterance("agent", second, heard, "我是", (), settled=True),
              SpeechStart("agent", b_end + 0.2), Speech("agent", b_end + 0.2, b_end + 1.0),
              Utterance("agent", second, b_end + 1.0, "我是小王"),
              *talk("customer", b_end + 0.5, b_end + 2.0)]
    found, ok = greeting_steps(events, b_end + 3.0)
    assert found == [] and ok is True


def test_agreed_words_judged_alone_are_stamped_within_their_phrase():
    # Pins the stamp of a judgement on agreed words: the agent's first sound (the pickup)
    # has no words; the greeting's phrase is still going on when the caller starts and its
    # settled words lack the agent's name. Words agreed up to just before the caller's start
    # do not cover the speech before it (the name may be in between): the judgement waits
    # for words heard past the caller's start, and the alert ends where those were heard up
    # to, not at the end of the earlier sound, before the greeting was said.
    phrase = 2.5 + GAP + 0.3
    heard = phrase + 2.0
    events = [*talk("agent", 2.0, 2.5),
              SpeechStart("agent", phrase),
              PartialUtterance("agent", phrase, heard, "您好，诚美客服", (), settled=True),
              *talk("customer", heard + 0.2, heard + 2.0),
              PartialUtterance("agent", phrase, heard + 0.3, "您好，诚美客服", (), settled=True)]
    found, _ = greeting_steps(events, heard + 3.0)
    assert [(step, a.t, a.evidence["missing"]) for step, a in found] == [
        (round(heard + 0.3, 3), round(heard + 0.3, 3), "agent_name")]


def test_agreed_words_short_of_an_agent_segment_still_open_as_the_caller_starts_wait():
    # The agent greets from 2 s to 6 s; decodes agreed on 您好 up to 3 s (settled), and the
    # caller starts at 4 s while the agent still talks. The words before the caller's start
    # are not all in: the greeting waits for the phrase's words, and is complete.
    events = [*talk("agent", 2.0, 6.0, "您好，诚美客服，我是小王"),
              PartialUtterance("agent", 2.0, 3.0, "您好", (Word(2.0, 3.0, "您好", 0.9),), True),
              *talk("customer", 4.0, 6.0)]
    out = feed(Engine(load_config("zh-CN", {"company": "诚美", "agent_name": "小王"}),
                      ("agent", "customer")), events, 8.0)
    assert [a for a in out if isinstance(a, Alert) and a.rule == "greeting.incomplete"] == []
    assert out[-1].fields["greeting_ok"] is True


def test_the_agents_speech_end_handed_over_after_the_callers_start_lets_agreed_words_judge():
    # The agent stops at 3.9 s, the caller starts at 4.0 s while the agent's segment is still
    # open (it is handed over one hangover later, at 4.2 s). Words agreed up to 3.95 s do not
    # reach the caller's start, so the greeting waits; once the segment's end (3.9 s) is in,
    # they cover all the agent said before the caller, and the greeting is judged then,
    # without waiting for the phrase's utterance (none comes here).
    said = "您好，诚美客服，我是小王"
    events = [*talk("agent", 2.0, 3.9),
              PartialUtterance("agent", 2.0, 3.95, said, (Word(2.0, 3.9, said, 0.9),), True),
              *talk("customer", 4.0, 6.0)]
    steps = list(feed_steps(Engine(load_config("zh-CN", {"company": "诚美", "agent_name": "小王"}),
                                   ("agent", "customer")), events, 8.0))
    judged = [t for t, records in steps if any(isinstance(r, Alert) for r in records)]
    assert judged == []
    assert steps[-1][1][-1].fields["greeting_ok"] is True


def test_the_agents_speech_end_handed_over_after_the_callers_start_is_what_judges():
    # As above, but the agreed words lack the agent's name, so the judgement shows: it comes
    # at the step the agent's segment end is handed over (3.9 s + one hangover), stamped
    # where the agent stopped, not when the caller's segment ends two seconds later.
    said = "您好，诚美客服"
    events = [*talk("agent", 2.0, 3.9),
              PartialUtterance("agent", 2.0, 3.95, said, (Word(2.0, 3.9, said, 0.9),), True),
              *talk("customer", 4.0, 6.0)]
    found, ok = greeting_steps(events, 8.0)
    assert [(step, a.t, a.evidence["missing"]) for step, a in found] == [
        (step_of(3.9 + HANDOVER_S), 3.9, "agent_name")]
    assert ok is False


def test_an_agent_segment_starting_with_the_caller_is_not_speech_before_the_caller():
    # The agent greets from 2 s to 4 s (without the name) and starts again at 6 s, at the
    # very instant the caller does. Only the first segment was said before the caller, and
    # its words are in: the greeting is judged as the caller starts.
    events = [*talk("agent", 2.0, 4.0, "您好，诚美客服"),
              SpeechStart("agent", 6.0), SpeechStart("customer", 6.0),
              Speech("agent", 6.0, 7.0), Speech("customer", 6.0, 7.5)]
    found, _ = greeting_steps(events, 9.0)
    assert [(step, a.t) for step, a in found] == [(6.0, 4.0)]


def test_a_caller_heard_before_the_agents_first_sound_has_not_answered_a_greeting():
    # The softphone answers at 1 s and the caller says 喂？ before the agent makes a sound;
    # the agent then greets without the name, and the caller replies at 5 s. The greeting
    # is what the agent said before that reply: judged as the caller replies, stamped where
    # the greeting's words end.
    events = [CallEvent(1.0, "answer"), *talk("customer", 1.3, 1.8),
              *talk("agent", 2.2, 4.5, "您好，诚美客服"), *talk("customer", 5.0, 7.0)]
    found, ok = greeting_steps(events, 9.0)
    assert [(step, a.t, a.evidence["missing"]) for step, a in found] == [
        (5.0, 4.5, "agent_name")]
    assert ok is False


def test_a_caller_starting_with_the_agents_first_sound_has_not_answered_a_greeting():
    # The agent's first sound (the pickup) and the caller's start come at the same instant:
    # the caller did not hear a greeting first. The greeting said then counts, and is
    # judged at the caller's next start.
    events = [SpeechStart("agent", 2.0), *talk("customer", 2.0, 2.5),
              Speech("agent", 2.0, 4.0), Utterance("agent", 2.0, 4.0, "您好，诚美客服，我是小王"),
              *talk("customer", 5.0, 6.0)]
    found, ok = greeting_steps(events, 8.0)
    assert found == [] and ok is True
