"""``callmonitor batch --engine ray`` as a user runs it: a real process joining the session's
private Ray cluster (a head and a separate worker node, testkit/ray_cluster.py) with
``--address``, or starting Ray on this machine without it. Whatever the engine, the tables are
the local engine's, row for row (timing columns apart)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from testkit.batch_corpus import (
    CLI,
    REPO,
    Corpus,
    assert_resumed_as_straight,
    assert_same_tables,
    batch,
    many_copies,
    run_json,
    settled_parts,
    start_and_stop,
    whole_parts,
)
from testkit.ray_cluster import RayCluster, free_port


@pytest.fixture
def on_cluster(ray_cluster: RayCluster, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The batch options that run on the session's cluster; its token in the environment
    the batch processes inherit."""
    for name, value in ray_cluster.driver_env().items():
        monkeypatch.setenv(name, value)
    return ["--engine", "ray", "--address", ray_cluster.address]


def local_run(corpus: Corpus, out: Path, *args: object) -> Path:
    done = batch(corpus.manifest, "--out", out, "--jobs", 2, *args)
    assert done.returncode == 0, done.stderr
    return out


def test_a_cluster_run_gives_the_local_tables_and_resume_finds_every_call(
        corpus: Corpus, on_cluster: list[str], tmp_path: Path) -> None:
    local = local_run(corpus, tmp_path / "local", "--asr", "none")
    out = tmp_path / "ray"
    done = batch(corpus.manifest, "--out", out, "--asr", "none", *on_cluster)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "3 calls: 2 complete, 1 failed"
    assert_same_tables(local, out)
    assert whole_parts(out) == 3
    info = run_json(out)
    assert (info["engine"], info["jobs"], info["inputs"]) == ("ray", 2, 3)
    # Two workers of one CPU each, so one on each node (a node has one); a call goes to the
    # first free one (the faster may do them all); each reports its own process's memory.
    workers = info["workers"]
    assert 1 <= len(workers) <= 2 and sum(w["calls"] for w in workers) == 3
    assert all(w["peak_rss_mib"] > 50 for w in workers)
    # both nodes are on this machine (loopback): each worker by host and pid
    assert {w["host"] for w in workers} == {socket.gethostname()}

    again = batch(corpus.manifest, "--out", out, "--asr", "none", "--resume", *on_cluster)
    assert again.returncode == 0, again.stderr
    assert again.stderr.strip() == \
        "3 calls: 2 complete, 1 failed (3 done before, not run again)"
    assert run_json(out)["skipped"] == 3
    assert_same_tables(local, out)


@pytest.mark.slow
def test_a_recordings_warnings_reach_the_calls_table_from_the_cluster(
        warned: tuple[Path, Path, float], warned_out: Path, on_cluster: list[str],
        tmp_path: Path) -> None:
    """The warnings of opening a file are carried in its part, from the worker that opened it
    (tests/batch/test_warnings.py checks them against replay's)."""
    clean, odd, _seconds = warned
    out = tmp_path / "ray"
    done = batch(clean, odd, "--out", out, "--asr", "none", *on_cluster)
    assert done.returncode == 0, done.stderr
    assert_same_tables(warned_out, out)
    cells = pd.read_parquet(out / "calls.parquet").set_index("path")["warnings"].map(json.loads)
    assert cells[str(clean)] == [] and len(cells[str(odd)]) == 1
    assert cells[str(odd)][0].startswith(f"{odd}: 2 'fmt ' chunks")


