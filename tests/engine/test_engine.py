"""The engine on hand-made events: known inputs, exact expected records, milliseconds to run."""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.engine.core import NO_WORDS_WHY, Engine
from monitor.engine.rules import RULES
from monitor.engine.turns import build_turns
from monitor.frames import (
    Alert,
    CallEvent,
    PartialUtterance,
    Pickup,
    Ring,
    Speech,
    SpeechStart,
    Utterance,
    Word,
)
from testkit.engine_feed import feed, talk

CONTRACT_KEYS = {
    "rings_before_pickup", "pickup_t", "greeting_ok", "apology_ok", "holds", "agent_rate_cpm",
    "filler_count", "interruptions", "backchannel_gaps", "forbidden", "dead_air", "closing_ok",
    "talk_ratio_agent", "longest_customer_turn_s", "score", "alerts_by_rule", "rules_skipped",
}


def run(events, t_end, channels=("agent", "customer"), profile="zh-CN", *, words=True,
        rules=RULES, **overrides):
    """Feed events as the pipeline does (``words=False``: no recogniser, as with ``--asr
    none``)."""
    return feed(Engine(load_config(profile, overrides), channels, rules, words=words), events,
                t_end)


def test_dead_air_fires_when_the_silence_reaches_the_limit_and_records_its_length():
    events = [*talk("agent", 1.0, 3.0), *talk("customer", 3.5, 5.0), *talk("agent", 12.0, 13.0)]
    out = run(events, 15.0)
    alerts = [r for r in out if isinstance(r, Alert)]
    assert [(a.rule, a.t) for a in alerts] == [("dead_air", 10.0)]
    assert alerts[0].say == "请回应客户"
    summary = out[-1].fields
    assert summary["dead_air"] == [{"start": 5.0, "end": 12.0, "duration_s": 7.0}]
    assert summary["alerts_by_rule"] == {"dead_air": 1}


def test_silence_just_under_the_limit_is_not_dead_air():
    events = [*talk("agent", 1.0, 3.0), *talk("customer", 7.9, 9.0)]
    out = run(events, 10.0)
    assert not [r for r in out if isinstance(r, Alert)]
    assert out[-1].fields["dead_air"] == []


def test_silence_before_the_agent_answers_is_ringing_not_dead_air():
    events = [Ring(0.5, 1.5, 450.0), Ring(5.5, 6.5, 450.0), *talk("agent", 12.0, 14.0)]
    out = run(events, 15.0)
    assert not [r for r in out if isinstance(r, Alert)]
    pickups = [r for r in out if isinstance(r, Pickup)]
    assert pickups == [Pickup(12.0, 2)]
    assert out[-1].fields["rings_before_pickup"] == 2
    assert out[-1].fields["pickup_t"] == 12.0


def test_dead_air_counts_from_a_softphone_answer_the_agent_leaves_silent():
    """Answered by the softphone at 1.0, the caller hears nothing until the agent's first
    words at 9.0: dead air from the pickup (it used to wait for the agent's first words).
    Those words are the answer, not a return from an unannounced hold, apology or not."""
    events = [CallEvent(1.0, "answer"), *talk("agent", 9.0, 12.0, "对不起，让您久等了"),
              *talk("customer", 12.5, 14.0)]
    out = run(events, 15.0)
    assert [t for t, _ in alerts(out, "dead_air")] == [6.0]
    assert out[-1].fields["dead_air"] == [{"start": 1.0, "end": 9.0, "duration_s": 8.0}]
    assert alerts(out, "hold.unannounced") == [] and out[-1].fields["holds"] == []


def test_summary_holds_every_contract_key_and_lists_what_was_skipped():
    out = run(talk("agent", 1.0, 2.0), 3.0)
    summary = out[-1].to_json()
    assert summary["type"] == "summary"
    assert set(summary) >= CONTRACT_KEYS
    assert summary["rules_skipped"] == []
    assert summary["forbidden"] == [] and summary["closing_ok"] is None
    assert summary["apology_ok"] is None  # no late pickup: no apology needed
    assert {c["rule"] for c in summary["checks"]} == {
        r for cls in RULES for r in cls.rule_ids()}


def test_mono_source_skips_rules_that_need_the_customer_instead_of_guessing():
    out = run(talk("agent", 1.0, 2.0) + talk("agent", 10.0, 11.0), 12.0, channels=("agent",))
    summary = out[-1].fields
    assert not [r for r in out if isinstance(r, Alert)]
    assert {"rule": "dead_air", "why": "needs the customer channel (the source has none)"} in (
        summary["rules_skipped"])
    assert summary["talk_ratio_agent"] is None
    assert summary["longest_customer_turn_s"] is None
    assert summary["rings_before_pickup"] is None
    assert set(out[-1].to_json()) >= CONTRACT_KEYS  # the skipped rules' keys are null, not gone
    for key in ("dead_air", "interruptions", "backchannel_gaps"):
        assert summary[key] is None


