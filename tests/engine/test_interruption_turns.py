"""``interruption`` across the caller's turns: when a later agent segment resumes the
interruption already counted, and when it is a new one (issue #16's mutation survivors).

The truth is the rule's docstring and README's rule table: "an agent turn that a pause under
``[engine] turn_gap_s`` splits inside one caller turn is one interruption", its overlap added
to that interruption's; and the caller's turns are those of monitor/engine/turns.py's
docstring: a turn goes on across the caller's pauses shorter than ``turn_gap_s`` unless the
agent takes the floor in the pause (starts speech longer than a backchannel,
``backchannel_max_s``, at or after the caller's last end; one still going counts by its
length so far). Exact events fed as the pipeline would (each segment handed over one VAD
hangover after it ends); times are binary fractions so the edges are exact.

Every test starts the same way: the caller talks 0-3 s; the agent interrupts at 1.5 s and
stops at 2.625 s while the caller still talks (1.125 s, longer than a backchannel): the first
interruption, alerted at 1.5 + min_overlap_s, overlap 1.125 s.
"""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.frames import FRAME_S, Alert
from testkit.engine_feed import HANDOVER_S, feed, talk

CFG = load_config("zh-CN")
MIN_OVERLAP_S = CFG.rules.interruption.min_overlap_s
TURN_GAP_S = CFG.engine.turn_gap_s
BC_MAX_S = CFG.engine.backchannel_max_s
CALLER_END = 3.0  # the caller's first segment: 0-3 s
FIRST = (1.5, 2.625)  # the agent's interrupting segment
FIRST_OVERLAP = FIRST[1] - FIRST[0]


def run(customer, agent, t_end=10.0):
    """The records for the caller's and the agent's segments (each a (start, end))."""
    events = [ev for span in customer for ev in talk("customer", *span)]
    events += [ev for span in agent for ev in talk("agent", *span)]
    return feed(Engine(CFG, ("agent", "customer")), events, t_end)


def interruptions(out):
    """(alert times, the summary's interruptions)."""
    fired = [a.t for a in out if isinstance(a, Alert) and a.rule == "interruption"]
    return fired, out[-1].fields["interruptions"]


def one(overlap_s):
    """The first interruption alone, with ``overlap_s`` in all."""
    return [FIRST[0] + MIN_OVERLAP_S], [{"t": FIRST[0], "overlap_s": round(overlap_s, 3)}]


def two(second):
    """The first interruption and a new one by the agent's segment ``second``."""
    return ([FIRST[0] + MIN_OVERLAP_S, second[0] + MIN_OVERLAP_S],
            [{"t": FIRST[0], "overlap_s": FIRST_OVERLAP},
             {"t": second[0], "overlap_s": second[1] - second[0]}])


def test_a_short_resumption_inside_the_same_caller_turn_adds_its_overlap():
    # Pins the resumption across a short pause of the caller's: the caller pauses 0.5 s (one
    # turn) and talks on; the agent, 1.075 s after its own last speech, says 0.6004 s more inside
    # it. That is no backchannel but the same interruption: its overlap is added, and the
    # total is reported to the millisecond like every overlap (1.125 + 0.6004 -> 1.725).
    again = (3.7, 4.3004)
    out = run([(0.0, CALLER_END), (3.5, 8.0)], [FIRST, again])
    assert interruptions(out) == one(FIRST_OVERLAP + again[1] - again[0])


@pytest.mark.parametrize("d", [-FRAME_S, 0.0, FRAME_S])
def test_a_caller_pause_of_turn_gap_s_starts_a_new_turn_and_so_a_new_interruption(d):
    # Pins the caller's turn edge: "a pause of turn_gap_s or more" opens a new turn. The agent
    # talks on past the caller's end (to 3.375 s: the first interruption's overlap is then
    # the caller's end - 1.5); the caller comes back turn_gap_s + d after their end, and the
    # agent speaks inside that (1.225 s after their own last speech, under turn_gap_s). A
    # pause under turn_gap_s: the same turn, so one interruption with both overlaps; exactly
    # turn_gap_s or more: a new turn, a new interruption.
    first = (FIRST[0], 3.375)
    back = CALLER_END + TURN_GAP_S + d
    second = (4.6, 6.1)
    assert second[0] > back and second[0] - first[1] < TURN_GAP_S
    out = run([(0.0, CALLER_END), (back, 9.0)], [first, second])
    first_overlap = CALLER_END - first[0]
    if d < 0:
        assert interruptions(out) == one(first_overlap + second[1] - second[0])
    else:
        assert interruptions(out) == (
            [first[0] + MIN_OVERLAP_S, second[0] + MIN_OVERLAP_S],
            [{"t": first[0], "overlap_s": first_overlap},
             {"t": second[0], "overlap_s": round(second[1] - second[0], 3)}])


def test_agent_speech_in_the_callers_pause_that_has_lasted_only_a_backchannel_takes_no_floor():
    # Pins "longer than a backchannel": the agent starts in the caller's pause (once the
    # caller's segment is handed over) and, when the caller comes back, has talked exactly
    # backchannel_max_s (and stops there): no floor taken, the caller's turn goes on, and the
    # agent's next segment inside it resumes the first interruption (no second alert).
    pause_talk = (3.375, 3.375 + BC_MAX_S)
    assert pause_talk[0] >= CALLER_END + HANDOVER_S
    back = pause_talk[1]
    assert back - CALLER_END < TURN_GAP_S
    later = (5.0, 6.5)
    out = run([(0.0, CALLER_END), (back, 9.0)], [FIRST, pause_talk, later])
    assert interruptions(out) == one(FIRST_OVERLAP + later[1] - later[0])


@pytest.mark.parametrize(("pause_talk", "back", "later"), [
    # still talking when the caller comes back (1.25 s after the caller's end, so more than
    # a backchannel so far)
    ((CALLER_END, 5.0), 4.25, (5.5, 7.0)),
    # done (1.125 s long) and handed over before the caller comes back
    ((CALLER_END, 4.125), 4.4375, (4.75, 6.25)),
], ids=["still-talking", "done"])
def test_the_agent_taking_the_floor_right_as_the_caller_stops_starts_a_new_caller_turn(
        pause_talk, back, later):
    # Pins "at or after the caller's last end": agent speech longer than a backchannel that
    # starts exactly as the caller's segment ends takes the floor, so the caller's next
    # segment (under turn_gap_s later) is a new turn and the agent's segment inside it a new
    # interruption, though the agent paused less than turn_gap_s.
    assert back - CALLER_END < TURN_GAP_S and later[0] - pause_talk[1] < TURN_GAP_S
    out = run([(0.0, CALLER_END), (back, 9.0)], [FIRST, pause_talk, later])
    assert interruptions(out) == two(later)
