"""Rings before pickup from the softphone's ringing time: a ring starts at the incoming call
and at every cadence cycle after it; the rule at the limit is that a ring that would start at
the answer's time (or later) is not counted. Checked at, just below and just above each
limit, for every cadence of the configuration."""

from __future__ import annotations

import re

import pytest

from monitor.config import load_config
from monitor.errors import CallmonitorError
from monitor.softphone.baresip import PhoneEvent
from monitor.softphone.call import CallTracker

STEP_S = 0.02  # the session's step: events reach it at step ends
CFG = load_config("zh-CN").softphone
PERIODS = {name: sum(getattr(CFG.cadences, name)) for name in ("CN", "NA", "UK", "EU")}


def rings_at_answer(period: float, answer_t: float) -> list[float]:
    """The rings a call answered at ``answer_t`` gives, polled every step as a session does."""
    warnings: list[str] = []
    tracker = CallTracker(PhoneEvent("incoming", "c1", "sip:c@x"), period, warnings.append)
    rings, t = [], STEP_S
    while t < answer_t - 1e-9:
        rings += [ev.t for ev in tracker.rings_before(t)]
        t = round(t + STEP_S, 6)
    events = tracker.take(PhoneEvent("answered", "c1"), answer_t)
    rings += [ev.t for ev in events if ev.event == "ring"]
    assert [ev.event for ev in events][-1] == "answer" and not warnings
    assert tracker.rings_before(answer_t + 60.0) == []  # none after the answer
    return rings


def test_each_profile_counts_in_its_country_cadence():
    assert load_config("zh-CN").softphone.ring_period_s == pytest.approx(5.0)  # CN 1 s / 4 s
    assert load_config("en-US").softphone.ring_period_s == pytest.approx(6.0)  # NA 2 s / 4 s
    assert pytest.approx({"CN": 5.0, "NA": 6.0, "UK": 3.0, "EU": 5.0}) == PERIODS


@pytest.mark.parametrize("cadence", sorted(PERIODS))
@pytest.mark.parametrize("cycles", [1, 2, 3])
def test_a_ring_at_the_answer_is_not_counted_one_just_before_is(cadence, cycles):
    period = PERIODS[cadence]
    limit = round(cycles * period, 6)
    at = rings_at_answer(period, limit)
    assert at == pytest.approx([k * period for k in range(cycles)])  # at the limit: not counted
    assert len(rings_at_answer(period, round(limit - STEP_S, 6))) == cycles
    assert len(rings_at_answer(period, round(limit + STEP_S, 6))) == cycles + 1


def test_the_first_ring_is_the_incoming_call_itself():
    assert rings_at_answer(5.0, STEP_S) == [0.0]


@pytest.mark.parametrize(("site", "problem"), [
    ('[softphone]\ncadence = "JP"\n', '[softphone] cadence = "JP" is not allowed'),
    ("[softphone.cadences]\nUK = [0.4, 0.2, 0.4]\n", "on and off times in pairs"),
    ("[softphone.cadences]\nEU = [1.0, 0.0]\n", "[softphone.cadences] EU[1] = 0.0"),
])
def test_a_site_cadence_that_cannot_be_counted_stops_the_load(site, problem, tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(site)
    with pytest.raises(CallmonitorError, match=re.escape(problem)) as err:
        load_config("zh-CN", site=path)
    assert str(path) in str(err.value)


def test_a_site_may_pick_another_cadence():
    assert load_config("en-US", {"softphone": {"cadence": "UK"}}).softphone.ring_period_s == (
        pytest.approx(3.0))