WORD_RULES = {r for cls in RULES for r in cls.needs_words}


def test_every_rule_class_says_which_of_its_own_ids_need_words():
    for cls in RULES:
        assert cls.needs_words <= set(cls.rule_ids()), cls.__name__
    assert {"greeting.incomplete", "closing.incomplete", "forbidden_phrase"} <= WORD_RULES
    assert not {"ring.late_pickup", "hold.too_long", "dead_air", "filler.excess"} & WORD_RULES


def test_without_recognition_the_word_checks_are_not_made_and_the_score_is_the_rest():
    """No greeting at all, heard without a recogniser: the greeting is not checked (not
    passed), nor any check that judges words; the score is the share of the timing checks,
    here all but the interruption passed."""
    events = [*talk("customer", 0.0, 5.0), *talk("agent", 4.3, 7.0), *talk("customer", 7.5, 9.0)]
    out = run(events, 10.0, words=False)
    summary = out[-1].fields
    skipped = {s["rule"]: s["why"] for s in summary["rules_skipped"]}
    assert skipped == dict.fromkeys(WORD_RULES, NO_WORDS_WHY)
    checked = [c["rule"] for c in summary["checks"]]
    all_rules = [r for cls in RULES for r in cls.rule_ids()]
    assert checked == [r for r in all_rules if r not in WORD_RULES]
    assert [a.rule for a in out if isinstance(a, Alert)] == ["interruption"]
    weights = load_config("zh-CN").score_weights
    total = sum(weights[r] for r in checked)
    assert summary["score"] == round(100.0 * (total - weights["interruption"]) / total, 1)
    for key in ("greeting_ok", "greeting", "closing_ok", "forbidden", "agent_rate_window_max"):
        assert summary[key] is None, key
    assert summary["filler_count"] == 0  # fillers are also heard in the sound: checked


def test_without_recognition_a_late_pickup_is_checked_by_its_rings_alone():
    events, pickup = greeting_call(None, rings=5)
    out = run([ev for ev in events if not isinstance(ev, Utterance)], pickup + 14.0,
              words=False)
    assert [(a.rule, a.t, a.severity) for a in out if isinstance(a, Alert)] == [
        ("ring.late_pickup", pickup, "warn")]
    summary = out[-1].fields
    assert {"rule": "ring.late_pickup", "weight": load_config("zh-CN").score_weights[
        "ring.late_pickup"], "passed": False} in summary["checks"]
    assert summary["apology_ok"] is None and summary["greeting_ok"] is None


def test_without_recognition_a_softphone_hold_is_timed_but_its_words_are_not_judged():
    events = [*talk("agent", 0.0, 3.0), *talk("customer", 3.5, 4.5), CallEvent(5.0, "hold"),
              CallEvent(40.0, "resume"), *talk("agent", 40.5, 43.0)]
    out = run(events, 45.0, words=False)
    assert {a.rule for a in out if isinstance(a, Alert)} == {"hold.too_long"}
    assert out[-1].fields["holds"][0]["thanked"] is None
    assert {"hold.unannounced", "hold.no_thanks"} <= {
        s["rule"] for s in out[-1].fields["rules_skipped"]}


def test_a_call_where_no_check_could_be_made_has_no_score():
    out = run(talk("agent", 1.0, 4.0), 5.0, words=False,
              rules=tuple(cls for cls in RULES if set(cls.rule_ids()) <= WORD_RULES))
    assert out[-1].fields["checks"] == [] and out[-1].fields["score"] is None


def test_talk_ratio_and_longest_customer_turn_bridge_pauses_and_backchannels():
    events = [
        *talk("agent", 0.0, 4.0),
        *talk("customer", 5.0, 9.0), *talk("agent", 8.0, 8.4),  # a backchannel inside the turn
        *talk("customer", 9.8, 14.0),                          # pause of 0.8 s: same turn
        *talk("agent", 15.0, 19.0),
        *talk("customer", 22.0, 23.0),
    ]
    summary = run(events, 24.0)[-1].fields
    assert summary["longest_customer_turn_s"] == pytest.approx(9.0)
    assert summary["talk_s"] == {"agent": pytest.approx(8.4), "customer": pytest.approx(9.2)}
    assert summary["talk_ratio_agent"] == pytest.approx(8.4 / 17.6, abs=1e-3)


def test_turns_break_when_the_other_side_takes_the_floor():
    own = [Speech("customer", 0.0, 2.0), Speech("customer", 2.5, 4.0)]
    assert len(build_turns(own, [Speech("agent", 2.1, 2.4)], 1.5, 1.0)) == 1  # backchannel
    assert len(build_turns(own, [Speech("agent", 2.0, 3.5)], 1.5, 1.0)) == 2  # takes floor
    assert len(build_turns(own, [], 0.4, 1.0)) == 2                           # long pause


