"""From recordings to scores as a researcher goes: ``callmonitor batch`` on two short synthesised
calls and a broken file (``testkit.batch_corpus``), labels written from the calls' truth
(``testkit.scenarios.truth_labels``), then ``callmonitor evaluate`` on the batch's folder, both
real processes. The timing rules' alerts are found where the truth puts them; labels moved off
the truth are scored as misses, so the figures come from the batch output and not from the
labels alone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from monitor.batch.scoring import DEFAULT_TOLERANCE_S
from testkit.batch_corpus import CLI, REPO, Corpus, batch
from testkit.scenarios import truth_labels, write_labels


@pytest.fixture(scope="module")
def batch_dir(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus's manifest (both calls and the broken file) through ``callmonitor batch``."""
    out = tmp_path_factory.mktemp("e2e") / "out"
    done = batch(corpus.manifest, "--out", out, "--asr", "none", "--jobs", 2)
    assert done.returncode == 0, done.stderr
    return out


def corpus_labels(corpus: Corpus) -> list[dict[str, Any]]:
    """Each call's truth as its labels, with what the corpus was built around added: the ring
    call is picked up after fewer rings than the limit (no late pickup; the count is a summary
    value), the hold call's hold is short (no hold.too_long) and no silence of it is dead air;
    the broken file is labelled too, as a researcher would not know it is broken."""
    ring = truth_labels(corpus.ring_truth, corpus.ring)
    ring["must_not_fire"] = ["ring.late_pickup"]
    ring["summary"] = {"rings_before_pickup": len({r["cadence"]
                                                   for r in corpus.ring_truth["rings"]})}
    hold = truth_labels(corpus.hold_truth, corpus.hold)
    hold["must_not_fire"] = ["hold.too_long", "dead_air"]
    hold["summary"] = {"holds.count": 1}
    return [ring, hold, {"path": str(corpus.bad)}]


def evaluate(labels: list[dict[str, Any]], batch_dir: Path, where: Path) -> dict[str, Any]:
    """``callmonitor evaluate LABELS DIR --json`` in a process of its own."""
    path = write_labels(labels, where / "labels.jsonl")
    done = subprocess.run([*CLI, "evaluate", str(path), str(batch_dir), "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def rules(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["rule"]: row for row in report["rules"]}


def test_the_timing_rules_are_found_where_the_truth_says(corpus, batch_dir, tmp_path):
    report = evaluate(corpus_labels(corpus), batch_dir, tmp_path)
    scored = rules(report)
    assert set(scored) == {"dead_air", "ring.late_pickup", "hold.too_long"}
    dead = scored["dead_air"]
    assert (dead["expected"], dead["tp"], dead["fp"], dead["fn"]) == (1, 1, 0, 0)
    assert dead["recall"] == 1.0 and dead["precision"] == 1.0
    assert dead["max_abs_err_s"] <= DEFAULT_TOLERANCE_S
    for near_miss in ("ring.late_pickup", "hold.too_long"):
        assert (scored[near_miss]["near_misses"], scored[near_miss]["found"]) == (1, 0)
    assert report["misses"] == [] and report["unscored"] == []
    assert [(c["key"], c["ok"]) for c in report["summary_checks"]] == [
        ("rings_before_pickup", True), ("holds.count", True)]


def test_what_could_not_be_scored_is_listed(corpus, batch_dir, tmp_path):
    """The broken file is a failed call of the batch, and the transcripts of calls analysed
    without recognition are not checked: both are said, neither is scored."""
    report = evaluate(corpus_labels(corpus), batch_dir, tmp_path)
    [failed] = report["not_analysed"]
    assert failed["path"] == str(corpus.bad) and failed["status"] == "failed"
    assert "not a WAV file" in failed["error"]
    not_checked = {(c["call"], c["transcript"]) for c in report["not_checked"]
                   if "transcript" in c}
    assert not_checked == {(truth["name"], channel)
                           for truth in (corpus.ring_truth, corpus.hold_truth)
                           for channel in ("agent", "customer")}
    assert report["transcripts"] == [] and report["runtime"]["calls"] == 2


def test_labels_off_the_truth_are_misses(corpus, batch_dir, tmp_path):
    """The dead air labelled just beyond the tolerance after where it is: one miss, and the
    alert the batch found is a false alarm."""
    ring = truth_labels(corpus.ring_truth, corpus.ring)
    [dead_air] = ring["alerts"]
    found = dead_air["t"]
    ring["alerts"] = [dict(dead_air, t=found + DEFAULT_TOLERANCE_S + 0.3)]
    dead = rules(evaluate([ring], batch_dir, tmp_path))["dead_air"]
    assert (dead["tp"], dead["fp"], dead["fn"], dead["recall"]) == (0, 1, 1, 0.0)
