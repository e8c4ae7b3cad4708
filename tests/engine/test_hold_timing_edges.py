"""When the hold rule is ticked, what announces a hold, and how holds still open when the call
ends are closed (mutation survivors of hold.py's ``__init__``, ``_confirm_due``,
``_silence_due`` and ``finish``, issue #16).

From hold.py's docstring: a hold begins when, soon after the agent announced one, both sides
fall silent for ``confirm_silence_s``; a transfer's limit is ``transfer_limit_s``
(DESIGN.md: "a transferred caller must not wait more than 10 s"), so saying the caller is
being transferred announces a hold (config/zh-CN.toml's ``hold.transfer`` phrases). A silence
nobody announced is timed against the hold limit once the agent has spoken (a warning
``warn_before_s`` before it, then the violation) and is on the record once it reaches the
limit. ``Rule.next_due`` (rules/base.py) lets the engine skip the ticks before the rule can
act. docs/contract.md (summary ``holds[]``): every hold has an end (the call's end for one
still open) and ``thanked`` is null if the call ended before that was known. README's rule
table: on return from a hold the agent must thank the caller. Limits and words come from the
shipped configuration.
"""

from __future__ import annotations

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.engine.rules.hold import HoldRule
from monitor.frames import Alert, CallEvent, HoldStart
from testkit.engine_feed import HANDOVER_S, feed, step_of, talk, ticks

CFG = load_config("zh-CN")
HOLD = CFG.rules.hold_too_long
ASK = talk("customer", 1.0, 3.0, "我想查一下上个月的话费")


def run(events, t_end: float):
    return feed(Engine(CFG, ("agent", "customer")), events, t_end)


def test_saying_the_caller_is_being_transferred_announces_a_transfer_hold():
    # Pins that a transfer phrase alone (no 请您稍等) announces a hold: the silence after
    # 我把电话转到技术部门 is a hold once it lasts confirm_silence_s, a transfer, warned and
    # violated at the transfer limit (not timed as a silence nobody announced, whose limit
    # is the longer limit_s).
    end = 6.01234
    events = [*ASK, *talk("agent", 3.5, end, "好的，我把电话转到技术部门")]
    out = run(events, end + HOLD.transfer_limit_s + 1.0)
    assert [r for r in out if isinstance(r, HoldStart)] == [
        HoldStart(round(end, 3), announced=True, transfer=True)]
    assert [(a.t, a.severity, a.evidence["transfer"], a.evidence["announced"])
            for a in out if isinstance(a, Alert) and a.rule == "hold.too_long"] == [
        (round(end + HOLD.transfer_limit_s - HOLD.warn_before_s, 3), "warn", True, True),
        (round(end + HOLD.transfer_limit_s, 3), "violation", True, True)]


def test_an_announced_silence_is_not_ticked_before_it_can_be_confirmed():
    # Pins _confirm_due: after the announcement is handed over, both sides are silent; the
    # hold rule has nothing to do until the silence has lasted confirm_silence_s, so the
    # engine ticks it next at the step of that confirmation, not before.
    end = 6.01234
    events = [*ASK, *talk("agent", 3.5, end, "请您稍等，我帮您查一下")]
    got = ticks(CFG, HoldRule, events, end + HOLD.confirm_silence_s + 1.0)
    handed_over, confirmed = step_of(end + HANDOVER_S), step_of(end + HOLD.confirm_silence_s)
    assert [s for s in got if handed_over < s <= confirmed] == [confirmed]


UNANNOUNCED_END = 5.01234
UNANNOUNCED = [*ASK, *talk("agent", 3.5, UNANNOUNCED_END, "您上个月的话费是五十八元")]


def test_a_silence_nobody_announced_is_ticked_only_at_its_warning_and_its_limit():
    # Pins _silence_due: the agent answers (no hold announced), then both are silent past
    # the hold limit. After the answer is handed over, the hold rule acts only at the
    # silence's warning and at its limit, and is ticked only at those steps.
    got = ticks(CFG, HoldRule, UNANNOUNCED, UNANNOUNCED_END + HOLD.limit_s + 2.0)
    assert [s for s in got if s > step_of(UNANNOUNCED_END + HANDOVER_S)] == [
        step_of(UNANNOUNCED_END + HOLD.limit_s - HOLD.warn_before_s),
        step_of(UNANNOUNCED_END + HOLD.limit_s)]


def test_a_silence_past_the_limit_at_the_calls_end_is_a_hold_ending_there():
    # Pins finish closing the timed silence: it reached the limit (so it is on the record)
    # and nobody spoke again before the call ended at 40 s: the hold ends at the call's
    # end, not announced, thanked unknown (null), no transfer.
    summary = run(UNANNOUNCED, 40.0)[-1]
    assert summary.fields["holds"] == [
        {"start": round(UNANNOUNCED_END, 3), "end": 40.0,
         "duration": round(40.0 - UNANNOUNCED_END, 3), "announced": False, "thanked": None,
         "transfer": False}]


def test_an_announced_hold_still_on_at_the_calls_end_ends_there():
    # Pins finish ending the open hold: announced at 3.5-6 s, confirmed by the silence, the
    # caller still waiting when the call ends at 20 s (before any warning).
    events = [*ASK, *talk("agent", 3.5, 6.0, "请您稍等，我帮您查一下")]
    assert 6.0 + HOLD.limit_s - HOLD.warn_before_s > 20.0
    summary = run(events, 20.0)[-1]
    assert summary.fields["holds"] == [
        {"start": 6.0, "end": 20.0, "duration": 14.0, "announced": True, "thanked": None,
         "transfer": False}]


def test_a_call_ending_right_after_a_hold_with_no_words_gives_no_thanks_at_its_end():
    # Pins finish judging the thanks of a hold just ended: the softphone resumes at 16 s and
    # the call ends 1 s later with not a word from the agent: the caller was not thanked,
    # said (with nothing said on return to stamp it at) at the call's end.
    events = [*ASK, *talk("agent", 3.5, 6.0, "请您稍等，我帮您查一下"),
              CallEvent(6.5, "hold"), CallEvent(16.0, "resume")]
    out = run(events, 17.0)
    assert [(a.t, a.evidence) for a in out
            if isinstance(a, Alert) and a.rule == "hold.no_thanks"] == [(17.0, {"start": 6.5})]
    assert [h["thanked"] for h in out[-1].fields["holds"]] == [False]
