"""The summary's talk figures on exact events (mutation survivor of metrics.py's
``CallMetrics.summary``, issue #16).

docs/contract.md: ``talk_s`` is the speaking time per channel, and times are rounded to the
millisecond.
"""

from __future__ import annotations

from monitor.config import load_config
from monitor.engine.core import Engine
from testkit.engine_feed import feed, talk

CFG = load_config("zh-CN")


def test_talk_time_per_channel_is_given_to_the_millisecond():
    # Pins talk_s's rounding: segment lengths with more than three decimals (1.98766 s of
    # agent, 1.62345 s of caller) are given to the millisecond.
    events = [*talk("agent", 1.01234, 3.0), *talk("customer", 3.5, 5.12345)]
    summary = feed(Engine(CFG, ("agent", "customer")), events, 6.0)[-1]
    assert summary.fields["talk_s"] == {"agent": 1.988, "customer": 1.623}
