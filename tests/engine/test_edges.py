"""Where a turn ends, where a filler is the agent listening and where the opening ends, at
the exact edges.

Added from mutation testing (docs/mutants.md): the fast tests never put a pause of exactly
``turn_gap_s`` inside a turn, a floor-taking segment starting exactly as the speaker resumes,
an agent filler starting exactly as the caller stops, or a bad opening word after exactly
``opening_units`` units.
"""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.engine.turns import build_turns
from monitor.frames import FRAME_S, Alert, Filler, Speech, SpeechStart, Utterance
from monitor.text import count_units, word_units
from testkit.engine_feed import feed, talk

CFG = load_config("zh-CN")
GAP = CFG.engine.turn_gap_s
BACKCHANNEL = CFG.engine.backchannel_max_s


@pytest.mark.parametrize("d", [-FRAME_S, 0.0, FRAME_S])
def test_a_pause_of_turn_gap_s_or_more_ends_the_turn(d):
    own = [Speech("customer", 0.0, 2.0), Speech("customer", 2.0 + GAP + d, 5.0 + GAP)]
    turns = build_turns(own, [], GAP, BACKCHANNEL)
    assert len(turns) == (2 if d >= 0 else 1)


@pytest.mark.parametrize(("taker_start", "turns"), [(2.5, 2), (3.0, 1)])
def test_the_other_side_takes_the_floor_only_if_it_starts_before_the_speaker_resumes(
        taker_start, turns):
    # The customer pauses 2.0-3.0 s (shorter than turn_gap_s); the agent starts a long
    # segment in the pause (it takes the floor: two turns) or exactly as the customer
    # resumes (it does not: one turn, the agent talks over them).
    assert GAP > 1.0
    own = [Speech("customer", 0.0, 2.0), Speech("customer", 3.0, 6.0)]
    other = [Speech("agent", taker_start, taker_start + BACKCHANNEL + 1.0)]
    assert len(build_turns(own, other, GAP, BACKCHANNEL)) == turns


@pytest.mark.parametrize("d", [-FRAME_S, 0.0, FRAME_S])
def test_an_agent_filler_starting_before_the_caller_stops_is_listening(d):
    # The caller talks 3.5-5.0 s; an agent 嗯 heard in the sound from 5.0 + d. Starting while
    # the caller still talks it is a backchannel (not counted); from their end on, a filler.
    out = feed(Engine(CFG, ("agent", "customer")),
               [*talk("agent", 0.0, 3.0), *talk("customer", 3.5, 5.0),
                Filler("agent", 5.0 + d, 5.6)], 7.0)
    assert out[-1].fields["filler_count"] == (1 if d >= 0 else 0)


@pytest.mark.parametrize("before", [-1, 0])
def test_a_bad_opening_word_counts_only_within_the_first_opening_units(before):
    # The agent's first words: `units` characters, then 喂 (a bad opening at a clause start),
    # each unit 0.25 s with its own word time. After fewer than opening_units units 喂 is
    # still the opening; after opening_units of them it is not.
    units = CFG.rules.greeting_incomplete.opening_units + before
    text = "好" * units + "，喂，您好"
    start, end = 1.0, 1.0 + 0.25 * count_units(text, "zh")
    said = Utterance("agent", start, end, text, tuple(word_units(text, start, end, 0.9, "zh")))
    out = feed(Engine(CFG, ("agent", "customer")),
               [SpeechStart("agent", start), Speech("agent", start, end), said], end + 10.0)
    assert out[-1].fields["greeting"]["bad_opening"] == ("喂" if before < 0 else None)


@pytest.mark.parametrize("d", [-FRAME_S, 0.0, FRAME_S])
def test_a_caller_pause_of_turn_gap_s_or_more_restarts_the_listening_time(d):
    # The caller talks 0-10 s, pauses turn_gap_s + d, then talks on for longer than
    # max_silent_listening_s; the agent says nothing. A shorter pause is inside one turn
    # (alerted at the limit from 0 s); from turn_gap_s on, the second turn is timed alone.
    limit = CFG.rules.backchannel_missing.max_silent_listening_s
    again = 10.0 + GAP + d
    out = feed(Engine(CFG, ("agent", "customer")),
               [*talk("customer", 0.0, 10.0), *talk("customer", again, again + limit + 1.0)],
               again + limit + 2.0)
    got = [(a.t, a.evidence["start"]) for a in out
           if isinstance(a, Alert) and a.rule == "backchannel.missing"]
    start = 0.0 if d < 0 else round(again, 3)
    assert got == [(pytest.approx(start + limit), start)]
