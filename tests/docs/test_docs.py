"""Every rule is configured in both profiles and documented: a rule nobody can tune or read
about is a rule nobody trusts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_type_hints

import pytest

from monitor.config import ALERT_EVIDENCE, PROFILES, RulesConfig, load_config
from monitor.engine.rules import RULES

REPO = Path(__file__).resolve().parents[2]
DESIGN_IDS = {"ring.late_pickup", "greeting.incomplete", "hold.too_long", "hold.unannounced",
              "hold.no_thanks", "rate.too_fast", "rate.too_slow", "filler.excess",
              "interruption", "backchannel.missing", "forbidden_phrase", "dead_air",
              "closing.incomplete", "volume.too_loud"}
RULE_IDS = {r for cls in RULES for r in cls.rule_ids()}


def test_the_engine_runs_exactly_the_rules_of_the_design():
    assert RULE_IDS == DESIGN_IDS


@pytest.mark.parametrize("profile", PROFILES)
def test_every_rule_has_its_message_and_score_weight_in_each_profile(profile):
    cfg = load_config(profile)
    assert set(cfg.messages) >= RULE_IDS
    assert set(cfg.score_weights) == RULE_IDS
    for rule in RULE_IDS:
        message = cfg.messages[rule]
        assert message.message and message.say and message.severity in ("info", "warn",
                                                                          "violation")


def test_every_rule_is_documented_in_the_readme():
    readme = (REPO / "README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", readme, flags=re.M))
    assert documented == RULE_IDS


def test_every_rule_table_is_read_by_the_rule_that_raises_its_alerts():
    tables = {cls for rule in RULES for cls in rule.settings}
    assert tables == set(get_type_hints(RulesConfig).values())
    for rule in RULES:
        assert {cls.rule for cls in rule.settings} <= set(rule.rule_ids())


def test_every_rule_declares_the_evidence_its_templates_may_use():
    assert set(ALERT_EVIDENCE) == RULE_IDS