def test_agent_rate_counts_characters_over_long_turns_only():
    # 20 characters over a 10 s turn (pauses included) = 120 per minute; the 1 s turn is too
    # short to judge a pace by and the digits count one character each.
    events = [
        *talk("agent", 0.0, 4.0, "您好诚美客服我是小王"),
        *talk("agent", 4.5, 10.0, "请问有什么帮您123"),
        *talk("customer", 11.0, 12.0, "好的"),
        *talk("agent", 13.0, 14.0, "好的好的好的"),
    ]
    out = run(events, 15.0)
    assert out[-1].fields["agent_rate_cpm"] == pytest.approx(120.0)
    metrics = [r for r in out if r.type == "metric" and r.name == "agent_rate"]
    assert metrics and metrics[-1].value == pytest.approx(120.0)


def test_english_profile_counts_words_per_minute():
    events = talk("agent", 0.0, 6.0, "Hello, thank you for calling Acme support, this is Anna.")
    out = run(events, 7.0, profile="en-US")
    assert out[-1].fields["rate_unit"] == "wpm"
    assert out[-1].fields["agent_rate_cpm"] == pytest.approx(100.0)


def alerts(out, rule):
    return [(a.t, a.evidence) for a in out if isinstance(a, Alert) and a.rule == rule]


def test_interruption_fires_once_the_overlap_passes_the_threshold():
    out = run([*talk("customer", 0.0, 5.0), *talk("agent", 4.3, 7.0)], 8.0)
    assert [t for t, _ in alerts(out, "interruption")] == [4.8]
    assert out[-1].fields["interruptions"] == [{"t": 4.3, "overlap_s": 0.7}]
    assert out[-1].fields["score"] < 100.0


def test_interruption_fires_while_both_still_talk_and_records_the_final_overlap():
    out = run([*talk("customer", 0.0, 9.0), *talk("agent", 3.0, 10.0)], 11.0)
    fired = [a for a in out if isinstance(a, Alert) and a.rule == "interruption"]
    assert [a.t for a in fired] == [3.5]
    assert out.index(fired[0]) < next(i for i, r in enumerate(out)
                                      if r.type == "speech" and r.channel == "customer")
    assert out[-1].fields["interruptions"] == [{"t": 3.0, "overlap_s": 6.0}]


@pytest.mark.parametrize("agent", [(2.0, 2.6), (4.8, 7.0)], ids=["backchannel", "brief-overlap"])
def test_backchannels_and_brief_overlaps_are_not_interruptions(agent):
    out = run([*talk("customer", 0.0, 5.0), *talk("agent", *agent)], 8.0)
    assert alerts(out, "interruption") == []
    assert out[-1].fields["interruptions"] == []


def test_an_agent_turn_split_by_a_short_pause_inside_one_customer_turn_is_one_interruption():
    # One 8 s customer segment; the agent talks 2.0-3.5, pauses 0.4 s, talks 3.9-5.5.
    out = run([*talk("customer", 0.0, 8.0), *talk("agent", 2.0, 3.5), *talk("agent", 3.9, 5.5)],
              9.0)
    assert [t for t, _ in alerts(out, "interruption")] == [2.5]
    assert out[-1].fields["interruptions"] == [{"t": 2.0, "overlap_s": pytest.approx(3.1)}]


@pytest.mark.parametrize(("customer", "agent", "why"), [
    # The customer pauses 1.6 s (>= turn_gap_s): their second segment is a new turn, though the
    # agent's own pause (1.4 s) is short.
    ([(0.0, 5.0), (6.6, 12.0)], [(4.0, 5.5), (6.9, 8.5)], "customer pause"),
    # One customer segment, but the agent pauses 1.5 s: a new agent turn.
    ([(0.0, 10.0)], [(2.0, 3.5), (5.0, 6.5)], "agent pause"),
    # The customer pauses only 1.3 s, but the agent takes the floor in it (5.1-7.0 s).
    ([(0.0, 5.0), (6.3, 12.0)], [(3.5, 4.6), (5.1, 7.0), (7.4, 8.8)], "agent took the floor"),
])
def test_agent_segments_in_two_customer_turns_or_two_agent_turns_are_two_interruptions(
        customer, agent, why):
    events = [ev for span in customer for ev in talk("customer", *span)]
    events += [ev for span in agent for ev in talk("agent", *span)]
    out = run(events, 13.0)
    starts = [agent[0][0], agent[-1][0]]
    assert [t for t, _ in alerts(out, "interruption")] == [s + 0.5 for s in starts], why
    assert [i["t"] for i in out[-1].fields["interruptions"]] == starts
    if why != "agent pause":  # the customer turns are the engine's own
        cfg = load_config("zh-CN").engine
        turns = build_turns([Speech("customer", *s) for s in customer],
                            [Speech("agent", *s) for s in agent], cfg.turn_gap_s,
                            cfg.backchannel_max_s)
        assert len(turns) == 2


