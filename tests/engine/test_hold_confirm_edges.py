"""An announced hold's confirmation and an unannounced one's record, on exact engine events
(mutation survivors of hold.py's ``_confirm_announced``, ``_confirm_due``, ``next_due`` and
``_unannounced_return``, issue #16).

From hold.py's docstring and config/default.toml: a hold begins when, soon after the agent
announced one, both sides fall silent for ``confirm_silence_s``; it starts where that silence
started. "Soon" is ``announce_window_s``: the announcement counts for a silence that starts
within that long after it (at exactly that long, still within). The ``hold_start`` record
(docs/contract.md) carries where the hold began, to the millisecond, ``announced`` and
``transfer``. A silence of ``unannounced_min_s`` or more that the agent ends with thanks was
a hold nobody announced: a hold on the record, not announced, no transfer. Limits and words
come from the shipped configuration.
"""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.engine.rules.hold import HoldRule
from monitor.frames import FRAME_S, HoldStart
from testkit.engine_feed import HANDOVER_S, feed, feed_steps, step_of, talk, ticks

CFG = load_config("zh-CN")
HOLD = CFG.rules.hold_too_long
D = FRAME_S
HOLD_WORDS = "请您稍等，我帮您查一下"
TRANSFER_WORDS = "我帮您转接到技术部，请您稍等"


def hold_starts(events, t_end: float) -> list[tuple[float, HoldStart]]:
    """Each ``hold_start`` the engine gives, with the step it is given in."""
    steps = feed_steps(Engine(CFG, ("agent", "customer")), events, t_end)
    return [(round(t, 3), r) for t, out in steps for r in out if isinstance(r, HoldStart)]


@pytest.mark.parametrize(("words", "transfer"), [(HOLD_WORDS, False), (TRANSFER_WORDS, True)],
                         ids=["hold", "transfer"])
@pytest.mark.parametrize("silent_from", [18.5, 18.51234], ids=["on_grid", "off_grid"])
def test_an_announced_silence_is_a_hold_from_its_start_once_it_lasts_the_confirm_time(
        words, transfer, silent_from):
    # Pins the hold_start of an announced hold late in a call (the announcement ends at 16 s,
    # the caller's 好的 at `silent_from`, 2.5 s later): given at the step where the silence has
    # lasted confirm_silence_s (on the grid: exactly that step, not the next), at where the
    # silence began to the millisecond, announced, and a transfer only for a transfer.
    events = [*talk("customer", 1.0, 12.0, "我想查一下上个月的话费"),
              *talk("agent", 12.5, 16.0, words), *talk("customer", 16.5, silent_from, "好的"),
              *talk("agent", silent_from + 8.0, silent_from + 10.0, "让您久等了")]
    assert silent_from - 16.0 <= HOLD.announce_window_s
    assert hold_starts(events, silent_from + 11.0) == [
        (step_of(silent_from + HOLD.confirm_silence_s),
         HoldStart(round(silent_from, 3), announced=True, transfer=transfer))]


@pytest.mark.parametrize("d", [-D, 0.0, D], ids=["below", "at", "above"])
def test_an_announcement_counts_for_a_silence_starting_up_to_the_window_after_it(d):
    # Pins announce_window_s's edge: the announcement ends at 3 s, the caller talks until
    # 3 s + announce_window_s + d, then both are silent for 6 s. Starting within the window
    # (at its very end too) the silence is a hold, confirmed confirm_silence_s in; starting
    # 20 ms later it is no announced hold.
    silent_from = 3.0 + HOLD.announce_window_s + d
    events = [*talk("agent", 1.0, 3.0, HOLD_WORDS), *talk("customer", 3.5, silent_from),
              *talk("agent", silent_from + 6.0, silent_from + 8.0, "好的，让您久等了")]
    expected = [(step_of(silent_from + HOLD.confirm_silence_s),
                 HoldStart(round(silent_from, 3), announced=True, transfer=False))]
    assert hold_starts(events, silent_from + 9.0) == (expected if d <= 0 else [])


def test_a_silence_ended_with_thanks_is_on_the_record_as_an_unannounced_hold():
    # Pins the summary's record of an unannounced hold (docs/contract.md summary.holds[]):
    # nobody announced the 6 s silence (unannounced_min_s or more, under the limit), the agent
    # ends it with thanks: from the silence's start to the agent's return, not announced,
    # thanked, and no transfer (nobody said 转接).
    minimum = CFG.rules.hold_unannounced.unannounced_min_s
    assert minimum <= 6.0 < HOLD.limit_s - HOLD.warn_before_s
    events = [*talk("agent", 1.0, 3.0, "好的，我看一下"), *talk("customer", 3.5, 4.5, "好的"),
              *talk("agent", 10.5, 12.5, "感谢您的耐心等待")]
    summary = feed(Engine(CFG, ("agent", "customer")), events, 14.0)[-1]
    assert summary.fields["holds"] == [{"start": 4.5, "end": 10.5, "duration": 6.0,
                                        "announced": False, "thanked": True,
                                        "transfer": False}]


def between(steps: list[float], after: float, before: float) -> list[float]:
    return [s for s in steps if step_of(after) < s < step_of(before)]


def test_the_hold_rule_is_not_ticked_while_someone_speaks():
    # Pins next_due while speech goes on (Rule.next_due: the engine skips a rule's ticks
    # until its tick could act; rules/base.py): the agent announces a hold, the caller then
    # talks from 3.5 s to 12 s. Nobody is silent, so nothing is due until an event (the
    # caller's segment handed over): no tick between the caller's start and that hand-over,
    # though the confirmation would be due 2 s after the announcement in a silence.
    events = [*talk("agent", 1.0, 3.0, HOLD_WORDS), *talk("customer", 3.5, 12.0)]
    got = ticks(CFG, HoldRule, events, 13.0)
    assert between(got, 3.5, 12.0 + HANDOVER_S) == []


def test_a_silence_too_late_for_the_announcement_is_not_ticked_for_its_confirmation():
    # Pins _confirm_due's "never if it began too long after the announcement": the caller
    # talks from 3.5 s until after announce_window_s past the announcement, then both are
    # silent for 9 s (under the hold limit's warning). Nothing of the hold rule is due in that
    # silence: once it has seen the silence begin, it is not ticked until the agent speaks.
    silent_from = 3.0 + HOLD.announce_window_s + 2.0
    back = silent_from + 9.0
    assert HOLD.limit_s - HOLD.warn_before_s > 9.0
    events = [*talk("agent", 1.0, 3.0, HOLD_WORDS), *talk("customer", 3.5, silent_from),
              *talk("agent", back, back + 1.0)]
    got = ticks(CFG, HoldRule, events, back + 2.0)
    assert between(got, silent_from + HANDOVER_S + D, back) == []
