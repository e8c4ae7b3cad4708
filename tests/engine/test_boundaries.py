"""Every threshold of the rule table, just below, at and just above its limit (issue #16).

The engine gets exact events built here, times placed around each limit, and the limits come
from the shipped configuration (``CFG.rules.<rule>.<field>``), so these follow a site's change;
what happens *at* a limit is said in each test and is what README's rule table says. The last
tests pin the shipped values to the numbers README's table promises, so a changed default is
noticed too. No audio, no models: the whole file runs in seconds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.frames import FRAME_S, Alert, CallEvent, Filler, Pickup, Ring
from testkit.engine_feed import feed, talk

CFG = load_config("zh-CN")
RULES = CFG.rules
D = FRAME_S  # "just below / above": one 20 ms step, the engine's resolution
SIDES = (-D, 0.0, D)  # below, at, above a limit
README = Path(__file__).resolve().parents[2] / "README.md"


def run(events, t_end, cfg=CFG, channels=("agent", "customer")):
    return feed(Engine(cfg, channels), events, t_end)


def alerts(out, rule, severity=None):
    """(t, evidence) of the alerts of ``rule`` (of one severity, if given)."""
    return [(a.t, a.evidence) for a in out if isinstance(a, Alert) and a.rule == rule
            and severity in (None, a.severity)]


def at(out, rule, severity=None):
    return [round(t, 3) for t, _ in alerts(out, rule, severity)]


def over(d):
    """Whether a quantity ``d`` from its limit is past it (the expected answer for "more than")."""
    return d > 0


# --- ring.late_pickup --------------------------------------------------------------------------

def ringing(rings, gap=4.0, burst=1.0):
    """``rings`` ring bursts from 0.5 s, ``gap`` apart; returns them and when the last ends."""
    bursts = [Ring(0.5 + i * (burst + gap), 0.5 + i * (burst + gap) + burst, 450.0)
              for i in range(rings)]
    return bursts, bursts[-1].end if bursts else 0.0


@pytest.mark.parametrize("d", [-1, 0, 1])
def test_late_pickup_after_more_than_max_rings(d):
    # At max_rings rings the pickup is in time; one ring more is late (warned at pickup).
    rings = RULES.ring_late_pickup.max_rings + d
    bursts, last = ringing(rings)
    pickup = last + 1.0
    out = run([*bursts, *talk("agent", pickup, pickup + 2.0)], pickup + 3.0)
    assert [r for r in out if isinstance(r, Pickup)] == [Pickup(pickup, rings)]
    assert at(out, "ring.late_pickup", "warn") == ([pickup] if d > 0 else [])


@pytest.mark.parametrize("d", SIDES)
def test_ring_bursts_closer_than_the_cadence_gap_are_one_ring(d):
    # Bursts less than cadence_gap_s apart are one ring (a UK double ring); exactly that far
    # apart, or more, they are two.
    gap = CFG.tones.cadence_gap_s + d
    bursts = [Ring(1.0, 1.5, 425.0), Ring(1.5 + gap, 2.0 + gap, 425.0)]
    out = run([*bursts, *talk("agent", 5.0, 6.0)], 7.0)
    assert out[-1].fields["rings_before_pickup"] == (1 if d < 0 else 2)


@pytest.mark.parametrize("heard", ["tones", "softphone"])
def test_rings_after_pickup_are_not_counted(heard):
    # max_rings before the pickup (in time), then two more after it (a tone leaking on the
    # line, a softphone repeating itself): still max_rings, and no late pickup.
    limit = RULES.ring_late_pickup.max_rings
    bursts, last = ringing(limit)
    events = list(bursts) if heard == "tones" else [CallEvent(b.start, "ring") for b in bursts]
    pickup = last + 1.0
    after = [pickup + 3.0, pickup + 8.0]
    events += ([Ring(t, t + 1.0, 450.0) for t in after] if heard == "tones"
               else [CallEvent(t, "ring") for t in after])
    out = run([*events, *talk("agent", pickup, pickup + 2.0)], pickup + 12.0)
    assert out[-1].fields["rings_before_pickup"] == limit
    assert alerts(out, "ring.late_pickup") == []


@pytest.mark.parametrize("softphone_late", [False, True])
def test_the_softphone_ring_count_beats_the_tones(softphone_late):
    # The tones and the softphone disagree across the limit: the softphone decides.
    limit = RULES.ring_late_pickup.max_rings
    signalled, heard = (limit + 1, limit) if softphone_late else (limit, limit + 1)
    bursts, last = ringing(heard)
    pickup = max(last, 4.0 * signalled) + 1.0
    events = [*bursts, *[CallEvent(0.5 + 4.0 * i, "ring") for i in range(signalled)],
              *talk("agent", pickup, pickup + 2.0)]
    out = run(events, pickup + 3.0)
    assert [r for r in out if isinstance(r, Pickup)] == [Pickup(pickup, signalled)]
    assert at(out, "ring.late_pickup", "warn") == ([pickup] if softphone_late else [])


# --- interruption ------------------------------------------------------------------------------

@pytest.mark.parametrize("d", SIDES)
def test_interruption_needs_an_overlap_of_more_than_the_threshold(d):
    # The customer talks 0-5 s; the agent starts inside and talks on past them. An overlap of
    # exactly min_overlap_s is not an interruption ("more than 0.5 s"); alerted at start + limit.
    limit = RULES.interruption.min_overlap_s
    start = 5.0 - (limit + d)
    out = run([*talk("customer", 0.0, 5.0), *talk("agent", start, 8.0)], 9.0)
    assert at(out, "interruption") == ([round(start + limit, 3)] if over(d) else [])
    assert [round(i["overlap_s"], 3) for i in out[-1].fields["interruptions"]] == (
        [round(limit + d, 3)] if over(d) else [])


@pytest.mark.parametrize("d", SIDES)
def test_an_agent_segment_inside_the_callers_speech_is_a_backchannel_up_to_its_limit(d):
    # The agent speaks inside a 0-8 s customer segment, for backchannel_max_s + d: up to that
    # long it is a backchannel (嗯, 对), not an interruption; longer, it interrupted.
    length = CFG.engine.backchannel_max_s + d
    out = run([*talk("customer", 0.0, 8.0), *talk("agent", 3.0, 3.0 + length)], 9.0)
    limit = RULES.interruption.min_overlap_s
    assert at(out, "interruption") == ([3.0 + limit] if over(d) else [])


# --- dead_air ----------------------------------------------------------------------------------

@pytest.mark.parametrize("d", SIDES)
def test_dead_air_is_a_silence_of_more_than_the_limit(d):
    # Both sides silent from 5.0 s until the customer speaks: a silence of exactly limit_s
    # ends as the limit is reached and is not dead air; a longer one is alerted at the limit.
    limit = RULES.dead_air.limit_s
    back = 5.0 + limit + d
    events = [*talk("agent", 1.0, 3.0), *talk("customer", 3.5, 5.0), *talk("customer", back,
                                                                            back + 1.0)]
    out = run(events, back + 2.0)
    assert at(out, "dead_air") == ([5.0 + limit] if over(d) else [])


# --- hold.too_long, hold.unannounced, hold.no_thanks -------------------------------------------

def hold_call(announce, silence_s, back="让您久等了"):
    """Agent speaks 0-3 s (``announce``), customer says 好的 3.5-4.5, both silent for
    ``silence_s`` (the hold, from 4.5 s), then the agent is back with ``back``."""
    back_at = 4.5 + silence_s
    return [*talk("agent", 0.0, 3.0, announce), *talk("customer", 3.5, 4.5, "好的"),
            *talk("agent", back_at, back_at + 2.0, back)], back_at


HOLD = RULES.hold_too_long


@pytest.mark.parametrize(("announce", "limit"), [
    ("请您稍等，我帮您查询一下", HOLD.limit_s),
    ("我帮您转接到技术部，请您稍等", HOLD.transfer_limit_s),
], ids=["hold", "transfer"])
@pytest.mark.parametrize("mark", ["warn", "violation"])
@pytest.mark.parametrize("d", SIDES)
def test_a_hold_is_warned_of_and_too_long_only_once_it_passes_each_mark(announce, limit, mark, d):
    # The hold starts at 4.5 s. A hold that ends exactly at a mark (warn_before_s before the
    # limit, or the limit) does not reach it; one 20 ms longer is alerted at the mark.
    warn_at = limit - HOLD.warn_before_s
    length = (warn_at if mark == "warn" else limit) + d
    events, back_at = hold_call(announce, length)
    out = run(events, back_at + 3.0)
    expected = [(4.5 + warn_at, "warn")] if length > warn_at else []
    expected += [(4.5 + limit, "violation")] if length > limit else []
    assert [(round(t, 3), e["limit_s"]) for t, e in alerts(out, "hold.too_long")] == [
        (round(t, 3), limit) for t, _ in expected]
    assert [a.severity for a in out if isinstance(a, Alert) and a.rule == "hold.too_long"] == [
        s for _, s in expected]


@pytest.mark.parametrize("d", SIDES)
def test_a_silence_ended_with_thanks_is_an_unannounced_hold_from_the_minimum_on(d):
    # Nobody announced it; the agent ends it thanking the caller for waiting. A silence of
    # unannounced_min_s "or more" was a hold (flagged when the thanks end); shorter, it was not.
    minimum = RULES.hold_unannounced.unannounced_min_s
    events, back_at = hold_call("好的，我看一下", minimum + d, "感谢您的耐心等待")
    out = run(events, back_at + 3.0)
    assert at(out, "hold.unannounced") == ([round(back_at + 2.0, 3)] if d >= 0 else [])


@pytest.mark.parametrize("d", SIDES)
def test_thanks_count_when_they_start_within_the_return_window(d):
    # An announced 10 s hold ends at 14.5 s with 好的先生; the thanks start return_window_s + d
    # after the hold's end. Starting at the window's end still counts; later, the caller was
    # not thanked (hold.no_thanks, stamped at the end of the words that came back).
    window = HOLD.return_window_s
    events, back_at = hold_call("请您稍等", 10.0, "好的先生")
    thanks = back_at + window + d
    events += talk("agent", thanks, thanks + 2.0, "让您久等了")
    out = run(events, thanks + 3.0)
    assert out[-1].fields["holds"][0]["thanked"] is not over(d)
    assert at(out, "hold.no_thanks") == ([back_at + 2.0] if over(d) else [])


# --- filler.excess -----------------------------------------------------------------------------

FILLER = RULES.filler_excess


def per_min_count(talk_s):
    """The filler count that is exactly max_per_min over ``talk_s`` of talk (a whole number for
    the talk times used here)."""
    count = FILLER.max_per_min * max(talk_s, FILLER.min_talk_s) / 60.0
    assert count.is_integer(), "pick a talk time that makes the limit a whole count"
    return int(count)


@pytest.mark.parametrize("talk_s", [FILLER.min_talk_s / 2, FILLER.min_talk_s * 1.5],
                         ids=["under min_talk_s", "over min_talk_s"])
@pytest.mark.parametrize("d", [-1, 0, 1])
def test_fillers_alert_above_the_rate_per_minute_of_agent_talk(talk_s, d):
    # The agent talks talk_s in one segment, then says fillers (嗯, heard in the sound) with
    # pauses between. Exactly max_per_min a minute of talk (at least min_talk_s of it) is
    # allowed; one filler more is "more than 4 a minute", alerted at that filler's end.
    count = per_min_count(talk_s) + d
    start = talk_s + 1.0
    fillers = [Filler("agent", start + i, start + i + 0.4) for i in range(count)]
    out = run([*talk("agent", 0.0, talk_s), *fillers], start + count + 1.0)
    assert out[-1].fields["filler_count"] == count
    assert at(out, "filler.excess") == ([round(fillers[-1].end, 3)] if d > 0 else [])


# --- rate.too_fast and rate.too_slow -----------------------------------------------------------

SPAN_S = 12.0  # each utterance; two of them fill more than min_window_s


@pytest.mark.parametrize(("rule", "limit"), [
    ("rate.too_fast", RULES.rate_too_fast.too_fast_above),
    ("rate.too_slow", RULES.rate_too_slow.too_slow_below),
])
@pytest.mark.parametrize("d", [-1, 0, 1])
def test_the_pace_band_is_left_only_beyond_its_limits(rule, limit, d):
    # Two 12 s agent utterances of the same length in characters: the window's pace is
    # 60 * chars / 12. At exactly too_fast_above (or too_slow_below) the pace is in the band;
    # one character an utterance more (fewer) leaves it, alerted as the 2nd utterance ends.
    chars = limit * SPAN_S / 60.0
    assert chars.is_integer(), "pick SPAN_S so that the limit is a whole count"
    assert RULES.rate_too_fast.min_window_s <= 2 * SPAN_S
    chars = int(chars) + (d if rule == "rate.too_fast" else -d)
    events = [*talk("agent", 0.0, SPAN_S, "话" * chars),
              *talk("agent", SPAN_S + 1.0, 2 * SPAN_S + 1.0, "话" * chars)]
    out = run(events, 2 * SPAN_S + 2.0)
    fired = [(a.rule, a.t) for a in out if isinstance(a, Alert) and a.rule.startswith("rate.")]
    assert fired == ([(rule, 2 * SPAN_S + 1.0)] if d > 0 else [])
    window = [m.value for m in out if m.type == "metric" and m.name == "agent_rate_window"]
    assert window == [pytest.approx(60.0 * chars / SPAN_S)]


# --- volume.too_loud ---------------------------------------------------------------------------

@pytest.mark.parametrize("d", [-0.1, 0.0, 0.1])
def test_an_agent_phrase_is_too_loud_only_above_the_limit(d):
    # A phrase whose mean speech level is exactly max_level_dbfs is allowed ("above -10 dBFS").
    level = RULES.volume_too_loud.max_level_dbfs + d
    length = RULES.volume_too_loud.min_segment_s + 1.0
    out = run(talk("agent", 1.0, 1.0 + length, level_dbfs=level), length + 2.0)
    assert at(out, "volume.too_loud") == ([1.0 + length] if over(d) else [])


# --- backchannel.missing -----------------------------------------------------------------------

@pytest.mark.parametrize("d", SIDES)
def test_a_caller_talking_for_the_limit_without_a_backchannel_is_flagged(d):
    # The customer talks from 0 s in segments with short pauses (one turn), for
    # max_silent_listening_s + d in all, and the agent says nothing. Talking for the limit
    # is enough ("talks for 15 s"): alerted at the limit; a turn ending before it is not.
    limit = RULES.backchannel_missing.max_silent_listening_s
    end = limit + d
    events = [*talk("customer", 0.0, end / 2 - 0.25), *talk("customer", end / 2 + 0.25, end)]
    out = run(events, end + 3.0)
    assert at(out, "backchannel.missing") == ([limit] if d >= 0 else [])


# --- closing.incomplete ------------------------------------------------------------------------

@pytest.mark.parametrize("d", SIDES)
def test_closing_phrases_count_only_within_the_last_window(d):
    # The agent asks 还有什么 and thanks the caller in words ending at 23 s; the call's last
    # speech (the customer's) ends window_s + d later. Words ending exactly window_s before
    # the end are inside the closing window; earlier ones are not the closing, which fails.
    window = RULES.closing_incomplete.window_s
    last = 23.0 + window + d
    events = [*talk("agent", 0.0, 12.0, "您好诚美客服我是小王请问有什么可以帮您"),
              *talk("agent", 20.0, 23.0, "请问还有什么可以帮您？感谢您的来电"),
              *talk("customer", 24.0, last, "好的")]
    out = run(events, last + 1.0)
    assert out[-1].fields["closing_ok"] is not over(d)
    found = [e["missing"] for _, e in alerts(out, "closing.incomplete")]
    assert found == (["asked_anything_else, thanked"] if over(d) else [])


# --- the shipped limits are the README's -------------------------------------------------------

def readme_rules():
    """README's rule table: rule id -> what its row says."""
    rows = re.findall(r"^\| `([a-z_.]+)` \| (.+) \|$", README.read_text(), flags=re.M)
    return dict(rows)


