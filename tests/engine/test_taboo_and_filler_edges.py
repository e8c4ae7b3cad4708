"""``forbidden_phrase`` and ``filler.excess`` at their edges (issue #16's mutation survivors):
two taboos on the same words, a taboo raised from agreed words and met again in the final
ones, fillers heard and recognised that touch or arrive out of order, and the rate's divisor.

Exact engine events; phrases and limits from the shipped zh-CN profile. The truth is the
module docstring of monitor/engine/rules/phrases.py and README's rule table: where two taboos
cover the same words the words count once; a taboo raised from the agreed words of an open
phrase is not raised again by its final words for the same occurrence (the same taboo over
overlapping word times), and is stamped at the end of its words, no later than the audio the
decode heard; a recognised filler whose word time overlaps an acoustic one counts once,
whichever arrives first; fillers are counted a minute of agent talk, over at least
``min_talk_s`` of it; an agent segment no longer than ``backchannel_max_s`` inside the
caller's turn is a backchannel, not a filler.
"""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.frames import (
    Alert,
    Filler,
    PartialUtterance,
    Speech,
    SpeechStart,
    Summary,
    Utterance,
    Word,
)
from testkit.engine_feed import feed, talk

CFG = load_config("zh-CN")
FILLER = CFG.rules.filler_excess
BC_MAX_S = CFG.engine.backchannel_max_s


def words(text, start, step=0.25):
    """One Word a character, ``step`` s each from ``start``."""
    return tuple(Word(start + i * step, start + (i + 1) * step, c, 0.9)
                 for i, c in enumerate(text))


def said(text, start, step=0.25):
    """An agent phrase with its words, as the engine hears it (speech, then the words)."""
    end = start + step * len(text)
    return [SpeechStart("agent", start), Speech("agent", start, end),
            Utterance("agent", start, end, text, words(text, start, step))]


def in_order(events, cfg=CFG):
    """Every record for ``events`` handed to the engine in the order given (for arrival
    orders the pipeline's usual timing does not give), the summary last."""
    engine = Engine(cfg, ("agent", "customer"))
    out = [r for ev in events for r in engine.on_event(ev)]
    t_end = max(getattr(ev, "end", ev.t) for ev in events) + 1.0
    return out + engine.finish(t_end, {})


def alerts(out, rule):
    return [a for a in out if isinstance(a, Alert) and a.rule == rule]


def taboos(out):
    """(time, family, heard) of each forbidden_phrase alert."""
    return [(a.t, a.evidence["family"], a.evidence["heard"])
            for a in alerts(out, "forbidden_phrase")]


def filler_count(out):
    assert isinstance(out[-1], Summary)
    return out[-1].fields["filler_count"]


# --- two taboos on the same words --------------------------------------------------------------

def test_of_two_taboos_starting_on_the_same_word_the_longer_one_is_raised():
    # Pins the order between taboos on the same words: 规矩就是这样的 is company_rules
    # (规矩就是这样[的], 7 characters) and always_done (规矩就是这样, 6). Both start on the first
    # character at no cost, so, as between one family's matches (PhraseMatcher.find: the
    # earlier, then the cheaper, then the longer), the longer is raised, once.
    out = in_order(said("规矩就是这样的", 1.0))
    assert taboos(out) == [(2.75, "taboo.company_rules", "规矩就是这样的")]


def test_taboos_overlapping_a_raised_one_that_end_with_it_count_once():
    # Pins "the words count once": in 这不关我什么事, not_responsible (不关我什么事) starts first;
    # your_business (关我什么事) and what_matter (我什么事) lie inside it, ending with it.
    out = in_order(said("这不关我什么事", 1.0))
    assert taboos(out) == [(2.75, "taboo.not_responsible", "不关我什么事")]


# --- taboos raised from agreed words -----------------------------------------------------------

def agreed(text, start, t, word_times=True):
    """The agreed words of the agent's open phrase, heard up to ``t`` (``word_times=False``: a
    recogniser that gives no word times, so the phrase's own times are used)."""
    return PartialUtterance("agent", start, t, text, words(text, start) if word_times else (),
                            False)


