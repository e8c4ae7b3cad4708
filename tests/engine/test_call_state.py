"""The call state on hand-made events: events in, state out, at times placed by hand."""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.engine.rules.base import Rule
from monitor.engine.state import CallState
from monitor.frames import (
    CallEvent,
    HoldEnd,
    HoldStart,
    Pickup,
    Ring,
    Speech,
    SpeechStart,
    Utterance,
)


def state_after(events, channels=("agent", "customer")):
    state = CallState(channels, cadence_gap_s=0.5)
    pickups = [p for ev in events if (p := state.update(ev)) is not None]
    return state, pickups


def test_rings_count_until_the_agent_first_speaks_and_that_start_is_the_pickup():
    # A UK double ring (bursts 0.2 s apart) is one ring; the ring after pickup is not counted.
    state, pickups = state_after([
        Ring(0.5, 0.9, 425.0), Ring(1.1, 1.5, 425.0), Ring(3.5, 3.9, 425.0),
        SpeechStart("agent", 6.0), Ring(7.0, 8.0, 425.0), SpeechStart("customer", 9.0)])
    assert pickups == [Pickup(6.0, 2)]
    assert state.answered and state.pickup_t == 6.0 and state.rings == 2


def test_before_pickup_the_call_is_ringing_and_customer_speech_does_not_answer_it():
    state, pickups = state_after([Ring(0.5, 1.5, 450.0), SpeechStart("customer", 2.0),
                                  Speech("customer", 2.0, 3.0)])
    assert pickups == [] and not state.answered and state.pickup_t is None
    assert state.rings == 1


def test_the_softphone_answer_is_the_pickup_when_it_comes_before_the_agent_speaks():
    # The softphone counted three rings where the tones heard one: its count wins.
    state, pickups = state_after([
        Ring(14.5, 15.5, 450.0), *[CallEvent(1.0 + 4 * i, "ring") for i in range(3)],
        CallEvent(16.0, "answer"), CallEvent(17.0, "ring"), SpeechStart("agent", 21.0)])
    assert pickups == [Pickup(16.0, 3)]
    assert state.pickup_t == 16.0 and state.rings == 3 and state.signalled_rings == 3


def test_an_answer_after_the_agent_spoke_changes_nothing():
    state, pickups = state_after([SpeechStart("agent", 2.0), CallEvent(2.5, "answer")])
    assert pickups == [Pickup(2.0, 0)] and state.pickup_t == 2.0


def test_who_speaks_since_when_and_the_last_speech_end_per_side_and_overall():
    state, _ = state_after([SpeechStart("agent", 1.0), SpeechStart("customer", 2.5)])
    assert dict(state.speaking) == {"agent": 1.0, "customer": 2.5}
    assert state.last_end is None and state.last_speaker is None
    assert dict(state.last_end_of) == {"agent": None, "customer": None}
    for ev in (Speech("agent", 1.0, 3.0), Speech("customer", 2.5, 4.0),
               SpeechStart("agent", 5.0)):
        state.update(ev)
    assert dict(state.speaking) == {"agent": 5.0}
    assert state.last_end == 4.0 and state.last_speaker == "customer"
    assert dict(state.last_end_of) == {"agent": 3.0, "customer": 4.0}
    assert dict(state.talk_s) == {"agent": pytest.approx(2.0), "customer": pytest.approx(1.5)}


def test_the_side_whose_speech_ends_last_spoke_last_and_a_tie_goes_to_the_later_event():
    state, _ = state_after([SpeechStart("agent", 0.0), SpeechStart("customer", 1.0),
                            Speech("agent", 0.0, 6.0), Speech("customer", 1.0, 2.0)])
    assert state.last_end == 6.0 and state.last_speaker == "agent"
    state.update(SpeechStart("customer", 4.0))
    state.update(Speech("customer", 4.0, 6.0))
    assert state.last_speaker == "customer"


def test_a_hold_is_on_from_its_start_to_its_end():
    state, _ = state_after([SpeechStart("agent", 0.0), Speech("agent", 0.0, 3.0),
                            HoldStart(4.5, announced=True, transfer=True)])
    assert state.on_hold and state.hold == HoldStart(4.5, announced=True, transfer=True)
    assert state.hold_end_t is None
    state.update(HoldEnd(19.5, 4.5))
    assert not state.on_hold and state.hold is None and state.hold_end_t == 19.5


def test_a_mono_source_has_only_the_agent():
    state, pickups = state_after([SpeechStart("agent", 1.0), Speech("agent", 1.0, 2.0)],
                                 channels=("agent",))
    assert pickups == [Pickup(1.0, 0)]
    assert dict(state.last_end_of) == {"agent": 2.0} and dict(state.talk_s) == {"agent": 1.0}


class StateProbe(Rule):
    """Notes what the state says when each event reaches a rule. It borrows the id of a real
    rule so that the profile has a weight and messages for it."""

    id = "dead_air"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.seen = []

    def on_event(self, ev):
        self.seen.append((type(ev).__name__, self.state.answered, dict(self.state.speaking),
                          self.state.last_end, self.state.on_hold))
        return []


def test_a_rule_sees_each_event_with_the_state_already_including_it():
    engine = Engine(load_config("zh-CN"), ("agent", "customer"), rules=(StateProbe,))
    probe = engine._rules[0]
    records = []
    for ev in (CallEvent(1.0, "ring"), SpeechStart("agent", 2.0), Speech("agent", 2.0, 3.0),
               Utterance("agent", 2.0, 3.0, "您好"), SpeechStart("customer", 3.5)):
        records += engine.on_event(ev)
    assert [r for r in records if isinstance(r, Pickup)] == [Pickup(2.0, 1)]
    assert probe.seen == [
        ("CallEvent", False, {}, None, False),
        # The pickup reaches the rules before the speech start that made it.
        ("Pickup", True, {"agent": 2.0}, None, False),
        ("SpeechStart", True, {"agent": 2.0}, None, False),
        ("Speech", True, {}, 3.0, False),
        ("Utterance", True, {}, 3.0, False),
        ("SpeechStart", True, {"customer": 3.5}, 3.0, False),
    ]
