"""backchannel.missing's edges on exact engine events (mutation survivors of backchannel.py,
issue #16).

From the rule's docstring, README's rule table and the shipped ``[engine]`` and
``[rules."backchannel.missing"]``: the count runs from the last sign of listening (the
customer's turn start, or the end of the agent's last backchannel: an agent segment of at most
``backchannel_max_s``); the rule fires once the customer's speech has *certainly* reached
``max_silent_listening_s`` (an open segment may have ended up to one VAD hangover ago) while
their turn goes on (pauses under ``turn_gap_s`` inside it). An agent segment longer than a
backchannel is the agent taking the floor, which ends the customer's turn, from the moment the
agent has certainly spoken longer than a backchannel. A gap is recorded from the count's start
to the next backchannel, the floor, a new turn or the turn's end, to the millisecond
(docs/contract.md). The engine ticks the rule only after events and at its ``next_due``: the
agent turning into the floor, or the customer's open segment reaching the limit.
"""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.engine.rules.backchannel import BackchannelMissing
from monitor.frames import FRAME_S, Alert
from testkit.engine_feed import arrival, feed, feed_steps, step_of, talk, ticks

CFG = load_config("zh-CN")
LIMIT = CFG.rules.backchannel_missing.max_silent_listening_s
BC = CFG.engine.backchannel_max_s
GAP = CFG.engine.turn_gap_s
H = CFG.vad.hangover_s
D = FRAME_S
CHANNELS = ("agent", "customer")


def flagged(records):
    """(t, evidence start) of the backchannel alerts among ``records``."""
    return [(a.t, a.evidence["start"]) for a in records
            if isinstance(a, Alert) and a.rule == "backchannel.missing"]


def found(out):
    """The backchannel alerts of a run, and its summary's gaps."""
    return flagged(out), out[-1].fields["backchannel_gaps"]


def run(events, t_end, cfg=CFG):
    return found(feed(Engine(cfg, CHANNELS), events, t_end))


@pytest.mark.parametrize("length", [BC - 0.1, BC, BC + D])
def test_an_agent_segment_up_to_a_backchannels_length_restarts_the_count(length):
    # Pins "segments no longer than backchannel_max_s are backchannels" inside one long
    # customer segment (0-30 s): a 0.9 s 对 (longer than backchannel_max_s less a hangover:
    # an open segment is not yet known to be longer) and one of exactly the limit restart the
    # count at their end; one 20 ms longer is the agent taking the floor, which ends the
    # customer's turn: nothing is flagged and no gap recorded.
    end = 5.0 + length
    got = run([*talk("customer", 0.0, 30.0), *talk("agent", 5.0, end)], 31.0)
    if length <= BC:
        assert got == ([(round(end + LIMIT, 3), round(end, 3))],
                       [{"start": round(end, 3), "end": 30.0}])
    else:
        assert got == ([], [])


@pytest.mark.parametrize("agent_start", [5.0, 20.0])
def test_the_agent_talking_over_the_caller_ends_their_turn_while_still_talking(agent_start):
    # Pins the floor taken during the agent's speech, long before its segment is handed over:
    # the agent talks over the 0-30 s customer segment from agent_start for 8 s. From 5 s the
    # customer's turn ends before the limit: no alert. From 20 s it had already reached the
    # limit at 15 s: alerted then, the gap ending where the agent took the floor.
    events = [*talk("customer", 0.0, 30.0), *talk("agent", agent_start, agent_start + 8.0)]
    if agent_start < LIMIT:
        assert run(events, 31.0) == ([], [])
    else:
        assert run(events, 31.0) == ([(LIMIT, 0.0)], [{"start": 0.0, "end": agent_start}])


def test_the_count_and_its_gap_are_kept_to_the_millisecond():
    # Pins the rounding of the gap (and of the alert's start): a customer talking from
    # 1.01234 s to 30.05678 s is flagged at 16.012 s, the gap from 1.012 s to their end, 30.057.
    assert run(talk("customer", 1.01234, 30.05678), 31.0) == (
        [(round(1.01234 + LIMIT, 3), 1.012)], [{"start": 1.012, "end": 30.057}])


@pytest.mark.parametrize("d", [-D, 0.0])
def test_a_new_turn_closes_the_open_gap_where_it_starts(d):
    # Pins the turn's end by a pause: the customer talks 0-20 s (flagged at 15 s), pauses
    # turn_gap_s + d and talks 8 s more. A pause under turn_gap_s is inside the turn: one gap,
    # to the end of their speech. A pause of exactly turn_gap_s starts a new turn, which closes
    # the gap at its start; the 8 s turn is not flagged.
    again = 20.0 + GAP + d
    got = run([*talk("customer", 0.0, 20.0), *talk("customer", again, again + 8.0)], again + 9.0)
    end = again + 8.0 if d < 0 else again
    assert got == ([(LIMIT, 0.0)], [{"start": 0.0, "end": round(end, 3)}])