def test_the_same_taboo_said_again_right_after_the_raised_one_is_raised_again():
    # Pins "for the same occurrence": 你是谁 (3.0-3.75) is raised from the agreed words; the
    # final words add 你找谁 (3.75-4.5), the same family on the next words (touching, not
    # overlapping): a new occurrence, raised at its end.
    text = "你是谁你找谁"
    out = in_order([SpeechStart("agent", 3.0), agreed("你是谁", 3.0, 3.8),
                    Speech("agent", 3.0, 4.5),
                    Utterance("agent", 3.0, 4.5, text, words(text, 3.0))])
    assert taboos(out) == [(3.75, "taboo.who", "你是谁"), (4.5, "taboo.who", "你找谁")]


def test_a_taboo_only_the_final_words_hold_just_before_the_raised_one_is_raised():
    # Pins the other side of "overlapping word times": the agreed words held 他是谁你找谁 (你找谁
    # raised, 3.75-4.5); the final decode heard 你是谁你找谁: 你是谁 (3.0-3.75) ends where the
    # raised one starts, so it is a taboo only the final words hold, raised at its end.
    out = in_order([SpeechStart("agent", 3.0), agreed("他是谁你找谁", 3.0, 4.6),
                    Speech("agent", 3.0, 4.5),
                    Utterance("agent", 3.0, 4.5, "你是谁你找谁", words("你是谁你找谁", 3.0))])
    assert taboos(out) == [(4.5, "taboo.who", "你找谁"), (3.75, "taboo.who", "你是谁")]


@pytest.mark.parametrize(("word_times", "t", "stamped", "word_end"), [
    # the last word's time reaches past the audio the decode heard (3.7 s): stamped at 3.7
    (True, 3.7, 3.7, 3.75),
    # no word times: the taboo's words are the agreed phrase's, from its start to t
    (False, 4.0, 4.0, 4.0),
], ids=["word-past-heard-audio", "no-word-times"])
def test_a_taboo_in_agreed_words_is_stamped_no_later_than_the_audio_heard(
        word_times, t, stamped, word_end):
    # Pins the stamp of an early taboo: the end of its words, but no later than the audio the
    # decode heard (t); the evidence keeps the words' own end. The final words (same times)
    # do not raise it again.
    out = in_order([SpeechStart("agent", 3.0), agreed("你找谁", 3.0, t, word_times),
                    Speech("agent", 3.0, 4.2), Utterance("agent", 3.0, 4.2, "你找谁")])
    found = alerts(out, "forbidden_phrase")
    assert [(a.t, a.evidence["word_start"], a.evidence["word_end"]) for a in found] == [
        (stamped, 3.0, word_end)]


def test_a_taboo_raised_early_in_the_phrase_after_a_cut_is_not_raised_again():
    # Pins which raised occurrences a phrase's final words let go: those starting at or after
    # its end belong to the next phrase. The agent talks without a pause from 0 s; the first
    # phrase is cut at 15 s and the next opens there; 你找谁 is agreed in the next phrase from
    # 15.0 s before the first phrase's words come back (a background decode). The next
    # phrase's final words then hold the same occurrence: one alert.
    first = "我帮您查询一下" * 8 + "订单"  # 58 characters, 0-14.5 s
    second = "你找谁呀我帮您转一下"
    out = in_order([SpeechStart("agent", 0.0), agreed("你找谁", 15.0, 16.0),
                    Utterance("agent", 0.0, 15.0, first, words(first, 0.0)),
                    Speech("agent", 0.0, 17.5),
                    Utterance("agent", 15.0, 17.5, second, words(second, 15.0))])
    assert taboos(out) == [(15.75, "taboo.who", "你找谁")]


def test_a_taboo_in_each_of_two_phrases_is_raised_in_each():
    # Pins that one phrase's end does not end the rule: a taboo in the first phrase and one
    # in the second, each raised at the end of its words.
    out = in_order([*said("你是谁", 1.0), *said("这不关我的事", 5.0)])
    assert taboos(out) == [(1.75, "taboo.who", "你是谁"),
                           (6.5, "taboo.not_responsible", "不关我的事")]


# --- fillers heard and recognised --------------------------------------------------------------

