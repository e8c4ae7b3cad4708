"""When an interruption both sides still talk through is alerted (mutation survivors of
overlap.py's tick, issue #16).

From overlap.py's docstring: with both still talking, the alert fires once the agent has
*certainly* spoken longer than a backchannel can last and the overlap is *certainly more*
than ``min_overlap_s`` (the speech of an open segment is certain up to one VAD hangover ago).
So at the step where the certain overlap is exactly the larger of the two, it does not fire
yet; it fires at the next step. The agent's start is placed so that the certain overlap is
exactly that at one step (checked below with the engine's own sum of the same numbers).
"""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.frames import FRAME_S, Alert
from testkit.engine_feed import feed_steps, talk

CFG = load_config("zh-CN")
# A site whose threshold is longer than a backchannel: then the threshold, not the
# backchannel's length, is what the overlap must pass.
LONG = load_config("zh-CN", {"rules": {"interruption": {"min_overlap_s": 1.5}}})
H = CFG.vad.hangover_s


@pytest.mark.parametrize("cfg", [CFG, LONG], ids=["shipped", "threshold_above_backchannel"])
def test_an_interruption_both_talk_through_fires_the_step_after_the_edge(cfg):
    # Pins "longer than a backchannel" and "more than min_overlap_s" on the clock: at the
    # step `edge` the agent has certainly overlapped the caller exactly the larger of the two
    # (not yet an interruption); one step later it has more, and the alert comes then, its
    # overlap more than the threshold.
    need = max(cfg.engine.backchannel_max_s, cfg.rules.interruption.min_overlap_s)
    k = round((2.0 + H + need) / FRAME_S)
    edge = k * FRAME_S  # a step time, as the feed makes it
    start = edge - H - need
    assert edge - H - start == need  # the certain overlap at that step, as the rule sums it
    events = [*talk("customer", 0.0, 20.0), *talk("agent", start, start + 6.0)]
    steps = [(round(t, 3), [r for r in records if isinstance(r, Alert)])
             for t, records in feed_steps(Engine(cfg, ("agent", "customer")), events,
                                          start + 5.0)]
    fired = [(t, a) for t, alerts in steps for a in alerts if a.rule == "interruption"]
    assert [t for t, _ in fired] == [round(edge + FRAME_S, 3)]
    min_overlap = cfg.rules.interruption.min_overlap_s
    assert fired[0][1].t == round(start + min_overlap, 3)
    assert fired[0][1].evidence["overlap_s"] > min_overlap