def test_the_workers_use_the_commands_site_configuration(
        corpus: Corpus, on_cluster: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """$CALLMONITOR_CONFIG is the command's, not the nodes' (started without it)."""
    site = tmp_path / "site.toml"
    site.write_text('[rules."dead_air"]\nlimit_s = 8.0\n', encoding="utf-8")  # > its 6.5 s
    monkeypatch.setenv("CALLMONITOR_CONFIG", str(site))
    local = local_run(corpus, tmp_path / "local", "--asr", "none")
    out = tmp_path / "ray"
    done = batch(corpus.manifest, "--out", out, "--asr", "none", *on_cluster)
    assert done.returncode == 0, done.stderr
    assert_same_tables(local, out)
    ring = pd.read_parquet(out / "calls.parquet").set_index("path").loc[str(corpus.ring)]
    assert ring["alerts.dead_air"] == 0


def test_a_stopped_cluster_run_leaves_no_table_and_resume_completes_it(
        corpus: Corpus, on_cluster: list[str], tmp_path: Path) -> None:
    n = 12
    folder = many_copies(corpus, tmp_path, n)
    stopped, straight = tmp_path / "stopped", tmp_path / "straight"
    proc = start_and_stop(folder, stopped, signal.SIGTERM, *on_cluster)
    assert proc.returncode == 128 + signal.SIGTERM
    said = proc.stderr.read() if proc.stderr else ""
    assert said.count("\n") == 1 and "--resume" in said, said
    assert not list(stopped.glob("*.parquet")) and not list(stopped.glob("*.csv"))
    kept = settled_parts(stopped)
    assert 2 <= kept < n
    done = batch(folder, "--out", stopped, "--asr", "none", "--resume", *on_cluster)
    assert_resumed_as_straight(done, n, kept, folder, stopped, straight)


def _parts_of(out: Path) -> int:
    return whole_parts(out) if (out / "parts").is_dir() else 0


def _working(cluster: RayCluster, node: object) -> bool:
    """A worker of ``node`` is analysing a call."""
    for pid in cluster.processes():
        with contextlib.suppress(OSError):
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"CallWorker.work" in title and cluster.node_of(pid) is node:
                return True
    return False


@pytest.mark.slow
def test_a_lost_node_stops_the_run_with_one_line_and_resume_completes_it(
        corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 24
    folder = many_copies(corpus, tmp_path, n)
    out, straight = tmp_path / "out", tmp_path / "straight"
    with RayCluster(workers=1) as cluster:  # its own: this test kills a node of it
        for name, value in cluster.driver_env().items():
            monkeypatch.setenv(name, value)
        args = [folder, "--out", out, "--asr", "none", "--engine", "ray", "--address",
                cluster.address]
        proc = subprocess.Popen([*CLI, "batch", *map(str, args)], cwd=REPO, text=True,
                                stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        node = cluster.nodes[1]
        # Until calls are done and the node's worker is in one (Ray names a worker's process
        # after the method it runs): a worker still starting holds no call, and the head's
        # worker alone would finish the run.
        while _parts_of(out) < 2 or not _working(cluster, node):
            assert proc.poll() is None and time.monotonic() < deadline, "the batch ended first"
            time.sleep(0.02)
        # The worker node goes down at once, as a machine that loses power: every process
        # of it (its `ray start`, raylet, the worker analysing a call) killed together.
        for pid in [p for p in cluster.processes() if cluster.node_of(p) is node]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, said = proc.communicate(timeout=120)
        assert proc.returncode == 2, said
        assert said.count("\n") == 1 and "lost a worker" in said and "--resume" in said, said
        assert not list(out.glob("*.parquet"))
        kept = settled_parts(out)
        assert 2 <= kept < n
        # On the head alone, started while the cluster may still count the lost node's CPU:
        # the worker placed there never starts, and the other does every call.
        done = batch(*args, "--resume")
    assert_resumed_as_straight(done, n, kept, folder, out, straight)


@pytest.mark.slow
def test_whisper_on_the_cluster_gives_the_local_tables(
        corpus: Corpus, on_cluster: list[str], tmp_path: Path) -> None:
    """Each node's worker loads Whisper once and hears the calls as a local worker does."""
    args = ["--asr", "whisper", "--company", "诚美", "--agent-name", "小王"]
    local = local_run(corpus, tmp_path / "local", *args)
    out = tmp_path / "ray"
    done = batch(corpus.manifest, "--out", out, *args, *on_cluster)
    assert done.returncode == 0, done.stderr
    assert_same_tables(local, out)
    assert run_json(out)["models"]["backend"] == "whisper"


@pytest.fixture
def own_ray_dir() -> Iterator[Path]:
    """A short private folder for a Ray started by the batch (its unix sockets live there)."""
    folder = Path(tempfile.mkdtemp(prefix="cm-rt-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _processes_naming(text: str) -> list[int]:
    """Live processes whose command line holds ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.slow
def test_without_address_ray_starts_here_for_the_run_and_leaves_nothing(
        corpus: Corpus, own_ray_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RAY_TMPDIR", str(own_ray_dir))
    for name in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    local = local_run(corpus, tmp_path / "local", "--asr", "none")
    out = tmp_path / "ray"
    done = batch(corpus.manifest, "--out", out, "--asr", "none", "--engine", "ray",
                 "--jobs", 2)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "3 calls: 2 complete, 1 failed"  # no Ray chatter
    assert_same_tables(local, out)
    assert (run_json(out)["engine"], run_json(out)["jobs"]) == ("ray", 2)
    # Ray ran in its folder and is gone; nothing went to the user's home (no ~/.ray token).
    assert any(own_ray_dir.iterdir())
    assert _processes_naming(str(own_ray_dir)) == []
    assert list(home.iterdir()) == []


def test_address_without_engine_ray_is_refused(corpus: Corpus, tmp_path: Path) -> None:
    done = batch(corpus.manifest, "--out", tmp_path / "out", "--address", "127.0.0.1:1")
    assert done.returncode == 2
    assert "--address needs --engine ray" in done.stderr
    assert not (tmp_path / "out").exists()


def test_an_address_where_no_cluster_listens_is_refused_at_once(
        corpus: Corpus, tmp_path: Path) -> None:
    port = free_port()  # nobody listens there
    started = time.monotonic()
    done = batch(corpus.manifest, "--out", tmp_path / "out", "--engine", "ray", "--address",
                 f"127.0.0.1:{port}", timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"no Ray cluster answers at 127.0.0.1:{port}" in done.stderr
    assert time.monotonic() - started < 30  # Ray alone would retry for minutes
    assert not (tmp_path / "out").exists()  # nothing ran: the same command may run again


def test_a_driver_with_the_wrong_token_is_refused_in_one_line(
        corpus: Corpus, ray_cluster: RayCluster, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The cluster answers but refuses the token: one line saying so, not Ray's C++ log line
    (``gcs_client.cc: Failed to get cluster ID ... InvalidAuthToken``) before ours."""
    wrong = {**ray_cluster.driver_env(), "RAY_AUTH_TOKEN": "0" * 64,
             "RAY_gcs_server_port_wait_time_s": "1"}  # one try, not ~20 a second apart
    for name, value in wrong.items():
        monkeypatch.setenv(name, value)
    done = batch(corpus.manifest, "--out", tmp_path / "out", "--asr", "none", "--engine", "ray",
                 "--address", ray_cluster.address, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "the cluster refused this driver's token; set RAY_AUTH_TOKEN" in done.stderr
    assert not (tmp_path / "out").exists()