def test_fillers_that_only_touch_are_different_fillers():
    # Pins "overlaps": the detector heard 嗯 at 10.0-10.4 that the recogniser left out; the
    # recogniser wrote 呃 ending at 10.0 and 额 starting at 10.4. Touching is not overlapping:
    # three fillers.
    text = "呃额我帮您看一下"
    ws = (Word(9.7, 10.0, "呃", 0.9), Word(10.4, 10.7, "额", 0.9),
          *words(text[2:], 10.7, 0.3))
    end = ws[-1].end
    out = feed(Engine(CFG, ("agent", "customer")),
               [SpeechStart("agent", 9.7), Filler("agent", 10.0, 10.4),
                Speech("agent", 9.7, end), Utterance("agent", 9.7, end, text, ws)], end + 1.0)
    assert filler_count(out) == 3


def test_a_filler_heard_after_its_words_came_still_counts_once():
    # Pins "whichever arrives first": two phrases' words come (呃 at 1.0-1.25, 嗯 at
    # 5.0-5.25), then the detector's fillers for both (an analysis running late). Each sound
    # overlaps a recognised filler: two fillers, not four (nor three).
    out = in_order([*said("呃您好请讲", 1.0), *said("嗯我看一下", 5.0),
                    Filler("agent", 1.05, 1.3), Filler("agent", 5.05, 5.3)])
    assert filler_count(out) == 2


@pytest.mark.parametrize("length", [0.8, BC_MAX_S], ids=["shorter", "exactly"])
def test_an_agent_filler_as_short_as_a_backchannel_inside_the_callers_turn_is_none(length):
    # Pins "no longer than backchannel_max_s": the agent says 嗯 (recognised, no sound filler
    # heard) in a segment of `length` s at 5 s, inside the caller's 0-10 s: a backchannel.
    events = [*talk("customer", 0.0, 10.0), *talk("agent", 5.0, 5.0 + length, "嗯")]
    out = feed(Engine(CFG, ("agent", "customer")), events, 11.0)
    assert filler_count(out) == 0
    assert alerts(out, "filler.excess") == []


def test_recognised_fillers_over_the_limit_alert_with_their_words():
    # Pins the alert of recognised fillers: an agent phrase at 40-48 s with five fillers
    # (呃 喔 唔 呃 额) in 8 s of talk: 5 a minute over min_talk_s, more than max_per_min;
    # alerted as the phrase ends, with the fillers' words and where the last one ends.
    assert FILLER.min_talk_s == 60.0 and FILLER.max_per_min == 4.0
    text = "呃您好喔请问唔有什么呃可以额帮您"
    out = in_order(said(text, 40.0, 0.5))
    found = alerts(out, "filler.excess")
    assert [(a.t, a.evidence) for a in found] == [
        (48.0, {"count": 5, "per_min": 5.0, "max_per_min": 4.0, "tokens": "呃喔唔呃额",
                "word_end": 47.0})]


@pytest.mark.parametrize("fillers", [1, 2])
def test_fillers_in_a_phrase_cut_while_the_agent_talks_on_are_per_minute_of_that_talk(fillers):
    # Pins the divisor when the words come before the agent's speech has ended (a phrase cut
    # at max_phrase_s while the agent talks on): the agent has talked the phrase's 15 s,
    # more than a site's min_talk_s of 5 s. One filler in 15 s is 4 a minute (not more than
    # max_per_min); two are 8: alerted as the phrase's words end.
    cfg = load_config("zh-CN", {"rules": {"filler.excess": {"min_talk_s": 5.0}}})
    assert cfg.rules.filler_excess.max_per_min == 4.0
    with_filler, plain = "呃我帮您查询一下订单", "我帮您查询一下订单好"
    text = with_filler * fillers + plain * (3 - fillers)  # 30 characters, 0.5 s each
    events = [SpeechStart("agent", 0.0),
              Utterance("agent", 0.0, 15.0, text, words(text, 0.0, 0.5)),
              Speech("agent", 0.0, 20.0)]
    out = in_order(events, cfg)
    assert filler_count(out) == fillers
    assert [(a.t, a.evidence["per_min"]) for a in alerts(out, "filler.excess")] == (
        [(15.0, 8.0)] if fillers == 2 else [])


def test_a_short_agent_filler_in_silence_is_a_filler():
    # Only a 嗯 while the caller speaks is a backchannel: the same short recognised 嗯 (no
    # sound filler heard) after the caller has finished is a filler, counted once.
    events = [*talk("customer", 0.0, 4.0), *talk("agent", 5.0, 5.0 + BC_MAX_S, "嗯")]
    out = feed(Engine(CFG, ("agent", "customer")), events, 7.0)
    assert filler_count(out) == 1