def test_a_long_customer_turn_without_backchannel_is_flagged_at_the_limit():
    customer = [*talk("customer", 0.0, 7.0), *talk("customer", 7.5, 14.0),
                *talk("customer", 14.5, 20.0)]
    out = run(customer, 21.0)
    assert [t for t, _ in alerts(out, "backchannel.missing")] == [15.0]
    assert out[-1].fields["backchannel_gaps"] == [{"start": 0.0, "end": 20.0}]


def test_a_backchannel_restarts_the_listening_count():
    customer = [*talk("customer", 0.0, 7.0), *talk("customer", 7.5, 14.0),
                *talk("customer", 14.5, 20.0)]
    out = run([*customer, *talk("agent", 8.0, 8.4)], 21.0)
    assert alerts(out, "backchannel.missing") == []
    assert out[-1].fields["longest_customer_turn_s"] == pytest.approx(20.0)


@pytest.mark.parametrize(("level", "fires"), [(-5.0, True), (-15.0, False)])
def test_a_loud_agent_segment_is_flagged_at_its_end(level, fires):
    events = [SpeechStart("agent", 1.0), Speech("agent", 1.0, 4.0, level)]
    out = run(events, 5.0)
    assert [t for t, _ in alerts(out, "volume.too_loud")] == ([4.0] if fires else [])


def hold_call(announce, silence_s, back):
    """Agent speaks 0-3 s (``announce``), customer says 好的 3.5-4.5, silence, agent is back."""
    back_at = 4.5 + silence_s
    events = [*talk("agent", 0.0, 3.0, announce), *talk("customer", 3.5, 4.5, "好的"),
              *talk("agent", back_at, back_at + 2.5, back)]
    return events, back_at


def test_an_announced_short_hold_is_recorded_thanked_and_never_dead_air():
    events, back_at = hold_call("请您稍等，我帮您查询一下", 15.0, "感谢您耐心的等待")
    out = run(events, back_at + 4.0)
    types = [r.type for r in out]
    assert types.count("hold_start") == 1 and types.count("hold_end") == 1
    assert [r.t for r in out if r.type == "hold_start"] == [4.5]
    assert [a.rule for a in out if isinstance(a, Alert)] == ["greeting.incomplete"]
    assert out[-1].fields["holds"] == [{"start": 4.5, "end": back_at, "duration": 15.0,
                                        "announced": True, "thanked": True, "transfer": False}]
    assert out[-1].fields["dead_air"] == []


def test_a_long_hold_warns_before_the_limit_and_violates_at_it_and_wants_thanks():
    events, back_at = hold_call("请您稍等", 35.0, "好的先生")
    out = run(events, back_at + 10.0)
    too_long = [(a.t, a.severity) for a in out if isinstance(a, Alert)
                and a.rule == "hold.too_long"]
    assert too_long == [(29.5, "warn"), (34.5, "violation")]
    assert [t for t, _ in alerts(out, "hold.no_thanks")] == [back_at + 2.5]
    assert out[-1].fields["holds"][0]["thanked"] is False


def test_a_transfer_has_the_shorter_limit():
    events, back_at = hold_call("我帮您转接到技术部，请您稍等", 12.0, "让您久等了")
    out = run(events, back_at + 4.0)
    too_long = [(a.t, a.severity) for a in out if isinstance(a, Alert)
                and a.rule == "hold.too_long"]
    assert too_long == [(9.5, "warn"), (14.5, "violation")]
    assert out[-1].fields["holds"][0]["transfer"] is True


def test_silence_ended_with_thanks_was_an_unannounced_hold_and_dead_air():
    events, back_at = hold_call("好的，我看一下", 9.0, "感谢您的耐心等待")
    out = run(events, back_at + 4.0)
    assert [t for t, _ in alerts(out, "hold.unannounced")] == [back_at + 2.5]
    assert [t for t, _ in alerts(out, "dead_air")] == [9.5]
    assert out[-1].fields["holds"][0]["announced"] is False


def too_long(out):
    return [(a.t, a.severity, a.evidence["announced"]) for a in out if isinstance(a, Alert)
            and a.rule == "hold.too_long"]


