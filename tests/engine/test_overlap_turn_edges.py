"""An agent taking the floor in the caller's pause starts a new caller turn, so interrupting
that turn is a new interruption (mutation survivors of overlap.py's ``on_event``, issue #16).

From overlap.py's docstring and README's rule table: an agent turn that a pause under
``[engine] turn_gap_s`` splits inside *one caller turn* is one interruption; a caller turn goes
on across pauses shorter than ``turn_gap_s`` unless the agent takes the floor in one, with a
segment longer than a backchannel (``[engine] backchannel_max_s``; at most that long it is a
backchannel). Times are exact in binary, so a segment is exactly that long when meant to be.
"""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.frames import FRAME_S, Alert
from testkit.engine_feed import HANDOVER_S, feed, talk

CFG = load_config("zh-CN")
BC = CFG.engine.backchannel_max_s
GAP = CFG.engine.turn_gap_s
MIN = CFG.rules.interruption.min_overlap_s


@pytest.mark.parametrize("d", [-FRAME_S, 0.0, FRAME_S])
def test_an_agent_segment_longer_than_a_backchannel_in_the_callers_pause_ends_their_turn(d):
    # Pins what takes the floor: the agent interrupts the caller at 1.0 s (alerted), the
    # caller stops at 3.0 s, the agent says something BC + d long in the pause (handed over
    # before the caller resumes), the caller resumes less than a turn gap after stopping, and
    # the agent cuts in again less than a turn gap after its last words. Longer than a
    # backchannel, that pause segment took the floor: the caller's new words are a new turn,
    # so the cut-in is a new interruption; at most a backchannel long, it is the same caller
    # turn and the same agent turn: the first interruption, not a second.
    floor_start = 3.0625
    floor_end = floor_start + BC + d
    resume = 4.4375
    assert resume - 3.0 < GAP and floor_end + HANDOVER_S < resume  # the setting of the case
    again = 5.0
    assert again - floor_end < GAP
    events = [*talk("customer", 0.0, 3.0), *talk("agent", 1.0, 2.25),
              *talk("agent", floor_start, floor_end),
              *talk("customer", resume, 9.0), *talk("agent", again, 7.0)]
    out = feed(Engine(CFG, ("agent", "customer")), events, 10.0)
    got = [a.t for a in out if isinstance(a, Alert) and a.rule == "interruption"]
    assert got == ([1.0 + MIN, again + MIN] if d > 0 else [1.0 + MIN])