# (rule id, what the row says with the number as a group, the setting it must equal)
PROMISES = [
    ("ring.late_pickup", r"more than (\d+) rings", lambda c: c.rules.ring_late_pickup.max_rings),
    ("ring.late_pickup", r"bursts less than ([\d.]+) s apart", lambda c: c.tones.cadence_gap_s),
    ("hold.too_long", r"warn ([\d.]+) s before", lambda c: c.rules.hold_too_long.warn_before_s),
    ("hold.too_long", r"passes it \(([\d.]+) s;", lambda c: c.rules.hold_too_long.limit_s),
    ("hold.too_long", r"; ([\d.]+) s for a transfer",
     lambda c: c.rules.hold_too_long.transfer_limit_s),
    ("hold.unannounced", r"a silence of ([\d.]+) s or more",
     lambda c: c.rules.hold_unannounced.unannounced_min_s),
    ("hold.no_thanks", r"within ([\d.]+) s of coming back",
     lambda c: c.rules.hold_too_long.return_window_s),
    ("rate.too_fast", r"last ([\d.]+) s of talk", lambda c: c.rules.rate_too_fast.window_talk_s),
    ("rate.too_fast", r"above (\d+) characters", lambda c: c.rules.rate_too_fast.too_fast_above),
    ("rate.too_slow", r"below (\d+) a minute", lambda c: c.rules.rate_too_slow.too_slow_below),
    ("filler.excess", r"more than (\d+) fillers", lambda c: c.rules.filler_excess.max_per_min),
    ("interruption", r"more than ([\d.]+) s", lambda c: c.rules.interruption.min_overlap_s),
    ("backchannel.missing", r"talks for ([\d.]+) s",
     lambda c: c.rules.backchannel_missing.max_silent_listening_s),
    ("dead_air", r"more than ([\d.]+) s", lambda c: c.rules.dead_air.limit_s),
    ("closing.incomplete", r"last ([\d.]+) s", lambda c: c.rules.closing_incomplete.window_s),
    ("volume.too_loud", r"above (-[\d.]+) dBFS", lambda c: c.rules.volume_too_loud.max_level_dbfs),
]


@pytest.mark.parametrize("profile", ["zh-CN", "en-US"])
@pytest.mark.parametrize(("rule", "says", "setting"), PROMISES,
                         ids=[f"{r}:{s}" for r, s, _ in PROMISES])
def test_the_shipped_limit_is_the_one_the_readme_promises(profile, rule, says, setting):
    found = re.search(says, readme_rules()[rule])
    assert found is not None, f"README's {rule} row no longer says {says!r}"
    assert setting(load_config(profile)) == float(found.group(1)), rule