def test_a_silence_nobody_announced_reaching_the_hold_limit_is_too_long_all_the_same():
    """Silence from 4.5 s for limit + 1 s (31 s), no announcement: dead air at 5 s, then the
    hold limit's warning (limit - warn_before_s) and violation (limit), worded as a wait
    nobody announced; it is on the record as an unannounced hold."""
    hold = load_config("zh-CN").rules.hold_too_long
    events, back_at = hold_call("好的，我看一下", hold.limit_s + 1.0, "好的先生")
    out = run(events, back_at + 4.0)
    start = 4.5
    assert [t for t, _ in alerts(out, "dead_air")] == [start + 5.0]
    assert too_long(out) == [(start + hold.limit_s - hold.warn_before_s, "warn", False),
                             (start + hold.limit_s, "violation", False)]
    alert = next(a for a in out if isinstance(a, Alert) and a.rule == "hold.too_long")
    assert hold.wait_unannounced in alert.message and hold.wait_announced not in alert.message
    assert alert.evidence["wait"] == hold.wait_unannounced
    assert out[-1].fields["holds"] == [{"start": start, "end": back_at, "duration": 31.0,
                                        "announced": False, "thanked": False, "transfer": False}]
    assert alerts(out, "hold.unannounced") == [] and alerts(out, "hold.no_thanks") == []
    assert not [r for r in out if r.type in ("hold_start", "hold_end")]


def test_an_announced_hold_names_the_announced_wait():
    hold = load_config("zh-CN").rules.hold_too_long
    events, back_at = hold_call("请您稍等", 35.0, "让您久等了")
    alert = next(a for a in run(events, back_at + 4.0) if isinstance(a, Alert)
                 and a.rule == "hold.too_long")
    assert (alert.evidence["announced"], alert.evidence["wait"]) == (True, hold.wait_announced)
    assert hold.wait_announced in alert.message


def test_an_unannounced_silence_warned_of_but_ended_before_the_limit_is_not_a_hold():
    events, back_at = hold_call("好的，我看一下", 29.0, "好的先生")
    out = run(events, back_at + 4.0)
    assert too_long(out) == [(29.5, "warn", False)]
    assert out[-1].fields["holds"] == []


def test_a_long_silence_ended_with_thanks_is_one_unannounced_hold_too_long():
    events, back_at = hold_call("好的，我看一下", 35.0, "感谢您的耐心等待")
    out = run(events, back_at + 4.0)
    assert too_long(out) == [(29.5, "warn", False), (34.5, "violation", False)]
    assert [t for t, _ in alerts(out, "hold.unannounced")] == [back_at + 2.5]
    assert out[-1].fields["holds"] == [{"start": 4.5, "end": back_at, "duration": 35.0,
                                        "announced": False, "thanked": True, "transfer": False}]


@pytest.mark.parametrize("case", ["mono", "agent never spoke"])
def test_a_silence_is_not_timed_as_a_hold_without_the_customer_or_before_the_agent_spoke(case):
    if case == "mono":
        events, back_at = hold_call("好的，我看一下", 40.0, "好的先生")
        events = [ev for ev in events if ev.channel == "agent"]
        out = run(events, back_at + 4.0, channels=("agent",))
    else:  # answered by the softphone, then nothing for 40 s: dead air alone
        out = run([CallEvent(1.0, "answer"), *talk("customer", 2.0, 3.0, "喂")], 45.0)
        assert [t for t, _ in alerts(out, "dead_air")] == [8.0]
    assert too_long(out) == [] and out[-1].fields["holds"] == []


def test_a_softphone_hold_after_a_long_silence_starts_its_own_limit():
    # Silence from 4.5 s, warned of at 29.5; the softphone holds at 32.0, before the silence
    # reached the limit (34.5), and resumes at 40.0: the hold is timed from its own start.
    events = [*talk("agent", 0.0, 3.0, "好的"), *talk("customer", 3.5, 4.5, "嗯"),
              CallEvent(32.0, "hold"), CallEvent(40.0, "resume"),
              *talk("agent", 40.5, 43.0, "让您久等了")]
    out = run(events, 45.0)
    assert too_long(out) == [(29.5, "warn", False)]
    assert [(r.type, r.t) for r in out if r.type in ("hold_start", "hold_end")] == [
        ("hold_start", 32.0), ("hold_end", 40.0)]
    assert [(h["start"], h["end"]) for h in out[-1].fields["holds"]] == [(32.0, 40.0)]


