"""``callmonitor evaluate LABELS DIR`` on a batch output written as ``callmonitor batch`` writes
it (the ``calls``, ``alerts`` and ``utterances`` Parquet tables of the shared schema), with
alerts and transcripts whose right score is known: true and false positives, misses, the
tolerance's edges, calls found by path, content hash or file name, and labelled calls the batch
has not got or could not analyse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from monitor.batch.tables import to_table
from monitor.cli import main

SHA_A, SHA_B, SHA_C = "a" * 64, "b" * 64, "c" * 64


def call_row(path: Path, sha256: str, status: str = "complete", **summary: Any) -> dict[str, Any]:
    """A ``calls`` row; a failed call has nulls beyond its path, hash, status and error."""
    row: dict[str, Any] = {"path": str(path), "sha256": sha256, "config_hash": "f" * 16,
                           "status": status, "error": None, "elapsed_s": 0.5,
                           "duration_s": 60.0, "profile": "zh-CN", "language": "zh",
                           "asr_backend": None, "rules_skipped": "[]", "greeting_ok": None}
    if status != "complete":
        row.update({k: None for k in row if k not in ("path", "sha256", "status")})
    row.update(summary)
    return row


def alert_row(path: Path, sha256: str, rule: str, t: float,
              severity: str = "warn") -> dict[str, Any]:
    return {"path": str(path), "sha256": sha256, "t": t, "rule": rule, "severity": severity,
            "message": rule, "say": rule, "start": t, "evidence": "{}"}


def utterance_row(path: Path, channel: str, start: float, text: str | None) -> dict[str, Any]:
    return {"path": str(path), "sha256": SHA_A, "channel": channel, "start": start,
            "end": start + 1.0, "text": text, "words": "[]"}


def write_batch(out: Path, calls: list[dict[str, Any]], alerts: list[dict[str, Any]],
                utterances: list[dict[str, Any]] | None = None) -> Path:
    """The tables as ``callmonitor batch`` writes them: the batch's own fixed schemas (a
    column a row leaves out is null)."""
    out.mkdir()
    for name, rows in (("calls", calls), ("alerts", alerts), ("utterances", utterances or [])):
        pq.write_table(to_table(name, rows), out / f"{name}.parquet")
    return out


def labels_file(path: Path, *calls: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in calls),
                    encoding="utf-8")
    return path


def evaluate(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["evaluate", *map(str, args)])
    return result.exit_code, result.output


def report_json(*args: str | Path) -> dict[str, Any]:
    code, out = evaluate(*args, "--json")
    assert code == 0, out
    return json.loads(out)


def rules(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["rule"]: r for r in report["rules"]}


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, Path]:
    """Three calls: a (alerts just inside, exactly at and just outside the tolerance, and one
    of a rule nobody labelled), b (a near miss that fired), c (quiet)."""
    a, b, c = (tmp_path / "calls" / f"{n}.wav" for n in "abc")
    a.parent.mkdir()
    batch = write_batch(tmp_path / "out", [call_row(a, SHA_A), call_row(b, SHA_B),
                                           call_row(c, SHA_C)], [
        alert_row(a, SHA_A, "dead_air", 10.49), alert_row(a, SHA_A, "interruption", 20.5),
        alert_row(a, SHA_A, "hold.too_long", 30.51), alert_row(a, SHA_A, "volume.too_loud", 5.0),
        alert_row(b, SHA_B, "interruption", 12.0)])
    labels = labels_file(tmp_path / "calls" / "labels.jsonl", {
        "path": "a.wav", "alerts": [{"rule": "dead_air", "t": 10.0},
                                    {"rule": "interruption", "t": 20.0},
                                    {"rule": "hold.too_long", "t": 30.0}]},
        {"path": "b.wav", "must_not_fire": ["interruption"]},
        {"path": str(c), "must_not_fire": ["interruption", "dead_air"]})
    return labels, batch


def test_alerts_are_scored_against_the_labels_within_the_tolerance(corpus) -> None:
    labels, batch = corpus
    report = report_json(labels, batch, "--tolerance", "0.5")
    got = {r: (row["tp"], row["fp"], row["fn"]) for r, row in rules(report).items()}
    assert got == {"dead_air": (1, 0, 0), "interruption": (1, 1, 0), "hold.too_long": (0, 1, 1)}
    assert rules(report)["interruption"]["calls"] == 3
    assert rules(report)["interruption"]["near_misses"] == 2
    assert (rules(report)["dead_air"]["mean_abs_err_s"],
            rules(report)["interruption"]["max_abs_err_s"]) == (0.49, 0.5)
    assert report["unscored"] == [{"call": "a.wav", "rule": "volume.too_loud", "count": 1}]
    assert report["not_analysed"] == []
    assert report["runtime"] == {"calls": 3, "audio_s": 180.0, "elapsed_s": 1.5}
    # A wider tolerance takes the alert 0.51 s late.
    wide = rules(report_json(labels, batch, "--tolerance", "0.52"))["hold.too_long"]
    assert (wide["tp"], wide["fp"], wide["fn"]) == (1, 0, 0)


def test_the_text_report_and_the_json_file_say_the_same(corpus, tmp_path: Path) -> None:
    labels, batch = corpus
    out = tmp_path / "report.json"
    code, text = evaluate(labels, batch, "--out", out)
    assert code == 0
    assert json.loads(out.read_text(encoding="utf-8")) == report_json(labels, batch)
    assert "missed       a.wav                    hold.too_long        expected at 30.00" in text
    assert "false alarm  b.wav                    interruption         at 12.00 (warn)" in text
    assert "replayed 3 calls (180 s of audio) in 1.5 s" in text


def test_labelled_calls_missing_or_failed_are_reported_not_dropped(tmp_path: Path) -> None:
    ok, broken = tmp_path / "ok.wav", tmp_path / "broken.wav"
    failed = call_row(broken, SHA_B, "failed", error="broken.wav: not a WAV file; convert it")
    batch = write_batch(tmp_path / "out", [call_row(ok, SHA_A), failed],
                        [alert_row(ok, SHA_A, "dead_air", 8.0)])
    labels = labels_file(tmp_path / "labels.jsonl",
                         {"path": "ok.wav", "alerts": [{"rule": "dead_air", "t": 8.0}]},
                         {"path": "broken.wav", "alerts": [{"rule": "dead_air", "t": 9.0}]},
                         {"path": "gone.wav", "name": "the lost one"})
    report = report_json(labels, batch)
    assert report["not_analysed"] == [
        {"call": "broken.wav", "path": "broken.wav", "status": "failed",
         "error": "broken.wav: not a WAV file; convert it"},
        {"call": "the lost one", "path": "gone.wav", "status": "not in the batch output",
         "error": None}]
    assert rules(report)["dead_air"]["expected"] == 1 and report["runtime"]["calls"] == 1
    text = evaluate(labels, batch)[1]
    assert "labelled calls not scored (2):" in text
    assert "  broken.wav               failed: broken.wav: not a WAV file; convert it" in text
    assert "  the lost one             not in the batch output" in text


def test_calls_are_found_by_content_hash_or_by_a_file_name_only_one_call_has(
        tmp_path: Path) -> None:
    """The labels were written where the recordings used to be: the paths no longer match."""
    one, two, dup_x, dup_y = (tmp_path / "now" / p for p in ("one.wav", "two.wav", "x/dup.wav",
                                                              "y/dup.wav"))
    batch = write_batch(tmp_path / "out", [call_row(one, SHA_A), call_row(two, SHA_B),
                                           call_row(dup_x, SHA_C), call_row(dup_y, "d" * 64)],
                        [alert_row(one, SHA_A, "dead_air", 5.0),
                         alert_row(two, SHA_B, "dead_air", 6.0)])
    labels = labels_file(tmp_path / "labels.jsonl",
                         {"path": "/then/renamed.wav", "sha256": SHA_A,
                          "alerts": [{"rule": "dead_air", "t": 5.0}]},
                         {"path": "/then/two.wav", "alerts": [{"rule": "dead_air", "t": 6.0}]},
                         {"path": "/then/dup.wav"},
                         {"path": "/then/other.wav", "sha256": "e" * 64})
    report = report_json(labels, batch)
    assert rules(report)["dead_air"]["tp"] == 2
    assert [r["call"] for r in report["not_analysed"]] == ["/then/dup.wav", "/then/other.wav"]


def test_summary_labels_are_checked_and_skipped_rules_are_not_scored(tmp_path: Path) -> None:
    call = tmp_path / "a.wav"
    skipped = json.dumps([{"rule": "greeting.incomplete", "why": "no words"}])
    batch = write_batch(tmp_path / "out", [call_row(call, SHA_A, greeting_ok=False,
                                                    rules_skipped=skipped)], [])
    labels = labels_file(tmp_path / "labels.jsonl", {
        "path": "a.wav", "alerts": [{"rule": "greeting.incomplete", "t": 4.0}],
        "summary": {"greeting_ok": True}})
    report = report_json(labels, batch)
    assert report["rules"] == []
    assert report["not_checked"] == [{"call": "a.wav", "rule": "greeting.incomplete"}]
    assert [(c["key"], c["expected"], c["got"]) for c in report["summary_checks"]] == [
        ("greeting_ok", True, False)]


def test_transcripts_are_scored_on_the_utterances_of_their_channel(tmp_path: Path) -> None:
    heard, deaf = tmp_path / "heard.wav", tmp_path / "deaf.wav"
    batch = write_batch(
        tmp_path / "out",
        [call_row(heard, SHA_A, asr_backend="whisper"), call_row(deaf, SHA_B)], [],
        [utterance_row(heard, "agent", 9.0, "城美小王为您服务。"),
         utterance_row(heard, "agent", 1.0, "您好，"),
         utterance_row(heard, "customer", 3.0, "你好"),
         utterance_row(heard, "customer", 2.0, None)])  # a phrase heard as nothing
    labels = labels_file(tmp_path / "labels.jsonl",
                         {"path": "heard.wav", "transcripts": {"agent": "您好，诚美小王为您服务",
                                                               "customer": "你好啊"}},
                         {"path": "deaf.wav", "transcripts": {"agent": "您好"}})
    report = report_json(labels, batch)
    assert [(t["channel"], t["edits"], t["units"]) for t in report["transcripts"]] == [
        ("agent", 1, 10), ("customer", 1, 3)]
    overall = [r for r in report["error_rates"] if r["channel"] == "overall"]
    assert overall == [{"language": "zh", "channel": "overall", "edits": 2, "units": 13,
                        "transcripts": 2, "error_rate": round(2 / 13, 3)}]
    assert report["not_checked"] == [{"call": "deaf.wav", "transcript": "agent"}]
    assert "  zh  agent      0.10  (1/10 characters, 1 transcripts)" in evaluate(labels,
                                                                                 batch)[1]


def test_a_folder_without_batch_tables_is_one_error_line(tmp_path: Path) -> None:
    labels = labels_file(tmp_path / "labels.jsonl", {"path": "a.wav"})
    (tmp_path / "empty").mkdir()
    code, out = evaluate(labels, tmp_path / "empty")
    assert code == 2
    assert out.startswith(f"callmonitor: error: {tmp_path / 'empty'} has no calls.parquet; "
                          "give the folder `callmonitor batch --out` wrote")
    assert out.count("\n") == 1
    (tmp_path / "empty" / "calls.parquet").write_bytes(b"PAR1 torn")
    code, out = evaluate(labels, tmp_path / "empty")
    assert code == 2 and out.startswith(f"callmonitor: error: cannot read {tmp_path}")
    assert out.count("\n") == 1


def test_a_bad_label_stops_before_the_batch_is_read(tmp_path: Path) -> None:
    labels = labels_file(tmp_path / "labels.jsonl",
                         {"path": "a.wav", "alerts": [{"rule": "dead-air", "t": 1}]})
    code, out = evaluate(labels, tmp_path / "nowhere")
    assert code == 2
    assert out.startswith(f"callmonitor: error: {labels}:1: alerts[0]: unknown rule 'dead-air'")
