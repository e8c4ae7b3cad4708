"""Holds the softphone reports (``CallEvent`` hold and resume) on exact engine events.

Added from mutation testing (docs/mutants.md): no fast test had an unannounced hold reported
by the softphone, a stray resume, or a softphone hold over a silence already heard as an
announced hold.
"""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.frames import FRAME_S, Alert, CallEvent, HoldEnd, HoldStart
from testkit.engine_feed import feed, talk

CFG = load_config("zh-CN")
HOLD = CFG.rules.hold_too_long


def run(events, t_end):
    return feed(Engine(CFG, ("agent", "customer")), events, t_end)


def test_an_unannounced_softphone_hold_is_flagged_at_its_resume():
    # Nothing announced: the softphone's hold at `start` and resume at `end` are the whole
    # evidence (no phrase; duration to the tenth of a second, start to the millisecond).
    start, end = 4.12345, 14.56789
    out = run([*talk("agent", 0.0, 3.0, "好的"), CallEvent(start, "hold"),
               CallEvent(end, "resume"), *talk("agent", end + 0.5, end + 2.0, "您好")],
              end + 3.0)
    got = [(a.t, a.evidence) for a in out if isinstance(a, Alert) and a.rule == "hold.unannounced"]
    assert got == [(round(end, 3), {"start": round(start, 3), "phrase": "-",
                                    "duration_s": round(end - start, 1)})]
    # the hold's records, to the millisecond
    assert [r for r in out if isinstance(r, HoldStart | HoldEnd)] == [
        HoldStart(round(start, 3), announced=False, transfer=False),
        HoldEnd(round(end, 3), round(start, 3))]
    assert out[-1].fields["holds"] == [
        {"start": round(start, 3), "end": round(end, 3), "duration": round(end - start, 3),
         "announced": False, "thanked": False, "transfer": False}]
    # 您好 is no thanks for waiting: flagged where those words end
    got = [(a.t, a.evidence) for a in out if isinstance(a, Alert) and a.rule == "hold.no_thanks"]
    assert got == [(round(end + 2.0, 3), {"start": round(start, 3)})]


def test_a_resume_without_a_hold_changes_nothing():
    out = run([*talk("agent", 0.0, 3.0, "好的"), CallEvent(4.0, "resume")], 6.0)
    assert out[-1].fields["holds"] == []
    assert not [a for a in out if isinstance(a, Alert) and a.rule.startswith("hold.")]


def test_a_softphone_hold_over_an_announced_silence_ends_only_at_its_resume():
    # 请您稍等, the caller agrees, silence from 4.5 s (an announced hold); the softphone then
    # reports the hold, so the agent's few words at 10 s (to a colleague, muted to the
    # caller) do not end it: the resume does.
    events = [*talk("agent", 0.0, 3.0, "请您稍等"), *talk("customer", 3.5, 4.5, "好的"),
              CallEvent(8.0, "hold"), *talk("agent", 10.0, 10.5), CallEvent(20.0, "resume"),
              *talk("agent", 20.5, 22.0, "让您久等了")]
    holds = run(events, 23.0)[-1].fields["holds"]
    assert [(h["start"], h["end"], h["announced"]) for h in holds] == [(4.5, 20.0, True)]


@pytest.mark.parametrize("d", [-FRAME_S, 0.0, FRAME_S])
def test_a_softphone_hold_is_announced_by_words_up_to_the_window_before_it(d):
    # The agent announces a transfer (words ending at 3 s), the caller answers until just
    # before the softphone's hold, announce_window_s + d after the words. Up to the window's
    # end (inclusive) the hold is announced, and a transfer as the words said; later, neither.
    hold_at = 3.0 + HOLD.announce_window_s + d
    events = [*talk("agent", 0.0, 3.0, "我帮您转接到技术部，请您稍等"),
              *talk("customer", 3.5, hold_at - 0.5, "好的好的"), CallEvent(hold_at, "hold"),
              CallEvent(hold_at + 8.0, "resume"),
              *talk("agent", hold_at + 8.5, hold_at + 10.0, "让您久等了")]
    out = run(events, hold_at + 11.0)
    announced = d <= 0
    assert [r for r in out if isinstance(r, HoldStart)] == [
        HoldStart(round(hold_at, 3), announced=announced, transfer=announced)]


@pytest.mark.parametrize("d", [-FRAME_S, 0.0, FRAME_S])
def test_words_from_just_before_the_resume_are_said_on_return(d):
    # The softphone's resume at 20 s may come just after the agent starts speaking: thanks
    # starting return_lead_s before it, or later, are said on return; starting earlier they
    # were said during the hold (muted to the caller), and the caller was not thanked.
    start = 20.0 - HOLD.return_lead_s + d
    events = [*talk("agent", 0.0, 3.0, "请您稍等"), *talk("customer", 3.5, 4.5, "好的"),
              CallEvent(5.0, "hold"), CallEvent(20.0, "resume"),
              *talk("agent", start, 22.0, "让您久等了")]
    out = run(events, 23.0)
    thanked = d >= 0
    assert out[-1].fields["holds"][0]["thanked"] is thanked
    assert [a.rule for a in out if isinstance(a, Alert) and a.rule == "hold.no_thanks"] == (
        [] if thanked else ["hold.no_thanks"])


def test_a_softphone_hold_ends_the_too_long_silence_before_it():
    # The agent stops at 3 s and nobody speaks: past limit_s the silence is a hold on the
    # record. The softphone's hold at 40 s ends that silence there, and starts its own hold.
    assert 3.0 + HOLD.limit_s < 40.0
    events = [*talk("agent", 0.0, 3.0, "好的"), CallEvent(40.0, "hold"),
              CallEvent(50.0, "resume"), *talk("agent", 50.5, 52.0, "让您久等了")]
    holds = run(events, 53.0)[-1].fields["holds"]
    assert [(h["start"], h["end"], h["duration"]) for h in holds] == [
        (3.0, 40.0, 37.0), (40.0, 50.0, 10.0)]