def test_a_softphone_hold_lasts_until_its_resume_even_if_the_agent_talks_meanwhile():
    # Announced at 0-3 s, the softphone holds at 4.0 (before the silence would confirm one);
    # the agent asks a colleague at 12-14 s (the caller hears music) and resumes at 40.0, past
    # the 30 s limit.
    events = [*talk("agent", 0.0, 3.0, "请您稍等，我帮您查询一下"), CallEvent(4.0, "hold"),
              *talk("agent", 12.0, 14.0, "小李这个怎么办"), CallEvent(40.0, "resume"),
              *talk("agent", 40.5, 43.0, "感谢您的耐心等待")]
    out = run(events, 45.0)
    assert [(r.type, r.t) for r in out if r.type in ("hold_start", "hold_end")] == [
        ("hold_start", 4.0), ("hold_end", 40.0)]
    too_long = [(a.t, a.severity) for a in out if isinstance(a, Alert)
                and a.rule == "hold.too_long"]
    assert too_long == [(29.0, "warn"), (34.0, "violation")]
    assert out[-1].fields["holds"] == [{"start": 4.0, "end": 40.0, "duration": 36.0,
                                        "announced": True, "thanked": True, "transfer": False}]
    assert alerts(out, "hold.unannounced") == [] and out[-1].fields["dead_air"] == []


def test_an_unannounced_softphone_hold_is_flagged_at_its_resume_and_wants_thanks():
    events = [*talk("agent", 0.0, 3.0, "好的"), *talk("customer", 3.5, 4.5, "嗯"),
              CallEvent(5.0, "hold", transfer=True), CallEvent(13.0, "resume"),
              *talk("agent", 13.5, 15.0, "好的先生")]
    out = run(events, 20.0)
    assert [(t, e["duration_s"]) for t, e in alerts(out, "hold.unannounced")] == [(13.0, 8.0)]
    assert [t for t, _ in alerts(out, "hold.no_thanks")] == [15.0]
    hold = out[-1].fields["holds"][0]
    assert (hold["announced"], hold["transfer"], hold["thanked"]) == (False, True, False)


def test_a_hold_heard_in_the_audio_is_the_same_hold_when_the_softphone_reports_it():
    events, back_at = hold_call("请您稍等", 15.0, "让您久等了")
    events.append(CallEvent(7.0, "hold"))  # after the silence (from 4.5) was confirmed a hold
    out = run(events, back_at + 4.0)
    assert [r.t for r in out if r.type == "hold_start"] == [4.5]
    assert len(out[-1].fields["holds"]) == 1


def test_softphone_rings_and_answer_beat_the_tones_and_the_first_words():
    # The tones heard two rings, the softphone counted five and answered at 20.0; the agent
    # first speaks at 21.0.
    events = [Ring(14.5, 15.5, 450.0), Ring(19.5, 20.0, 450.0),
              *[CallEvent(1.0 + 4 * i, "ring") for i in range(5)], CallEvent(20.0, "answer"),
              *talk("agent", 21.0, 24.0, "您好，诚美客服，我是小王")]
    out = run(events, 26.0, company="诚美", agent_name="小王")
    assert [r for r in out if isinstance(r, Pickup)] == [Pickup(20.0, 5)]
    assert [(t, e["rings"]) for t, e in alerts(out, "ring.late_pickup")
            if t == 20.0] == [(20.0, 5)]
    assert out[-1].fields["rings_before_pickup"] == 5 and out[-1].fields["pickup_t"] == 20.0


def test_softphone_rings_count_on_a_mono_recording_too():
    out = run([CallEvent(1.0, "ring"), CallEvent(5.0, "ring"), *talk("agent", 8.0, 9.0)],
              10.0, channels=("agent",))
    assert out[-1].fields["rings_before_pickup"] == 2


def greeting_call(text, rings=0, reply_at=10.0):
    ring_events = [Ring(0.5 + 5 * i, 1.5 + 5 * i, 450.0) for i in range(rings)]
    pickup = 2.0 + 5 * rings
    return [*ring_events, *talk("agent", pickup, pickup + 6.0, text),
            *talk("customer", pickup + reply_at, pickup + reply_at + 2.0, "我想查话费")], pickup


def test_a_full_greeting_passes_with_homophone_errors_in_the_company_name():
    events, pickup = greeting_call("您好，成美克服，我是小王，很高兴为您服务")
    out = run(events, pickup + 14.0, company="诚美", agent_name="小王")
    assert alerts(out, "greeting.incomplete") == []
    assert out[-1].fields["greeting_ok"] is True
    assert out[-1].fields["greeting"] == {"greeting": True, "company": True, "agent_name": True,
                                          "bad_opening": None}


@pytest.mark.parametrize(("text", "missing", "bad", "worded"), [
    ("喂，你找谁呀", "greeting, company, agent_name", "喂", "缺少：问候语、公司名称、工号或姓名"),
    ("您好，我是小王", "company", None, "缺少：公司名称；"),
])
def test_an_incomplete_greeting_is_flagged_at_its_end(text, missing, bad, worded):
    """The evidence keeps the part keys (for tables); the message names the parts in the
    profile's words ([labels]), never by key."""
    events, pickup = greeting_call(text)
    out = run(events, pickup + 14.0, company="诚美", agent_name="小王")
    found = alerts(out, "greeting.incomplete")
    assert [t for t, _ in found] == [pickup + 6.0]
    assert found[0][1]["missing"] == missing
    assert found[0][1]["bad_opening"] == (bad or "-")
    [message] = [a.message for a in out if isinstance(a, Alert)
                 and a.rule == "greeting.incomplete"]
    assert worded in message and "company" not in message
    assert out[-1].fields["greeting_ok"] is False


