"""Labels files (``monitor.batch.labels``): what a researcher writes is read as written, and a
bad label is one error naming the file, the line and the fix, before anything is scored."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from monitor.batch.labels import CallLabels, LabelError, read_labels
from monitor.errors import CallmonitorError
from testkit.scenarios import synthesize_cached, truth_labels, write_labels
from testkit.synth import SCENARIOS_DIR


def jsonl(path: Path, *calls: Any) -> Path:
    path.write_text("".join((c if isinstance(c, str) else json.dumps(c, ensure_ascii=False))
                            + "\n" for c in calls), encoding="utf-8")
    return path


def test_a_jsonl_label_is_read_with_its_path_resolved_against_the_labels_folder(
        tmp_path: Path) -> None:
    labels = jsonl(tmp_path / "labels.jsonl", {
        "path": "calls/a.wav", "name": "first",
        "alerts": [{"rule": "dead_air", "t": 12}, {"rule": "hold.too_long", "t": 40.5,
                                                   "severity": "violation", "earliest": 30}],
        "must_not_fire": ["interruption"], "summary": {"greeting_ok": True},
        "transcripts": {"agent": "您好", "customer": "喂"}}, "", {"path": "/abs/b.wav"})
    first, second = read_labels(labels)
    assert first == CallLabels(
        f"{labels}:1", "calls/a.wav", tmp_path / "calls" / "a.wav", "first", None,
        [{"rule": "dead_air", "t": 12.0},
         {"rule": "hold.too_long", "t": 40.5, "severity": "violation", "earliest": 30.0}],
        ["interruption"], {"greeting_ok": True}, {"agent": "您好", "customer": "喂"})
    assert (second.where, second.resolved, second.name, second.alerts) == (
        f"{labels}:3", Path("/abs/b.wav"), "/abs/b.wav", [])
    assert first.truth(61.0) == {
        "expect": first.alerts, "expect_none": ["interruption"],
        "expect_summary": {"greeting_ok": True}, "transcripts": first.transcripts,
        "duration_s": 61.0}


def test_a_csv_of_alerts_groups_its_rows_by_call(tmp_path: Path) -> None:
    labels = tmp_path / "alerts.csv"
    labels.write_text("path,rule,t,severity\na.wav,dead_air,12.5,\n"
                      "b.wav,ring.late_pickup,20,violation\na.wav,interruption,3,warn\n",
                      encoding="utf-8")
    a, b = read_labels(labels)
    assert (a.path, a.alerts) == ("a.wav", [{"rule": "dead_air", "t": 12.5},
                                            {"rule": "interruption", "t": 3.0,
                                             "severity": "warn"}])
    assert (b.where, b.alerts) == (f"{labels}:3", [{"rule": "ring.late_pickup", "t": 20.0,
                                                    "severity": "violation"}])


GOOD = {"path": "a.wav"}


@pytest.mark.parametrize(("line", "problem", "fix"), [
    ("{not json", "not JSON (Expecting property name enclosed in double quotes, column 2)",
     "one JSON object per line"),
    ("[1, 2]", "not a JSON object", '{"path"'),
    ({"alerts": []}, "no path", "relative to the labels file's folder"),
    ({**GOOD, "expected": []}, "unknown key 'expected'", "alerts, must_not_fire, name"),
    ({**GOOD, "alerts": [{"rule": "dead-air", "t": 3}]}, "alerts[0]: unknown rule 'dead-air'",
     "dead_air"),
    ({**GOOD, "alerts": [{"rule": "dead_air", "t": "3"}]}, "alerts[0]: t '3' is not a time",
     "in seconds"),
    ({**GOOD, "alerts": [{"rule": "dead_air", "t": -1}]}, "alerts[0]: t -1 is not a time",
     ">= 0"),
    ({**GOOD, "alerts": [{"rule": "dead_air", "t": 3, "severity": "high"}]},
     "alerts[0]: severity 'high' is unknown", "info, warn, violation"),
    ({**GOOD, "alerts": [{"rule": "dead_air", "t": 3, "earliest": 4}]},
     "alerts[0]: earliest 4 is after t 3", "up to t"),
    ({**GOOD, "alerts": [{"rule": "dead_air", "at": 3}]}, "alerts[0]: unknown key 'at'",
     "earliest, rule, severity, t"),
    ({**GOOD, "alerts": {"rule": "dead_air"}}, "alerts is not a list", "[...]"),
    ({**GOOD, "must_not_fire": ["silence"]}, "must_not_fire: unknown rule 'silence'",
     "the rule ids are"),
    ({**GOOD, "alerts": [{"rule": "dead_air", "t": 3}], "must_not_fire": ["dead_air"]},
     "dead_air both expected and in must_not_fire", "cannot also be"),
    ({**GOOD, "sha256": "ABC"}, "sha256 'ABC' is not 64 lower-case hex digits", "sha256sum"),
    ({**GOOD, "transcripts": {"left": "你好"}}, "transcripts is not an object of channel texts",
     '"agent"'),
    ({**GOOD, "summary": {"talk_s": {"agent": 3}}}, "summary is not an object of single values",
     "greeting_ok"),
    ({**GOOD, "name": 7}, "name 7 is not a string", "in quotes"),
])
def test_a_bad_jsonl_label_names_its_line_and_the_fix(tmp_path: Path, line: Any, problem: str,
                                                      fix: str) -> None:
    labels = jsonl(tmp_path / "labels.jsonl", {"path": "ok.wav"}, line)
    with pytest.raises(LabelError) as caught:
        read_labels(labels)
    assert caught.value.problem == f"{labels}:2: {problem}"
    assert fix in caught.value.fix
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("text", "where", "problem"), [
    ("path,rule\na.wav,dead_air\n", 1, "the header is path,rule"),
    ("path,rule,t,notes\na.wav,dead_air,3,x\n", 1, "the header is path,rule,t,notes"),
    ("path,rule,t\na.wav,dead_air,3\nb.wav,dead_air,soon\n", 3, "t 'soon' is not a time"),
    ("path,rule,t\na.wav,dead_air,3\nb.wav,,3\n", 3, "no rule"),
    ("path,rule,t\n,dead_air,3\n", 2, "no path"),
    ("path,rule,t\na.wav,dead_air,3,warn\n", 2, "more cells than the 3 columns of the header"),
])
def test_a_bad_csv_row_names_its_line(tmp_path: Path, text: str, where: int,
                                      problem: str) -> None:
    labels = tmp_path / "alerts.csv"
    labels.write_text(text, encoding="utf-8")
    with pytest.raises(LabelError) as caught:
        read_labels(labels)
    assert caught.value.problem == f"{labels}:{where}: {problem}"


def test_a_call_labelled_twice_or_no_call_at_all_is_an_error(tmp_path: Path) -> None:
    twice = jsonl(tmp_path / "twice.jsonl", {"path": "a.wav"}, {"path": "./a.wav"})
    with pytest.raises(LabelError, match=r"twice.jsonl:2: ./a.wav is labelled twice \(first at "
                                         r".*twice.jsonl:1\)"):
        read_labels(twice)
    with pytest.raises(LabelError, match="no calls labelled"):
        read_labels(jsonl(tmp_path / "empty.jsonl", ""))
    with pytest.raises(CallmonitorError, match="cannot read the labels file"):
        read_labels(tmp_path / "missing.jsonl")


@pytest.mark.parametrize("name", ["forbidden_a", "ring_late_no_apology", "hold_too_long"])
def test_a_scenario_truth_becomes_labels_that_read_back_as_the_same_truth(
        tmp_path: Path, name: str) -> None:
    """What scripts/evaluate.py hands `callmonitor evaluate`: the truth's expectations
    unchanged (windows and severities too) and each channel's words in time order."""
    wav, truth = synthesize_cached(SCENARIOS_DIR / "rules" / f"{name}.toml", tmp_path)
    [label] = read_labels(write_labels([truth_labels(truth, wav)], tmp_path / "labels.jsonl"))
    back = label.truth(truth["duration_s"])
    for key in ("expect", "expect_none", "expect_summary", "duration_s"):
        assert back[key] == truth[key], key
    assert (label.name, label.resolved) == (name, wav)
    for channel in ("agent", "customer"):
        texts = [u["text"] for u in sorted(truth["utterances"], key=lambda u: u["start"])
                 if u["channel"] == channel]
        assert back["transcripts"][channel] == " ".join(texts) and texts


def test_the_examples_of_docs_evaluate_md_read_as_documented(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "evaluate.md").read_text("utf-8")
    blocks = dict(re.findall(r"```(json|csv)\n(.*?)```", doc, flags=re.S))
    (tmp_path / "labels.jsonl").write_text(blocks["json"], encoding="utf-8")
    (tmp_path / "alerts.csv").write_text(blocks["csv"], encoding="utf-8")
    first, second = read_labels(tmp_path / "labels.jsonl")
    assert [a["rule"] for a in first.alerts] == ["dead_air", "hold.too_long"]
    assert (second.name, second.alerts[0]["earliest"], set(second.transcripts)) == (
        "angry customer", 61.0, {"agent", "customer"})
    [csv_call] = read_labels(tmp_path / "alerts.csv")
    assert csv_call.resolved == first.resolved
    assert csv_call.alerts == first.alerts
