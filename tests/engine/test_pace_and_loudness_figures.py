"""The pace and loudness figures a call reports, worked out by hand from exact events.

Added from mutation testing (docs/mutants.md): the boundary tests judged the pace band and the
loudness limit, but nothing checked the figures the summary and the pace metric carry (the
window's extremes, the syllable estimate, the loudest phrase), which edges of an utterance a
syllable nucleus belongs to, or where the pace window stops. Each expected figure here is
counted from the events placed, with the limits read from the shipped configuration.
"""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.frames import Alert, Metric, Nucleus
from testkit.engine_feed import feed, talk

CFG = load_config("zh-CN")
RATE = CFG.rules.rate_too_fast
LOUD = CFG.rules.volume_too_loud


def run(events, t_end):
    return feed(Engine(CFG, ("agent", "customer")), events, t_end)


def pace_metrics(out):
    return [(m.t, m.value, m.detail) for m in out
            if isinstance(m, Metric) and m.name == "agent_rate_window"]


def utterance(start, end, chars, nuclei=()):
    return [*talk("agent", start, end, "话" * chars), *(Nucleus("agent", t) for t in nuclei)]


def test_the_pace_window_holds_the_latest_utterances_up_to_window_talk_s():
    # Four 10 s agent utterances of 40, 30, 5 and 45 characters. The window is judged once it
    # holds min_window_s of talk (from the 2nd end), and holds the newest utterances until
    # they reach window_talk_s: at the 4th end exactly the last three (30 s), not the 1st too.
    # The slowest window is the middle one, so the summary's extremes are not the last pace.
    assert (RATE.min_window_s, RATE.window_talk_s) == (15.0, 30.0)
    events = [*utterance(0.0, 10.0, 40), *utterance(10.5, 20.5, 30),
              *utterance(21.0, 31.0, 5), *utterance(31.5, 41.5, 45)]
    out = run(events, 43.0)
    assert [(t, v) for t, v, _ in pace_metrics(out)] == [
        (20.5, 60.0 * 70 / 20), (31.0, 60.0 * 75 / 30), (41.5, 60.0 * 80 / 30)]
    assert [(a.rule, a.t, a.evidence["rate"]) for a in out if isinstance(a, Alert)
            and a.rule.startswith("rate.")] == [("rate.too_fast", 20.5, 210)]
    summary = out[-1].fields
    assert (summary["agent_rate_window_max"], summary["agent_rate_window_min"]) == (210.0, 150.0)


def test_an_utterance_of_exactly_min_utterance_s_counts_and_min_window_s_is_enough():
    # 13.5 s of talk and then exactly min_utterance_s (1.5 s): together exactly min_window_s,
    # so the pace is judged at the second end, and only there.
    assert RATE.min_utterance_s + 13.5 == RATE.min_window_s
    events = [*utterance(0.0, 13.5, 30), *utterance(14.0, 14.0 + RATE.min_utterance_s, 6)]
    out = run(events, 17.0)
    assert [(t, v) for t, v, _ in pace_metrics(out)] == [(15.5, 60.0 * 36 / 15.0)]


def test_a_shorter_utterance_says_nothing_about_pace():
    events = [*utterance(0.0, 14.0, 30), *utterance(14.5, 14.5 + RATE.min_utterance_s - 0.02, 6)]
    out = run(events, 17.0)
    assert pace_metrics(out) == []


def test_the_syllable_estimate_counts_nuclei_at_an_utterances_edges_once():
    # Utterance A 0-10 s has nuclei at its start, inside and at its end (10.0); utterance B
    # starts exactly where A ends (a VAD split) and has 6 nuclei of its own after 10.0. The
    # nucleus at 10.0 belongs to A only: 12 in A, 6 in B, 18 over the 20 s window.
    a = [0.0, *(0.5 + 0.9 * i for i in range(10)), 10.0]
    b = [11.0 + 1.5 * i for i in range(6)]
    events = [*utterance(0.0, 10.0, 40, a), *utterance(10.0, 20.0, 30, b)]
    out = run(events, 22.0)
    assert pace_metrics(out) == [
        (20.0, 60.0 * 70 / 20, {"unit": CFG.rate_unit, "estimated": round(60.0 * 18 / 20)})]
    assert out[-1].fields["agent_rate_est_cpm"] == round(60.0 * 18 / 20, 1)


