"""The hint scheduler on hand-made alerts and voice activity: when each hint starts, exactly."""

from __future__ import annotations

from monitor.config import HintConfig
from monitor.frames import FRAME_S
from monitor.hints.scheduler import HintScheduler

CFG = HintConfig(enabled=True, cooldown_s=20.0, gap_s=0.2, max_delay_s=3.0,
                 urgent_rules=("interruption",), voice_language="en-us", voice_pinyin=False,
                 voice_rate_wpm=180, volume=1.0, output_latency_s=0.03)


def alert(rule, t, severity="warn", say="请回应客户"):
    return {"type": "alert", "rule": rule, "t": t, "severity": severity, "say": say}


def run(offers, speaking_spans, t_end, duration_s=1.0):
    """Step the scheduler every 20 ms; ``offers`` maps a step time to alerts offered at it."""
    scheduler = HintScheduler(CFG, lambda say: duration_s)
    said, step = [], 0
    while step * FRAME_S < t_end:
        t = round(step * FRAME_S, 3)
        for a in offers.get(t, []):
            scheduler.offer(a, t)
        speaking = any(s <= t < e for s, e in speaking_spans)
        hint = scheduler.step(t, speaking)
        if hint is not None:
            said.append((hint.rule, t))
        step += 1
    return said, scheduler


def test_a_hint_is_said_at_once_while_the_agent_is_quiet():
    said, _ = run({5.0: [alert("dead_air", 5.0)]}, [(0.0, 2.0)], 8.0)
    assert said == [("dead_air", 5.0)]


def test_a_hint_waits_for_a_gap_in_the_agents_speech():
    said, _ = run({5.0: [alert("rate.too_fast", 4.9)]}, [(4.0, 6.5)], 10.0)
    assert said == [("rate.too_fast", 6.7)]  # 6.5 + gap_s


def test_a_hint_waits_no_longer_than_the_maximum_delay():
    said, _ = run({5.0: [alert("rate.too_fast", 4.9)]}, [(4.0, 20.0)], 10.0)
    assert said == [("rate.too_fast", 8.0)]


def test_an_urgent_rule_is_said_over_the_agent_and_before_others():
    offers = {5.0: [alert("rate.too_fast", 5.0, "violation"), alert("interruption", 5.0)]}
    said, _ = run(offers, [(4.0, 20.0)], 10.0)
    assert said == [("interruption", 5.0), ("rate.too_fast", 8.0)]


def test_one_hint_at_a_time_and_violations_before_warnings():
    offers = {1.0: [alert("filler.excess", 1.0), alert("hold.too_long", 1.0, "violation")],
              1.5: [alert("dead_air", 1.5)]}
    said, _ = run(offers, [], 6.0, duration_s=1.2)
    # The violation first; then the two warnings in the order they came, each after the last.
    assert said == [("hold.too_long", 1.0), ("filler.excess", 2.2), ("dead_air", 3.4)]


def test_a_rule_cools_down_after_it_is_said():
    offers = {1.0: [alert("dead_air", 1.0)], 10.0: [alert("dead_air", 10.0)],
              25.0: [alert("dead_air", 25.0)]}
    said, scheduler = run(offers, [], 30.0)
    assert said == [("dead_air", 1.0), ("dead_air", 25.0)]
    assert scheduler.dropped == 1


def test_a_newer_alert_of_a_waiting_rule_replaces_the_older():
    offers = {5.0: [alert("forbidden_phrase", 5.0, say="请说请问您找哪位")],
              5.5: [alert("forbidden_phrase", 5.5, say="请说抱歉这事我不太了解")]}
    scheduler = HintScheduler(CFG, lambda say: 1.0)
    said = []
    for step in range(400):
        t = round(step * FRAME_S, 3)
        for a in offers.get(t, []):
            scheduler.offer(a, t)
        hint = scheduler.step(t, 4.0 <= t < 7.0)
        if hint is not None:
            said.append((hint.say, t))
    assert said == [("请说抱歉这事我不太了解", 7.2)]


def test_alerts_without_words_to_say_are_not_hints():
    said, scheduler = run({1.0: [alert("dead_air", 1.0, say="")]}, [], 3.0)
    assert said == [] and scheduler.dropped == 0
