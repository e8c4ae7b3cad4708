"""The summary's figures on exact events: talk time and share, the customer's longest turn,
the agent's pace and the score (mutation survivors of metrics.py's ``CallMetrics`` and
scoring.py's ``qa_score``, issue #16).

docs/contract.md: times are rounded to the millisecond; ``talk_s`` is the speaking time per
channel of the source; ``talk_ratio_agent`` the agent's share of all speaking time, null
without both channels or with no speech; ``longest_customer_turn_s`` the customer's longest
turn, null with no customer channel; ``agent_rate_cpm`` (and the running ``agent_rate``
metric, with its ``unit``) the agent's pace over turns of at least ``rate_min_turn_s``,
pauses inside a turn included; ``score`` the weighted share of the checks passed, one
decimal. Turns (monitor/engine/turns.py) go on across pauses shorter than ``turn_gap_s``
unless the other side takes the floor (speaks longer than a backchannel) in the pause. The
summary's pace figures are given to one decimal (as test_pace_and_loudness_figures.py pins
for the pace windows). Limits come from the shipped configuration.
"""

from __future__ import annotations

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.engine.scoring import qa_score
from testkit.engine_feed import feed, talk

CFG = load_config("zh-CN")
ENG = CFG.engine


def summary_of(events, t_end: float, channels=("agent", "customer")) -> dict:
    return feed(Engine(CFG, channels), events, t_end)[-1].fields


def test_talk_time_per_channel_and_the_agents_share_are_given_to_the_millisecond():
    # Pins talk_s's and talk_ratio_agent's rounding: segment lengths with more than three
    # decimals (1.98766 s of agent, 1.62345 s of caller) are given to the millisecond, and
    # the share (0.55054...) to three places.
    events = [*talk("agent", 1.01234, 3.0), *talk("customer", 3.5, 5.12345)]
    summary = summary_of(events, 6.0)
    assert summary["talk_s"] == {"agent": 1.988, "customer": 1.623}
    assert summary["talk_ratio_agent"] == 0.551


def test_a_silent_call_has_no_talk_share_and_a_longest_customer_turn_of_nothing():
    # Pins the figures of a two-channel call in which nobody spoke: no share of no speech
    # (null), and the customer's longest turn is none at all (0 s).
    summary = summary_of([], 3.0)
    assert summary["talk_ratio_agent"] is None
    assert summary["longest_customer_turn_s"] == 0.0


# The customer talks 1-4.01234 s and 5.4-7 s; in their 1.39 s pause (shorter than a turn gap)
# the agent speaks 1.2 s (longer than a backchannel): the agent took the floor, so the customer
# had two turns, the longer 3.01234 s.
FLOOR = [*talk("customer", 1.0, 4.01234), *talk("agent", 4.1, 5.3),
         *talk("customer", 5.4, 7.0)]


def test_the_agent_taking_the_floor_in_a_customer_pause_ends_the_customers_turn():
    # Pins longest_customer_turn_s: turns split where the agent took the floor (one 6 s
    # turn otherwise), the longest given to the millisecond.
    pause, agent_s = 5.4 - 4.01234, 5.3 - 4.1
    assert pause < ENG.turn_gap_s and agent_s > ENG.backchannel_max_s
    assert summary_of(FLOOR, 8.0)["longest_customer_turn_s"] == 3.012


