"""What each alert carries: exactly the evidence its message and say templates may name
(``ALERT_EVIDENCE``), with the values the events give (times rounded to the millisecond).

The review app and the templates read these keys; mutation testing (docs/mutants.md) showed
that a renamed key or a changed rounding passed every other fast test. Events are placed at
times with more than three decimals, so the millisecond rounding is seen.
"""

from __future__ import annotations

from monitor.config import ALERT_EVIDENCE, load_config
from monitor.engine.core import Engine
from monitor.frames import Alert, Filler
from testkit.engine_feed import feed, talk

CFG = load_config("zh-CN")
RULES = CFG.rules


def records(events, t_end):
    return feed(Engine(CFG, ("agent", "customer")), events, t_end)


def evidence(events, t_end, rule):
    """The evidence of each alert of ``rule``, after checking every alert of the call carries
    exactly the keys its rule promises."""
    out = [r for r in records(events, t_end) if isinstance(r, Alert)]
    for a in out:
        assert set(a.evidence) == set(ALERT_EVIDENCE[a.rule]), a.rule
    return [a.evidence for a in out if a.rule == rule]


def test_an_interruption_carries_its_start_and_the_whole_overlap():
    # The customer talks 0-5 s, the agent cuts in at `start` and talks on past them.
    start = 4.12345
    events = [*talk("customer", 0.0, 5.0), *talk("agent", start, 8.0)]
    got = evidence(events, 9.0, "interruption")
    assert got == [{"start": round(start, 3), "overlap_s": round(5.0 - start, 3),
                    "min_overlap_s": RULES.interruption.min_overlap_s}]
    # and the call's summary lists it the same way
    assert records(events, 9.0)[-1].fields["interruptions"] == [
        {"t": round(start, 3), "overlap_s": round(5.0 - start, 3)}]


def test_dead_air_carries_when_the_silence_began():
    end = 5.01234  # the last speech before the silence ends here
    events = [*talk("agent", 1.0, 3.0), *talk("customer", 3.5, end),
              *talk("customer", end + RULES.dead_air.limit_s + 2.0, end + RULES.dead_air.limit_s
                    + 3.0)]
    got = evidence(events, end + RULES.dead_air.limit_s + 4.0, "dead_air")
    assert got == [{"start": round(end, 3), "limit_s": RULES.dead_air.limit_s}]


def test_a_loud_phrase_carries_its_level_and_start():
    # The level and the start are the segment's own (the rule does not round them).
    start, level = 1.23456, RULES.volume_too_loud.max_level_dbfs + 2.0
    end = start + RULES.volume_too_loud.min_segment_s + 1.0
    got = evidence(talk("agent", start, end, level_dbfs=level), end + 1.0, "volume.too_loud")
    assert got == [{"level_dbfs": level, "start": start,
                    "max_level_dbfs": RULES.volume_too_loud.max_level_dbfs}]


def test_a_long_caller_turn_carries_its_start():
    start = 0.12345
    limit = RULES.backchannel_missing.max_silent_listening_s
    got = evidence(talk("customer", start, start + limit + 2.0), start + limit + 3.0,
                   "backchannel.missing")
    assert got == [{"start": round(start, 3), "limit_s": limit}]


def test_a_fast_pace_carries_the_rate_the_limit_and_the_target():
    # Two 12 s agent utterances of `chars` characters each: 60 * chars / 12 a minute.
    chars = 50
    events = [*talk("agent", 0.0, 12.0, "话" * chars), *talk("agent", 13.0, 25.0, "话" * chars)]
    rule = RULES.rate_too_fast
    assert 60.0 * chars / 12.0 > rule.too_fast_above
    got = evidence(events, 26.0, "rate.too_fast")
    assert got == [{"rate": round(60.0 * chars / 12.0), "limit": rule.too_fast_above,
                    "target": rule.target_per_min, "unit": CFG.rate_unit}]


def test_a_taboo_carries_what_was_heard_where_and_what_to_say_instead():
    start, end, said = 1.23456, 3.45678, "这个我不知道"
    events = talk("agent", start, end, said)
    got = evidence(events, end + 1.0, "forbidden_phrase")
    assert len(got) == 1
    family = got[0]["family"]
    assert family.startswith("taboo.")
    assert got[0] == {"family": family, "phrase": got[0]["phrase"], "heard": said,
                      "suggestion": CFG.phrases[family].suggestion,
                      "word_start": round(start, 3), "word_end": round(end, 3)}
    assert got[0]["phrase"] in {str(p) for p in CFG.phrases[family].patterns}
    # and the call's summary lists it with the same words
    assert records(events, end + 1.0)[-1].fields["forbidden"] == [
        {"t": round(end, 3), "family": family, "phrase": got[0]["phrase"], "heard": said,
         "suggestion": CFG.phrases[family].suggestion}]


def test_too_many_fillers_carry_the_count_the_rate_and_the_last_fillers_end():
    # The agent talks talk_s, then says one filler (嗯, heard in the sound, so no words) more
    # than max_per_min a minute of that talk allows.
    rule = RULES.filler_excess
    talk_s = rule.min_talk_s * 1.5
    count = int(rule.max_per_min * talk_s / 60.0) + 1
    start = talk_s + 1.01234
    fillers = [Filler("agent", start + i, start + i + 0.4) for i in range(count)]
    got = evidence([*talk("agent", 0.0, talk_s), *fillers], start + count + 1.0, "filler.excess")
    assert got == [{"count": count, "per_min": round(60.0 * count / talk_s, 1),
                    "max_per_min": rule.max_per_min, "tokens": "",
                    "word_end": round(fillers[-1].end, 3)}]


def test_a_silence_ended_with_thanks_carries_its_start_the_thanks_and_its_length():
    # Nobody announced a hold; both are silent from `quiet` until the agent comes back
    # thanking the caller for waiting, past the unannounced minimum.
    quiet = 4.51234
    back = quiet + RULES.hold_unannounced.unannounced_min_s + 1.23456
    thanks = "感谢您的耐心等待"
    events = [*talk("agent", 0.0, 3.0, "好的，我看一下"), *talk("customer", 3.5, quiet, "好的"),
              *talk("agent", back, back + 2.0, thanks)]
    got = evidence(events, back + 3.0, "hold.unannounced")
    assert got == [{"start": round(quiet, 3), "phrase": thanks,
                    "duration_s": round(back - quiet, 1)}]