def test_the_summary_rounds_the_pace_figures_to_one_decimal():
    # Window 18.5 s with 47 characters and 7 nuclei: 152.43... and 22.70... a minute.
    events = [*utterance(0.0, 9.0, 20, [1.0, 2.0, 3.0]),
              *utterance(9.5, 19.0, 27, [10.0, 11.0, 12.0, 13.0])]
    out = run(events, 21.0)
    summary = out[-1].fields
    assert summary["agent_rate_window_max"] == summary["agent_rate_window_min"] == round(
        60.0 * 47 / 18.5, 1) == 152.4
    assert summary["agent_rate_est_cpm"] == round(60.0 * 7 / 18.5, 1) == 22.7


def test_a_call_without_judged_pace_reports_none():
    summary = run(utterance(0.0, 5.0, 10), 7.0)[-1].fields
    assert [summary[k] for k in ("agent_rate_window_max", "agent_rate_window_min")] == [None] * 2


def test_a_too_slow_pace_names_its_limit_and_the_target():
    # 2 x 12 s at 15 characters each: 75 a minute, below too_slow_below.
    events = [*utterance(0.0, 12.0, 15), *utterance(13.0, 25.0, 15)]
    out = run(events, 27.0)
    slow = [a for a in out if isinstance(a, Alert) and a.rule == "rate.too_slow"]
    assert [(a.t, a.evidence) for a in slow] == [(25.0, {
        "rate": 75, "limit": CFG.rules.rate_too_slow.too_slow_below,
        "target": RATE.target_per_min, "unit": CFG.rate_unit})]


# --- volume.too_loud ---------------------------------------------------------------------------

def loud(start, length, level):
    return talk("agent", start, start + length, level_dbfs=level)


def loud_alerts(out):
    return [a.t for a in out if isinstance(a, Alert) and a.rule == "volume.too_loud"]


@pytest.mark.parametrize("d", [-0.02, 0.0, 0.02])
def test_a_loud_phrase_counts_from_exactly_min_segment_s(d):
    length = LOUD.min_segment_s + d
    out = run(loud(1.0, length, LOUD.max_level_dbfs + 3.0), 4.0)
    assert loud_alerts(out) == ([] if d < 0 else [pytest.approx(1.0 + length)])
    assert out[-1].fields["agent_loudest_dbfs"] == (None if d < 0 else LOUD.max_level_dbfs + 3.0)


def test_the_loudest_phrase_is_reported_even_within_the_limit():
    levels = [LOUD.max_level_dbfs - 6.0, LOUD.max_level_dbfs - 2.0, LOUD.max_level_dbfs - 4.0]
    events = [ev for i, lv in enumerate(levels) for ev in loud(1.0 + 3 * i, 2.0, lv)]
    out = run(events, 12.0)
    assert loud_alerts(out) == []
    assert out[-1].fields["agent_loudest_dbfs"] == max(levels)


def test_loud_phrases_are_alerted_again_exactly_one_cooldown_later():
    # Loud 2 s phrases ending every cooldown_s / 2 from 3 s: alerted at the first end, quiet
    # half a cooldown later, alerted again exactly one cooldown after the first, quiet after.
    step = LOUD.cooldown_s / 2
    ends = [3.0 + step * k for k in range(4)]
    events = [ev for end in ends for ev in loud(end - 2.0, 2.0, LOUD.max_level_dbfs + 3.0)]
    out = run(events, ends[-1] + 1.0)
    assert loud_alerts(out) == [ends[0], ends[2]]