def test_an_agent_first_heard_after_the_greeting_window_greeted_no_one():
    """The softphone says the call was answered; the agent's first words come 20 s later."""
    events = [CallEvent(1.0, "answer"), *talk("agent", 21.0, 24.0, "您好，诚美客服，我是小王"),
              *talk("customer", 26.0, 28.0, "我想查话费")]
    out = run(events, 30.0, company="诚美", agent_name="小王")
    found = alerts(out, "greeting.incomplete")
    assert [t for t, _ in found] == [1.0 + 15.0]  # the greeting window_s ends
    assert found[0][1]["missing"] == "greeting, company, agent_name"
    assert out[-1].fields["greeting_ok"] is False


def test_late_pickup_is_whispered_at_pickup_and_wants_an_apology():
    events, pickup = greeting_call("您好，诚美客服，我是小王", rings=5)
    out = run(events, pickup + 14.0, company="诚美", agent_name="小王")
    late = [(a.t, a.severity) for a in out if isinstance(a, Alert)
            and a.rule == "ring.late_pickup"]
    assert late == [(pickup, "warn"), (pickup + 6.0, "violation")]
    assert out[-1].fields["apology_ok"] is False
    assert out[-1].fields["rings_before_pickup"] == 5


def test_late_pickup_with_an_apology_and_a_timely_pickup_needing_none():
    events, pickup = greeting_call("对不起，让您久等了。您好，诚美客服，我是小王", rings=4)
    out = run(events, pickup + 14.0, company="诚美", agent_name="小王")
    assert [a.severity for a in out if isinstance(a, Alert)] == ["warn"]
    assert out[-1].fields["apology_ok"] is True
    events, pickup = greeting_call("您好，诚美客服，我是小王", rings=3)
    out = run(events, pickup + 14.0, company="诚美", agent_name="小王")
    assert alerts(out, "ring.late_pickup") == []
    assert out[-1].fields["apology_ok"] is None


def test_a_uk_double_ring_counts_once():
    bursts = [Ring(0.5, 0.9, 425.0), Ring(1.1, 1.5, 425.0), Ring(3.5, 3.9, 425.0),
              Ring(4.1, 4.5, 425.0)]
    out = run([*bursts, *talk("agent", 6.0, 8.0)], 9.0)
    assert out[-1].fields["rings_before_pickup"] == 2


def test_a_taboo_is_flagged_with_its_polite_alternative_but_the_alternative_is_not():
    out = run([*talk("agent", 0.0, 3.0, "你是谁？有什么事？"),
               *talk("agent", 10.0, 13.0, "请问有什么事可以帮您？")], 14.0)
    found = [(a.evidence["phrase"], a.say) for a in out if isinstance(a, Alert)
             and a.rule == "forbidden_phrase"]
    assert found == [("(你|您)是谁", "请问您找哪位？您怎么称呼？"),
                     ("[你|您]有(什么|啥)事", "请问有什么可以帮您？")]
    assert [f["family"] for f in out[-1].fields["forbidden"]] == ["taboo.who", "taboo.what_matter"]


def test_fillers_per_minute_of_agent_talk():
    events = [*talk("agent", 0.0, 9.0, "嗯，那个，就是说，您的套餐，啊，已经办好了"),
              *talk("agent", 12.0, 20.0, "呃，这个，我看一下啊，嗯，应该是明天到")]
    out = run(events, 21.0)
    assert len(alerts(out, "filler.excess")) == 1
    assert out[-1].fields["filler_count"] == 7
    calm = run(talk("agent", 0.0, 9.0, "嗯，您的套餐已经办好了"), 10.0)
    assert alerts(calm, "filler.excess") == [] and calm[-1].fields["filler_count"] == 1


@pytest.mark.parametrize(("texts", "ok"), [
    (["请问还有什么可以帮您？", "感谢您的来电，再见"], True),
    (["好的，再见"], False),
])
def test_closing_needs_anything_else_and_thanks(texts, ok):
    events = [*talk("agent", 0.0, 12.0, "您好诚美客服我是小王请问有什么可以帮您")]
    t = 20.0
    for text in texts:
        events += talk("agent", t, t + 3.0, text)
        t += 4.0
    events += talk("customer", t, t + 1.0, "再见")
    out = run(events, t + 2.0)
    assert out[-1].fields["closing_ok"] is ok
    assert out[-1].fields["closing"]["caller_spoke_last"] is True
    assert out[-1].fields["closing"]["caller_hung_up_first"] is None
    assert [t_ for t_, _ in alerts(out, "closing.incomplete")] == ([] if ok else [t + 2.0])


