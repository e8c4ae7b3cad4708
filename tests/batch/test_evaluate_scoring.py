"""The evaluation's scoring (``monitor.batch.scoring``), on hand-made alerts and transcripts
whose right score is obvious."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.batch import scoring


def alert(rule: str, t: float, severity: str = "warn") -> dict[str, Any]:
    return {"type": "alert", "rule": rule, "t": t, "severity": severity}


def call(expect: list[dict[str, Any]], alerts: list[dict[str, Any]],
         expect_none: list[str] | None = None, name: str = "call",
         expect_summary: dict[str, Any] | None = None,
         summary: dict[str, Any] | None = None) -> scoring.Call:
    truth = {"name": name, "duration_s": 30.0, "expect": expect,
             "expect_none": expect_none or [], "expect_summary": expect_summary or {}}
    return scoring.Call(name, truth, alerts, summary or {})


def rows(report: scoring.Report) -> dict[str, dict[str, Any]]:
    return {r["rule"]: r for r in report.to_json()["rules"]}


@pytest.mark.parametrize(("t", "matched"), [(10.49, True), (10.5, True), (9.5, True),
                                             (10.51, False), (9.4, False)])
def test_an_alert_matches_within_the_tolerance(t: float, matched: bool) -> None:
    report = scoring.score([call([{"rule": "dead_air", "t": 10.0}], [alert("dead_air", t)])],
                            tolerance_s=0.5)
    row = rows(report)["dead_air"]
    assert (row["tp"], row["fp"], row["fn"]) == ((1, 0, 0) if matched else (0, 1, 1))
    assert row["mean_abs_err_s"] == (round(abs(t - 10.0), 3) if matched else None)


def test_one_alert_cannot_match_two_expectations() -> None:
    expect = [{"rule": "interruption", "t": 10.0}, {"rule": "interruption", "t": 10.3}]
    row = rows(scoring.score([call(expect, [alert("interruption", 10.2)])]))["interruption"]
    assert (row["expected"], row["found"], row["tp"], row["fp"], row["fn"]) == (2, 1, 1, 0, 1)
    assert (row["precision"], row["recall"]) == (1.0, 0.5)


def test_matching_pairs_as_many_as_possible() -> None:
    """The nearest alert of the first expectation is the only one the second can take."""
    expect = [{"rule": "interruption", "t": 10.0}, {"rule": "interruption", "t": 10.4}]
    alerts = [alert("interruption", 10.3), alert("interruption", 9.7)]
    pairs, missed, extra = scoring.match_alerts(expect, alerts, 0.5)
    assert [(e["t"], a["t"]) for e, a in pairs] == [(10.0, 9.7), (10.4, 10.3)]
    assert missed == extra == []


def test_an_expectation_during_an_event_takes_an_alert_anywhere_in_it() -> None:
    expect = [{"rule": "forbidden_phrase", "t": 7.7, "earliest": 3.0}]
    for t, hit in ((2.4, False), (2.6, True), (4.3, True), (8.1, True), (8.3, False)):
        pairs, missed, _ = scoring.match_alerts(expect, [alert("forbidden_phrase", t)], 0.5)
        assert bool(pairs) == hit and bool(missed) != hit, t


def test_a_named_severity_must_match() -> None:
    expect = [{"rule": "hold.too_long", "t": 25.0, "severity": "warn"},
              {"rule": "hold.too_long", "t": 30.0, "severity": "violation"}]
    alerts = [alert("hold.too_long", 25.0, "violation"), alert("hold.too_long", 30.0, "violation")]
    report = scoring.score([call(expect, alerts)])
    row = rows(report)["hold.too_long"]
    assert (row["tp"], row["fp"], row["fn"]) == (1, 1, 1)
    assert {(m["kind"], m["t"]) for m in report.misses} == {("missed", 25.0),
                                                            ("false alarm", 25.0)}


def test_expect_none_counts_every_alert_of_the_rule_as_a_false_positive() -> None:
    near = call([], [alert("dead_air", 12.0), alert("dead_air", 20.0)], ["dead_air"], "near")
    clean = call([], [], ["dead_air"], "clean")
    row = rows(scoring.score([near, clean]))["dead_air"]
    assert (row["calls"], row["near_misses"], row["expected"], row["found"]) == (2, 2, 0, 2)
    assert (row["tp"], row["fp"], row["fn"]) == (0, 2, 0)
    assert (row["precision"], row["recall"]) == (0.0, None)


def test_alerts_of_rules_the_scenario_says_nothing_about_are_not_scored() -> None:
    c = call([{"rule": "dead_air", "t": 10.0}],
             [alert("dead_air", 10.1), alert("greeting.incomplete", 3.0),
              alert("greeting.incomplete", 4.0)])
    report = scoring.score([c])
    assert set(rows(report)) == {"dead_air"}
    assert report.unscored == [{"call": "call", "rule": "greeting.incomplete", "count": 2}]
    assert report.misses == []


def test_a_rule_the_call_did_not_check_is_neither_missed_nor_scored() -> None:
    skipped = {"rules_skipped": [{"rule": "greeting.incomplete", "why": "no words"}]}
    c = call([{"rule": "greeting.incomplete", "t": 3.0}, {"rule": "dead_air", "t": 10.0}],
             [alert("dead_air", 10.1)], summary=skipped)
    report = scoring.score([c])
    assert set(rows(report)) == {"dead_air"} and report.misses == []
    assert report.not_checked == [{"call": "call", "rule": "greeting.incomplete"}]
    assert "not checked (the call's rules_skipped), not scored: 1 rules" in (
        scoring.format_report(report))


def test_a_rule_with_nothing_expected_or_found_has_no_ratios() -> None:
    row = rows(scoring.score([call([], [], ["rate.too_fast"])]))["rate.too_fast"]
    assert (row["precision"], row["recall"], row["max_abs_err_s"]) == (None, None, None)


def test_summary_expectations_are_checked() -> None:
    c = call([], [], expect_summary={"greeting_ok": True, "rings_before_pickup": 5},
             summary={"greeting_ok": None, "rings_before_pickup": 5})
    checks = scoring.score([c]).summary_checks
    assert [(x["key"], x["ok"]) for x in checks] == [("greeting_ok", False),
                                                     ("rings_before_pickup", True)]


def test_the_report_prints_every_miss() -> None:
    c = call([{"rule": "dead_air", "t": 10.0}], [alert("interruption", 5.0)], ["interruption"],
             "mixed")
    text = scoring.format_report(scoring.score([c]))
    assert "missed       mixed" in text and "expected at 10.00; found nothing" in text
    assert "false alarm  mixed" in text and "at 5.00 (warn); expected none (near miss)" in text


def heard_call(name: str, language: str, transcripts: dict[str, str],
               heard: dict[str, str] | None) -> scoring.Call:
    truth = {"duration_s": 10.0, "transcripts": transcripts}
    return scoring.Call(name, truth, [], {}, language=language, heard=heard)


def test_transcripts_are_scored_per_channel_in_characters_for_mandarin() -> None:
    """One wrong character (城 for 诚) in six; punctuation, spaces and traditional forms do not
    count; a digit is the character read for it; a silent channel misses every character."""
    c = heard_call("zh", "zh", {"agent": "您好，诚美小王。", "customer": "我的号码是138"},
                   {"agent": "您好 城美 小王", "customer": "我的號碼是一三八"})
    report = scoring.score([c])
    assert [(t["channel"], t["edits"], t["units"]) for t in report.transcripts] == [
        ("agent", 1, 6), ("customer", 0, 8)]
    overall = {r["channel"]: r for r in scoring.error_rates(report.transcripts)}
    assert overall["agent"]["error_rate"] == round(1 / 6, 3)
    assert (overall["overall"]["edits"], overall["overall"]["units"]) == (1, 14)
    silent = scoring.score([heard_call("quiet", "zh", {"customer": "好的"}, {})])
    assert silent.transcripts[0]["error_rate"] == 1.0


def test_english_transcripts_are_scored_in_words_and_never_pooled_with_mandarin() -> None:
    en = heard_call("en", "en", {"agent": "Thank you for calling Acme, this is Anna."},
                    {"agent": "thank you for calling acne this is anna"})
    zh = heard_call("zh", "zh", {"agent": "谢谢"}, {"agent": "谢谢"})
    rates = scoring.error_rates(scoring.score([en, zh]).transcripts)
    assert [(r["language"], r["channel"], r["edits"], r["units"]) for r in rates] == [
        ("en", "agent", 1, 8), ("en", "overall", 1, 8),
        ("zh", "agent", 0, 2), ("zh", "overall", 0, 2)]
    text = scoring.format_report(scoring.score([en, zh]))
    assert "en  agent      0.12  (1/8 words, 1 transcripts)" in text
    assert "zh  overall    0.00  (0/2 characters, 1 transcripts)" in text


def test_a_call_analysed_without_recognition_has_its_transcripts_not_checked() -> None:
    report = scoring.score([heard_call("none", "zh", {"agent": "您好"}, None)])
    assert report.transcripts == []
    assert report.not_checked == [{"call": "none", "transcript": "agent"}]
    text = scoring.format_report(report)
    assert "transcripts not checked (the call was analysed without recognition): 1" in text
    assert "rules_skipped" not in text