def test_a_backchannel_closes_the_open_gap_where_it_starts():
    # Pins a late backchannel: the customer talks 0-30 s, flagged at 15 s; the agent's 嗯 at
    # 20-20.5 s closes the gap at its start and starts the count again (9.5 s to their end:
    # not flagged).
    got = run([*talk("customer", 0.0, 30.0), *talk("agent", 20.0, 20.5)], 31.0)
    assert got == ([(LIMIT, 0.0)], [{"start": 0.0, "end": 20.0}])


@pytest.mark.parametrize("d", [-D, 0.0, D])
def test_a_turn_gap_shorter_than_the_hangover_still_flags_exactly_the_limit(d):
    # Pins "talking for exactly the limit is enough" when a site's turn gap is shorter than the
    # VAD hangover: the customer's one segment of max_silent_listening_s + d is handed over a
    # hangover after its end, when that pause is already a turn gap; the speech reached the
    # limit while the turn went on, so it is flagged (below the limit, not).
    cfg = load_config("zh-CN", {"engine": {"turn_gap_s": H - 0.05},
                                "asr": {"phrase_gap_s": H - 0.1}})
    assert cfg.engine.turn_gap_s < cfg.vad.hangover_s
    got, _ = run(talk("customer", 0.0, LIMIT + d), LIMIT + 2.0, cfg)
    assert got == ([(LIMIT, 0.0)] if d >= 0 else [])


def test_the_alert_comes_as_soon_as_the_limit_is_certain():
    # Pins when the alert is given, while the customer still talks (their segment is handed
    # over only at 30.3 s): at the first step at which their speech up to one hangover ago
    # reaches the limit.
    start = 1.01234
    steps = [round(t, 3) for t, records in
             feed_steps(Engine(CFG, CHANNELS), talk("customer", start, 30.0), 31.0)
             if flagged(records)]
    assert steps == [step_of(start + H + LIMIT)]


def test_an_agent_turning_into_the_floor_at_the_limit_does_not_stop_the_alert():
    # Pins "longer than a backchannel" on the clock, where both edges meet at one step: there
    # the customer's certain speech is exactly the limit and the agent's (started 1 s before)
    # exactly backchannel_max_s, so the agent may still have said a backchannel: the turn goes
    # on and the alert comes. (At the next step the agent has taken the floor.)
    edge = 900 * FRAME_S  # a step time, as the feed makes it
    agent, customer = edge - H - BC, edge - H - LIMIT
    assert edge - H - agent == BC  # the agent's certain speech at that step, as the rule sums it
    events = [*talk("customer", customer, customer + 30.0), *talk("agent", agent, agent + 3.0)]
    steps = [(round(t, 3), flagged(records))
             for t, records in feed_steps(Engine(CFG, CHANNELS), events, edge + 1.0)]
    assert [(t, a) for t, a in steps if a] == [(edge, [(round(customer + LIMIT, 3),
                                                        round(customer, 3))])]


def after_events(events, acts: list[float]) -> list[float]:
    """The steps the rule must be ticked at: the first of the call (every rule starts due), the
    first after each event, and where it acts."""
    return sorted({FRAME_S} | {step_of(arrival(ev)) for ev in events} | set(acts))


@pytest.mark.parametrize("case", ["alone", "backchannel", "floor", "agent_alone"])
def test_the_rule_is_ticked_only_after_events_and_where_it_acts(case):
    # Pins next_due (times off the 20 ms grid, each edge inside a step): a customer talking on
    # alone is ticked only when their certain speech reaches the limit; a backchannel inside
    # the turn not while the agent speaks (it is handed over first); an agent talking over the
    # caller once, when they have certainly spoken longer than a backchannel (then no turn is
    # open); an agent talking with no customer turn open never. Each run ends before the
    # customer's segment is handed over.
    s, a = 1.01234, 5.01234
    events = talk("customer", s, 40.0) if case != "agent_alone" else []
    acts = {"alone": [s + H + LIMIT], "backchannel": [a + 0.5 + H + LIMIT],
            "floor": [a + H + BC], "agent_alone": []}[case]
    if case in ("backchannel", "floor", "agent_alone"):
        events += talk("agent", a, a + (0.5 if case == "backchannel" else 8.0))
    got = ticks(CFG, BackchannelMissing, events, 25.0)
    assert got == after_events([ev for ev in events if arrival(ev) < 25.0],
                               [step_of(t) for t in acts])
