"""The engine's tick loop on exact events (mutation survivors of core.py's ``Engine.on_tick``,
issue #16).

``Engine.on_tick`` ticks, in their order, every rule whose ``next_due`` has come, and gives
what all of them found: two rules acting at the same 20 ms step both give their records
(README's rule table: a hold nearing its limit warns; the agent talking over the caller for
more than the threshold is an interruption, fired as soon as the overlap is certain).
Limits come from the shipped configuration.
"""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.engine.rules.base import Rule
from monitor.errors import CallmonitorError
from monitor.frames import Alert, CallEvent
from testkit.engine_feed import feed_steps, step_of, talk

CFG = load_config("zh-CN")


def test_two_rules_acting_at_one_step_both_give_their_alerts():
    # Pins that a step's records are gathered over all rules ticked in it, not only the last:
    # the softphone puts the caller on a transfer hold at `held`; the caller speaks up during
    # it and the agent talks over them from `cut_in`, placed so that the interruption becomes
    # certain in the very step the hold's warning is due. That step gives both alerts.
    hold, vad = CFG.rules.hold_too_long, CFG.vad
    held = 6.51234
    warn_at = held + hold.transfer_limit_s - hold.warn_before_s
    need = max(CFG.engine.backchannel_max_s, CFG.rules.interruption.min_overlap_s)
    cut_in = warn_at - vad.hangover_s - need - 0.002  # certain 2 ms before the warning
    assert step_of(cut_in + vad.hangover_s + need) == step_of(warn_at)
    events = [*talk("customer", 1.0, 3.0, "我想查一下上个月的话费"),
              *talk("agent", 3.5, 6.0, "请您稍等，我帮您查一下"),
              CallEvent(held, "hold", transfer=True),
              *talk("customer", 9.0, 20.0), *talk("agent", cut_in, 15.0)]
    steps = feed_steps(Engine(CFG, ("agent", "customer")), events, step_of(warn_at) + 0.5)
    got = [(r.rule, r.severity) for t, out in steps if round(t, 3) == step_of(warn_at)
           for r in out if isinstance(r, Alert)]
    assert got == [("hold.too_long", "warn"), ("interruption", "warn")]


def test_the_summary_gives_the_audio_processed_to_the_millisecond_and_the_callers_fields():
    # Pins Engine.finish's summary: duration_s is the audio processed, t_end, to the
    # millisecond (docs/contract.md), and the fields the caller of finish adds (the
    # pipeline's status, source ...) are in it; without any, finish still closes the call.
    fields = Engine(CFG, ("agent", "customer")).finish(6.01234, {"status": "complete"})[-1].fields
    assert fields["duration_s"] == 6.012 and fields["status"] == "complete"
    assert Engine(CFG, ("agent", "customer")).finish(6.0)[-1].fields["duration_s"] == 6.0


def test_a_softphone_answer_is_on_the_timeline_with_the_pickup_it_makes():
    # Pins Engine.on_event with an event that answers the call: it returns the event (a call
    # event belongs on the timeline, README) and then the pickup it caused.
    engine = Engine(CFG, ("agent", "customer"))
    out = engine.on_event(CallEvent(2.5, "answer"))
    assert [r.type for r in out[:2]] == ["call_event", "pickup"]
    assert out[0] == CallEvent(2.5, "answer") and out[1].t == 2.5


def test_a_rule_without_a_score_weight_is_a_configuration_error_naming_it():
    # Pins Engine's check of the score weights (every check made has a weight under
    # [score.weights]): a rule whose id has none stops the engine with an error the user can
    # fix, naming the id and where to add it, not a bare KeyError.
    class Unweighted(Rule):
        id = "demo.unweighted"

    with pytest.raises(CallmonitorError) as err:
        Engine(CFG, ("agent", "customer"), (Unweighted,))
    assert err.value.problem == "no score weight for demo.unweighted"
    assert "[score.weights]" in err.value.fix
