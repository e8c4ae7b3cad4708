"""The pipeline without recognition against synthesised calls whose timing is known exactly.

The truth is each channel's speech islands, measured on the clean clips before mixing, and the
limits the scenario file states (``[limits]``, copied into the truth), never ``monitor``'s
configuration: a changed threshold there must fail here. The VAD closes a segment after
``hangover_s`` of silence, so a pause well longer than that must split a segment and a pause
well shorter must not; pauses within ``AMBIGUOUS_S`` of the hangover may go either way, and the
boundaries around them are optional.
"""

from __future__ import annotations

import itertools

import pytest

from monitor.config import load_config
from testkit.replay import merge, of_type, replay_records

BOUNDARY_TOL_S = 0.15
AMBIGUOUS_S = 0.1
SCENARIOS = ["demo_call", "dead_air", "overlap_click", "late_pickup_us", "en_basic"]


@pytest.fixture(scope="module")
def cfg():
    return load_config("zh-CN")


@pytest.fixture(scope="module")
def timelines(synth_call, cfg):
    """name -> (truth, records of the 16 kHz file, records of the 8 kHz mu-law copy)."""
    out = {}
    for name in SCENARIOS:
        call = synth_call(name)
        out[name] = (call.truth, replay_records(call.wav, cfg), replay_records(call.ulaw_8k, cfg))
    return out


def truth_boundaries(islands, hangover_s):
    """(definite starts, definite ends, all starts, all ends) of the truth for one channel."""
    segments = merge(islands, hangover_s - AMBIGUOUS_S)
    definite_starts, definite_ends = [segments[0][0]], [segments[-1][1]]
    for prev, seg in itertools.pairwise(segments):
        if seg[0] - prev[1] >= hangover_s + AMBIGUOUS_S:
            definite_starts.append(seg[0])
            definite_ends.append(prev[1])
    return (definite_starts, definite_ends, [s for s, _ in segments], [e for _, e in segments])


def near(t, candidates):
    return min((abs(t - c) for c in candidates), default=float("inf")) <= BOUNDARY_TOL_S


@pytest.mark.parametrize("variant", [1, 2], ids=["16k", "8k-mulaw"])
@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("channel", ["agent", "customer"])
def test_speech_segments_match_the_truth_within_150_ms(timelines, name, variant, channel):
    truth, records = timelines[name][0], timelines[name][variant]
    islands = truth["islands"][channel]
    found = of_type(records, "speech", channel=channel)
    must_start, must_end, may_start, may_end = truth_boundaries(islands,
                                                                truth["limits"]["hangover_s"])
    starts = [r["start"] for r in found]
    ends = [r["end"] for r in found]
    assert [t for t in must_start if not near(t, starts)] == []
    assert [t for t in must_end if not near(t, ends)] == []
    assert [t for t in starts if not near(t, may_start)] == []
    assert [t for t in ends if not near(t, may_end)] == []


@pytest.mark.parametrize("variant", [1, 2], ids=["16k", "8k-mulaw"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_pickup_and_rings_before_it(timelines, name, variant):
    truth, records = timelines[name][0], timelines[name][variant]
    summary = records[-1]
    assert summary["pickup_t"] == pytest.approx(truth["pickup_t"], abs=0.3)
    assert summary["rings_before_pickup"] == len(truth["rings"])
    for ring, expected in zip(of_type(records, "ring"), truth["rings"], strict=True):
        assert ring["start"] == pytest.approx(expected["start"], abs=0.1)
        assert ring["end"] == pytest.approx(expected["end"], abs=0.1)


def expected_dead_air(truth):
    """Silences on both sides after pickup longer than the scenario's dead-air limit."""
    limit_s = truth["limits"]["dead_air_s"]
    both = merge(truth["islands"]["agent"] + truth["islands"]["customer"], 0.0)
    after_pickup = [s for s in both if s[1] > truth["pickup_t"]]
    return [(a[1], b[0]) for a, b in itertools.pairwise(after_pickup)
            if b[0] - a[1] > limit_s]


@pytest.mark.parametrize("variant", [1, 2], ids=["16k", "8k-mulaw"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_dead_air_is_found_where_both_sides_are_silent_too_long(timelines, name, variant):
    truth, records = timelines[name][0], timelines[name][variant]
    expected = expected_dead_air(truth)
    found = records[-1]["dead_air"]
    assert len(found) == len(expected)
    for gap, (start, end) in zip(found, expected, strict=True):
        assert gap["start"] == pytest.approx(start, abs=0.3)
        assert gap["end"] == pytest.approx(end, abs=0.3)
    alerts = of_type(records, "alert", rule="dead_air")
    assert [a["t"] for a in alerts] == pytest.approx(
        [start + truth["limits"]["dead_air_s"] for start, _ in expected], abs=0.3)


def test_the_dead_air_scenario_really_has_dead_air(timelines):
    """Guards the test above against a scenario that stopped containing what it is named for."""
    assert len(expected_dead_air(timelines["dead_air"][0])) == 1


@pytest.mark.parametrize("variant", [1, 2], ids=["16k", "8k-mulaw"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_talk_ratio_within_5_points(timelines, name, variant):
    truth, records = timelines[name][0], timelines[name][variant]
    hangover_s = truth["limits"]["hangover_s"]
    talk = {c: sum(e - s for s, e in merge(truth["islands"][c], hangover_s))
            for c in ("agent", "customer")}
    expected = talk["agent"] / (talk["agent"] + talk["customer"])
    assert records[-1]["talk_ratio_agent"] == pytest.approx(expected, abs=0.05)


@pytest.mark.parametrize("variant", [1, 2], ids=["16k", "8k-mulaw"])
def test_clicks_are_not_speech(timelines, variant):
    truth, records = timelines["overlap_click"][0], timelines["overlap_click"][variant]
    assert len(truth["clicks"]) == 4
    for click in truth["clicks"]:
        hit = [r for r in of_type(records, "speech", channel=click["channel"])
               if r["start"] - 0.05 <= click["t"] <= r["end"] + 0.05]
        assert hit == [], f"click at {click['t']} s on {click['channel']} became speech"


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_8k_mulaw_copy_gives_the_same_timeline(timelines, name):
    _, wide, narrow = timelines[name]
    for channel in ("agent", "customer"):
        a = of_type(wide, "speech", channel=channel)
        b = of_type(narrow, "speech", channel=channel)
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert x["start"] == pytest.approx(y["start"], abs=BOUNDARY_TOL_S)
            assert x["end"] == pytest.approx(y["end"], abs=BOUNDARY_TOL_S)