@pytest.mark.parametrize(("by", "ok"), [("customer", True), ("agent", False)])
def test_closing_wants_the_caller_to_hang_up_first_where_the_softphone_says(by, ok):
    events = [*talk("agent", 0.0, 12.0, "您好诚美客服我是小王请问有什么可以帮您"),
              *talk("agent", 20.0, 23.0, "请问还有什么可以帮您？感谢您的来电，再见"),
              *talk("customer", 24.0, 25.0, "再见"), CallEvent(25.5, "hangup", by=by)]
    out = run(events, 26.0)
    assert out[-1].fields["closing"]["caller_hung_up_first"] is ok
    assert out[-1].fields["closing_ok"] is ok
    found = alerts(out, "closing.incomplete")
    assert [e["missing"] for _, e in found] == ([] if ok else ["caller_hung_up_first"])


@pytest.mark.parametrize(("chars_per_utterance", "rule"), [
    (45, "rate.too_fast"), (25, None), (14, "rate.too_slow")])
def test_speaking_rate_over_a_window_of_agent_talk(chars_per_utterance, rule):
    # Three 10 s utterances: 45 chars each = 270 per minute; 25 = 150; 14 = 84.
    events = []
    for i in range(3):
        events += talk("agent", i * 12.0, i * 12.0 + 10.0, "话" * chars_per_utterance)
    out = run(events, 36.0)
    fired = [a.rule for a in out if isinstance(a, Alert) and a.rule.startswith("rate.")]
    assert fired == ([] if rule is None else [rule])
    if rule:
        assert alerts(out, rule)[0][0] == 22.0  # the 2nd utterance fills the 15 s window


# --- words while they are spoken (PartialUtterance) --------------------------------------------


def spoken(text, start, step=0.25):
    """``text``'s characters as words, one every ``step`` s from ``start``."""
    return tuple(Word(start + i * step, start + (i + 1) * step, c, 0.9)
                 for i, c in enumerate(text))


def agreed(text, start, t, settled=False):
    """The agreed words of the agent's phrase that began at ``start``, as heard up to ``t``."""
    return PartialUtterance("agent", start, t, text, spoken(text, start), settled)


def test_a_taboo_in_the_agreed_words_alerts_at_its_end_once_and_a_final_only_one_too():
    said = "好的这不关我的事但是我帮您查一下你找谁"
    events = [*talk("customer", 0.0, 2.0), *talk("agent", 3.0, 8.0),
              agreed(said[:6], 3.0, 5.0), agreed(said[:9], 3.0, 5.6),
              Utterance("agent", 3.0, 8.0, said, spoken(said, 3.0))]
    out = run(events, 12.0)
    found = alerts(out, "forbidden_phrase")
    # 这不关我的事 ends with its 8th character: 3.0 + 8 * 0.25; 你找谁, only in the final, with
    # its 19th (3.0 + 19 * 0.25): each at the end of its words.
    assert [(t, e["heard"]) for t, e in found] == [(5.0, "不关我的事"), (7.75, "你找谁")]
    assert [f["heard"] for f in out[-1].fields["forbidden"]] == ["不关我的事", "你找谁"]


def test_the_greeting_is_judged_as_the_caller_starts_when_agreed_words_cover_the_agent():
    pickup = 2.0
    events = [*talk("agent", pickup, pickup + 3.0),
              agreed("您好，我是小王", pickup, pickup + 3.3, settled=True),
              *talk("customer", pickup + 4.0, pickup + 6.0)]
    out = run(events, pickup + 20.0, company="诚美", agent_name="小王")
    found = alerts(out, "greeting.incomplete")
    assert [(t, e["missing"]) for t, e in found] == [(pickup + 3.0, "company")]  # speech end
    customer_end = next(i for i, r in enumerate(out)
                        if isinstance(r, Speech) and r.channel == "customer")
    assert out.index(next(a for a in out if isinstance(a, Alert))) < customer_end


def test_unsettled_agreed_words_wait_for_the_utterance():
    pickup = 2.0
    events = [*talk("agent", pickup, pickup + 3.0),
              agreed("您好", pickup, pickup + 3.3, settled=False),
              *talk("customer", pickup + 4.0, pickup + 6.0),
              Utterance("agent", pickup, pickup + 3.0, "您好，诚美客服，我是小王")]
    out = run(events, pickup + 20.0, company="诚美", agent_name="小王")
    assert alerts(out, "greeting.incomplete") == []
    assert out[-1].fields["greeting_ok"] is True
