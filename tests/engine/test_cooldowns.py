"""A rule that keeps being broken alerts again once its cooldown has passed: exactly
``cooldown_s`` after the last alert it alerts again; sooner it stays quiet.

Added from mutation testing (docs/mutants.md): no fast test saw a second alert, so the
cooldown's comparison could change unnoticed. Cooldowns come from the shipped configuration.
"""

from __future__ import annotations

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.frames import Alert, Filler
from testkit.engine_feed import feed, talk

CFG = load_config("zh-CN")
RULES = CFG.rules


def alert_times(events, t_end, rule):
    out = feed(Engine(CFG, ("agent", "customer")), events, t_end)
    return [a.t for a in out if isinstance(a, Alert) and a.rule == rule]


def test_a_too_fast_pace_is_alerted_again_exactly_one_cooldown_later():
    # 12 s agent utterances, each too fast (50 characters: 250 a minute), ending every
    # cooldown_s / 2: the pace is judged at each end, alerted at the first judged end, then
    # at every second end (exactly one cooldown later), never in between.
    rule = RULES.rate_too_fast
    step = rule.cooldown_s / 2
    assert step > 12.0 and rule.too_fast_above < 60.0 * 50 / 12.0
    ends = [12.0 + step * k for k in range(8)]
    events = [ev for end in ends for ev in talk("agent", end - 12.0, end, "话" * 50)]
    first = next(e for e in ends if sum(12.0 for x in ends if x <= e) >= rule.min_window_s)
    expected = [e for e in ends if e >= first and (e - first) % rule.cooldown_s == 0]
    assert len(expected) > 2
    assert alert_times(events, ends[-1] + 1.0, "rate.too_fast") == expected


def test_too_many_fillers_are_alerted_again_exactly_one_cooldown_later():
    # min_talk_s of talk, then one filler more than max_per_min in a row (alerted at the last
    # one's end), then one filler half a cooldown later (quiet) and one a whole cooldown later
    # (alerted again). Ends are exact binary fractions, so "exactly" is exact.
    rule = RULES.filler_excess
    start = rule.min_talk_s + 1.0
    burst = [Filler("agent", start + i, start + i + 0.5) for i in range(int(rule.max_per_min) + 1)]
    first = burst[-1].end
    later = [Filler("agent", first + d - 0.5, first + d)
             for d in (rule.cooldown_s / 2, rule.cooldown_s)]
    events = [*talk("agent", 0.0, rule.min_talk_s), *burst, *later]
    assert alert_times(events, first + rule.cooldown_s + 1.0, "filler.excess") == [
        first, first + rule.cooldown_s]