def test_the_agents_pace_counts_only_the_agents_own_turns():
    # Pins agent_rate_cpm and the agent_rate metric: the agent says 10 characters at 1-4 s
    # and 6 at 5.4-8 s; in the 1.4 s pause between (shorter than a turn gap) the caller speaks
    # 1.2 s and takes the floor, so the agent had two turns, 3 s and 2.6 s: 16 characters in
    # 5.6 s is 171.43 a minute (not 16 in the 7 s of one turn), given to one decimal. The
    # running metric says its unit each time it changes: 200 a minute after the first turn.
    pause, caller_s = 5.4 - 4.0, 5.3 - 4.1
    assert pause < ENG.turn_gap_s and caller_s > ENG.backchannel_max_s
    assert min(3.0, 2.6) >= ENG.rate_min_turn_s
    events = [*talk("agent", 1.0, 4.0, "您好诚美客服我是小王"), *talk("customer", 4.1, 5.3),
              *talk("agent", 5.4, 8.0, "请问有什么事")]
    out = feed(Engine(CFG, ("agent", "customer")), events, 9.0)
    assert out[-1].fields["agent_rate_cpm"] == round(60.0 * 16 / 5.6, 1) == 171.4
    assert [r.to_json() for r in out if r.type == "metric" and r.name == "agent_rate"] == [
        {"type": "metric", "t": 4.0, "name": "agent_rate", "value": 200.0, "unit": "cpm"},
        {"type": "metric", "t": 8.0, "name": "agent_rate", "value": 171.429, "unit": "cpm"}]


def test_a_customer_only_call_has_the_customers_figures_and_none_of_the_agents():
    # Pins a leg of the caller alone (docs/tap.md: customer-only is a call of its side): the
    # customer's talk and longest turn (1-5.5 s across a 1 s pause), no agent pace, and no
    # agent's share of the talk (the agent was not heard, which is not speaking 0 % of it).
    events = [*talk("customer", 1.0, 3.0), *talk("customer", 4.0, 5.5)]
    summary = summary_of(events, 6.0, channels=("customer",))
    assert summary["talk_s"] == {"customer": 3.5}
    assert summary["longest_customer_turn_s"] == 4.5
    assert summary["agent_rate_cpm"] is None and summary["talk_ratio_agent"] is None


def test_the_score_is_the_weighted_share_of_checks_passed_to_one_decimal():
    # Pins qa_score's rounding: the check of weight 1 passed, that of weight 2 failed
    # (one alert): 1/3 of the weight, 33.3.
    score, checks = qa_score({"greeting.incomplete": 1.0, "dead_air": 2.0}, {"dead_air": 1})
    assert score == 33.3
    assert [c["passed"] for c in checks] == [True, False]


def test_an_agent_turn_of_exactly_rate_min_turn_s_is_long_enough_to_judge_a_pace_by():
    # Pins agent_rate's "at least rate_min_turn_s": the agent's one turn lasts exactly that
    # from 1 s, with 10 characters (300 a minute with the shipped 2 s).
    events = talk("agent", 1.0, 1.0 + ENG.rate_min_turn_s, "您好诚美客服我是小王")
    assert summary_of(events, 2.0 + ENG.rate_min_turn_s)["agent_rate_cpm"] == round(
        60.0 * 10 / ENG.rate_min_turn_s, 1)


def test_a_turn_too_short_to_judge_does_not_stop_the_later_ones_counting():
    # Pins agent_rate skipping, not stopping at, a short turn: 好的 (1 s) first, the caller
    # talks, then 10 characters in a 4 s turn: 150 a minute.
    events = [*talk("agent", 1.0, 2.0, "好的"), *talk("customer", 2.5, 5.0),
              *talk("agent", 6.0, 10.0, "您好诚美客服我是小王")]
    assert summary_of(events, 11.0)["agent_rate_cpm"] == 150.0


def test_an_agent_segment_exactly_a_backchannel_long_does_not_end_the_customers_turn():
    # Pins build_turns' "longer than a backchannel takes the floor": in the customer's 1.3 s
    # pause the agent says something exactly backchannel_max_s long (4-5 s): the customer's
    # turn goes on, 1-7 s.
    said, pause = 5.0 - 4.0, 5.2 - 3.9
    assert said == ENG.backchannel_max_s and pause < ENG.turn_gap_s
    events = [*talk("customer", 1.0, 3.9), *talk("agent", 4.0, 5.0, "对"),
              *talk("customer", 5.2, 7.0)]
    assert summary_of(events, 8.0)["longest_customer_turn_s"] == 6.0
