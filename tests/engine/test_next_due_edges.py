"""The timed rules are ticked only when something is due (mutation survivors of their
``next_due``, issue #16).

``Rule.next_due`` (rules/base.py) lets the engine skip a rule's ticks until the earliest time
its tick could act: "it may be early, never late" -- a late one is caught by
tests/engine/test_tick_due.py; an early one changes no record, only the cost the skipping is
for (ticking every rule at every step cost a tenth of a timing-only replay). These pin that
cost: through a long wait with no event, each timed rule is ticked only at the steps its
docstring names, where it acts (times placed off the 20 ms grid, so each lands inside a
step).
"""

from __future__ import annotations

from monitor.config import load_config
from monitor.engine.rules.hold import HoldRule
from monitor.engine.rules.overlap import Interruption
from monitor.engine.rules.silence import DeadAir
from monitor.frames import CallEvent
from testkit.engine_feed import HANDOVER_S, step_of, talk, ticks

CFG = load_config("zh-CN")


def after(steps: list[float], t: float) -> list[float]:
    return [s for s in steps if s > step_of(t)]


def test_a_hold_is_ticked_only_at_its_warning_and_its_limit():
    # The softphone holds the caller at `start`, right after the agent announced it, and
    # never resumes: after that event the hold rule acts only at its warning and its limit.
    hold = CFG.rules.hold_too_long
    start = 8.12345
    events = [*talk("customer", 1.0, 3.0, "我想查话费"),
              *talk("agent", 4.0, 7.0, "请您稍等，我帮您查一下"), CallEvent(start, "hold")]
    got = ticks(CFG, HoldRule, events, start + hold.limit_s + 2.0)
    assert after(got, start) == [step_of(start + hold.limit_s - hold.warn_before_s),
                                 step_of(start + hold.limit_s)]


def test_a_silence_is_ticked_only_when_it_becomes_dead_air():
    # Both sides silent from `end`: after the last event, dead air acts once, at its limit,
    # and then waits for speech.
    end = 5.01234
    events = [*talk("agent", 1.0, 3.0), *talk("customer", 3.5, end)]
    got = ticks(CFG, DeadAir, events, end + CFG.rules.dead_air.limit_s + 5.0)
    assert after(got, end + HANDOVER_S) == [step_of(end + CFG.rules.dead_air.limit_s)]


def test_an_agent_talking_over_the_caller_is_ticked_only_when_it_is_an_interruption():
    # The agent starts inside the caller's speech at `start`, both talk on: the rule acts
    # once, when the certain overlap (up to a VAD hangover ago) is longer than a backchannel
    # and the threshold, and not before (the run ends before either segment is handed over).
    start = 2.01234
    need = max(CFG.engine.backchannel_max_s, CFG.rules.interruption.min_overlap_s)
    events = [*talk("customer", 0.0, 20.0), *talk("agent", start, start + 8.0)]
    got = ticks(CFG, Interruption, events, start + 6.0)
    assert after(got, start) == [step_of(start + CFG.vad.hangover_s + need)]
