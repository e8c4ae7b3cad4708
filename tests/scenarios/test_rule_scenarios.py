"""Every rule on synthesised calls through the real pipeline and the real Whisper model: where a
rule must fire it fires within 0.5 s of the known time, and in the near misses it stays quiet.

The same scoring (``monitor.batch.scoring``) as ``scripts/evaluate.py``, which prints the per-rule
table; each scenario here is one test so a failure names the call. A few single expectations
fail for recognition limits: each is its own strict xfail (so fixing it is noticed), and the
rest of its scenario is asserted with the others. Each scenario is replayed once per module.
"""

from __future__ import annotations

import pytest

from monitor.batch.scoring import DEFAULT_TOLERANCE_S, Call, match_alerts, score
from testkit import synth
from testkit.scenarios import run

pytestmark = pytest.mark.slow

SCENARIOS = [
    "ring_late_no_apology", "ring_late_apology", "ring_three", "greeting_wei", "greeting_short",
    "hold_too_long", "hold_ok", "hold_no_thanks", "hold_unannounced", "transfer_too_long",
    "transfer_short", "dead_air_7s", "dead_air_near", "rate_fast", "rate_ok", "rate_slow",
    "rate_slow_near", "filler_near", "filler_excess", "interruption", "listening_ok",
    "backchannel_missing", "forbidden_a", "forbidden_b", "forbidden_polite", "closing_missing",
    "closing_ok", "volume_loud", "volume_raised", "en_fast", "en_filler", "en_filler_words",
    "en_good", "en_forbidden", "en_greeting_no_company",
]
# (scenario, index of its [[expect]]) -> why that one expected alert is not raised on time.
KNOWN_MISSES = {
    ("forbidden_b", 3): "Whisper base hears 你肯定弄混了 as 梦婚了, so that taboo is not caught",
    ("en_filler", 0): "Whisper base writes two of the three um and none of the three uh, and "
                      "the sound adds none: 2 of the 6 fillers, so the alert never fires",
}


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    """name -> the scenario's Call, replayed with Whisper at most once for this module."""
    cache_dir, calls = tmp_path_factory.mktemp("rule_scenarios"), {}

    def get(name: str) -> Call:
        if name not in calls:
            [calls[name]] = run([synth.SCENARIOS_DIR / "rules" / f"{name}.toml"], "whisper",
                                cache_dir)
        return calls[name]
    return get


@pytest.mark.parametrize("name", SCENARIOS)
def test_rules_fire_on_time_and_stay_quiet_in_near_misses(name, replayed, whisper_zh):
    """Everything the scenario expects but its known misses (they are scored on their own)."""
    call = replayed(name)
    expect = [e for i, e in enumerate(call.truth.get("expect", []))
              if (name, i) not in KNOWN_MISSES]
    report = score([Call(name, dict(call.truth, expect=expect), call.alerts, call.summary)])
    assert report.misses == []
    assert [c for c in report.summary_checks if not c["ok"]] == []


@pytest.mark.parametrize("name, index", sorted(KNOWN_MISSES))
def test_known_recognition_limits(name, index, replayed, whisper_zh, request):
    """Only this expectation, paired with the rule's alerts as the scoring pairs them."""
    request.applymarker(pytest.mark.xfail(reason=KNOWN_MISSES[name, index], strict=True))
    call = replayed(name)
    known = call.truth["expect"][index]
    expected = [e for e in call.truth["expect"] if e["rule"] == known["rule"]]
    alerts = [a for a in call.alerts if a["rule"] == known["rule"]]
    _, missed, _ = match_alerts(expected, alerts, DEFAULT_TOLERANCE_S)
    assert not any(m is known for m in missed)


def test_every_rule_has_a_firing_call_and_a_near_miss_among_the_tested_scenarios():
    fires, quiet = set(), set()
    for name in SCENARIOS:
        path = synth.SCENARIOS_DIR / "rules" / f"{name}.toml"
        scenario = synth.load_scenario(path)
        fires |= {e["rule"] for i, e in enumerate(scenario.get("expect", []))
                  if (name, i) not in KNOWN_MISSES}
        quiet |= {r["rule"] for r in scenario.get("expect_none", [])}
    assert fires == set(synth.RULE_IDS)
    assert quiet == set(synth.RULE_IDS)
