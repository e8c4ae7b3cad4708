"""``callmonitor batch`` as a user runs it: real processes, the real pipeline, synthesised calls
whose truth is known (``testkit.batch_corpus``)."""

from __future__ import annotations

import json
import shutil
import signal
import socket
from pathlib import Path

import pandas as pd
import pytest

from monitor.batch.output import Outcome, worker_figures
from monitor.batch.scoring import DEFAULT_TOLERANCE_S
from monitor.config.rules import RULE_IDS
from testkit.batch_corpus import (
    Corpus,
    assert_resumed_as_straight,
    assert_same_tables,
    batch,
    many_copies,
    run_json,
    settled_parts,
    start_and_stop,
)


@pytest.fixture(scope="module")
def straight(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The manifest's calls, run to their end with two workers."""
    out = tmp_path_factory.mktemp("straight") / "out"
    done = batch(corpus.manifest, "--out", out, "--asr", "none", "--jobs", 2)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "3 calls: 2 complete, 1 failed"
    return out


def test_the_calls_table_holds_each_calls_truth_and_the_bad_file_as_a_row(corpus, straight):
    calls = pd.read_parquet(straight / "calls.parquet").set_index("path")
    assert list(calls.index) == [str(corpus.ring), str(corpus.hold), str(corpus.bad)]
    ring, hold, bad = (calls.loc[str(p)] for p in (corpus.ring, corpus.hold, corpus.bad))
    assert ring["status"] == "complete" and pd.isna(ring["error"])
    assert ring["rings_before_pickup"] == len({r["cadence"] for r in corpus.ring_truth["rings"]})
    assert ring["pickup_t"] == pytest.approx(corpus.ring_truth["pickup_t"], abs=0.1)
    assert ring["duration_s"] == pytest.approx(corpus.ring_truth["duration_s"], abs=0.02)
    assert ring["alerts.dead_air"] == 1 and ring["dead_air.count"] == 1
    # the manifest's per-call options: the company, the softphone's hold
    assert hold["company"] == "诚美" and ring["company"] == ""
    start, end = corpus.hold_span
    assert hold["holds.count"] == 1
    assert hold["holds.total_s"] == pytest.approx(end - start, abs=0.02)
    assert json.loads(hold["holds"])[0]["start"] == pytest.approx(start, abs=0.02)
    assert bad["status"] == "failed" and "not a WAV file" in bad["error"]
    assert pd.isna(bad["duration_s"]) and pd.isna(bad["alerts.dead_air"])
    assert len(bad["sha256"]) == 64
    # every rule has its count column, whatever fired
    assert {f"alerts.{rule}" for rule in RULE_IDS} <= set(calls.columns)


def test_the_alerts_table_has_the_truths_alert_at_its_time(corpus, straight):
    alerts = pd.read_parquet(straight / "alerts.parquet")
    (expected,) = corpus.ring_truth["expect"]
    dead = alerts[(alerts["path"] == str(corpus.ring)) & (alerts["rule"] == "dead_air")]
    assert len(dead) == 1
    row = dead.iloc[0]
    assert row["t"] == pytest.approx(expected["t"], abs=DEFAULT_TOLERANCE_S)
    # where the condition began: the end of the customer's line, from the evidence
    said = corpus.ring_truth["utterances"][1]
    assert row["start"] == pytest.approx(said["end"], abs=DEFAULT_TOLERANCE_S)
    assert json.loads(row["evidence"])["start"] == row["start"]


def test_the_segments_table_follows_the_truths_speech(corpus, straight):
    segments = pd.read_parquet(straight / "segments.parquet")
    ring = segments[segments["path"] == str(corpus.ring)]
    for line in corpus.ring_truth["utterances"]:
        on_channel = ring[ring["channel"] == line["channel"]]
        assert ((on_channel["start"] - line["start"]).abs() < DEFAULT_TOLERANCE_S).any(), line
    assert set(segments["path"]) == {str(corpus.ring), str(corpus.hold)}


def test_the_tables_do_not_depend_on_the_number_of_workers(corpus, straight, tmp_path):
    one = tmp_path / "one"
    done = batch(corpus.manifest, "--out", one, "--asr", "none", "--jobs", 1)
    assert done.returncode == 0, done.stderr
    assert_same_tables(one, straight)
    assert run_json(one)["jobs"] == 1 and run_json(straight)["jobs"] == 2


def test_run_json_says_what_ran(corpus, straight):
    run = run_json(straight)
    assert run["engine"] == "local" and run["inputs"] == 3
    assert run["status_counts"] == {"complete": 2, "failed": 1}
    assert run["models"]["backend"] is None
    calls = pd.read_parquet(straight / "calls.parquet")
    # the run's configuration is that of a call with the command's options
    assert run["config_hash"] == calls.iloc[0]["config_hash"]
    assert run["config_hash"] != calls.iloc[1]["config_hash"]  # another company, events
    assert run["started_at"] <= run["ended_at"]
    assert all(w["peak_rss_mib"] > 0 for w in run["workers"])
    # each worker by its machine and pid, this machine's here
    assert {w["host"] for w in run["workers"]} == {socket.gethostname()}
    assert len({w["pid"] for w in run["workers"]}) == len(run["workers"])
    # each worker's busy time holds its calls' analysis (the calls table's elapsed_s) and
    # their part files; a worker that analysed calls spent CPU time on them
    assert sum(w["calls"] for w in run["workers"]) == 3
    assert all(w["cpu_s"] > 0 for w in run["workers"] if w["calls"])
    assert sum(w["busy_s"] for w in run["workers"]) >= calls["elapsed_s"].sum() - 0.01


def test_workers_of_two_machines_with_the_same_pid_are_two_workers():
    """A cluster's machines number their processes apart: the same pid on two hosts is two
    workers, each with its own calls and figures; one worker's calls are summed."""
    def did(host: str, pid: int, rss: float, cpu: float) -> Outcome:
        return Outcome("p.json", "complete", None, 10.0, 1.0, False, None, host, pid, rss,
                       cpu, cpu + 0.5)

    figures = worker_figures([did("node-b", 4242, 300.0, 1.0), did("node-a", 4242, 200.0, 2.0),
                              did("node-b", 4242, 310.0, 3.0), did("node-a", 99, 100.0, 1.0)])
    assert [(w["host"], w["pid"], w["calls"], w["peak_rss_mib"], w["cpu_s"], w["busy_s"])
            for w in figures] == [("node-a", 99, 1, 100.0, 1.0, 1.5),
                                  ("node-a", 4242, 1, 200.0, 2.0, 2.5),
                                  ("node-b", 4242, 2, 310.0, 4.0, 5.0)]


def test_a_used_output_folder_is_refused_without_resume(corpus, straight):
    before = (straight / "calls.parquet").stat().st_mtime_ns
    done = batch(corpus.ring, "--out", straight, "--asr", "none")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "already holds a batch run" in done.stderr
    assert "--resume" in done.stderr
    assert (straight / "calls.parquet").stat().st_mtime_ns == before


def test_a_used_output_folder_is_refused_before_ray_is_started(corpus, straight, tmp_path,
                                                                 monkeypatch):
    """Ray started for the run writes its session under $RAY_TMPDIR at once: an empty one
    after the refusal says Ray never started (it would take seconds, then be refused)."""
    ray_dir, home = tmp_path / "ray", tmp_path / "home"
    ray_dir.mkdir()
    home.mkdir()
    monkeypatch.setenv("RAY_TMPDIR", str(ray_dir))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    before = (straight / "calls.parquet").stat().st_mtime_ns
    done = batch(corpus.ring, "--out", straight, "--asr", "none", "--engine", "ray")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "already holds a batch run" in done.stderr
    assert list(ray_dir.iterdir()) == [] and list(home.iterdir()) == []
    assert (straight / "calls.parquet").stat().st_mtime_ns == before


def test_resume_skips_the_calls_done_and_gives_the_same_tables(corpus, straight, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(straight, out)
    done = batch(corpus.manifest, "--out", out, "--asr", "none", "--resume")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith(
        "3 calls: 2 complete, 1 failed (3 done before, not run again)")
    assert run_json(out)["skipped"] == 3
    assert_same_tables(out, straight)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill", "term"])
def test_a_stopped_run_leaves_no_table_and_resume_completes_it(corpus, tmp_path, sig):
    n = 6
    folder = many_copies(corpus, tmp_path, n)
    stopped, straight = tmp_path / "stopped", tmp_path / "straight"
    proc = start_and_stop(folder, stopped, sig, "--jobs", 1)
    assert proc.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 128 + sig)
    said = proc.stderr.read() if proc.stderr else ""
    if sig == signal.SIGTERM:
        assert said.count("\n") == 1 and "--resume" in said, said
    assert not list(stopped.glob("*.parquet")) and not list(stopped.glob("*.csv"))
    kept = settled_parts(stopped)
    assert 2 <= kept < n
    done = batch(folder, "--out", stopped, "--asr", "none", "--resume", "--jobs", 2)
    assert_resumed_as_straight(done, n, kept, folder, stopped, straight)
