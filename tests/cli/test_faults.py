"""``replay`` under the faults a user's shell brings, on real processes: signals, a reader that
goes away, a full or closed stdout, a WAV that cannot be looked at, a WAV with two formats.

Truth: a clean replay of the same call. A session ended early keeps, in the store, exactly
what the clean run produced up to the cut, then its summary; its exit status is the shell's
128 + the signal's number; nothing prints a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from monitor.config import load_config
from monitor.pipeline import Session
from monitor.sinks.collect import CollectSink
from monitor.sinks.jsonl import JsonlSink
from monitor.sources.wavfile import WavSource

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "demo_call.wav"
CLI = [sys.executable, "-m", "monitor"]
VAD_HANGOVER_S = 1.0  # a segment open at the cut is closed by it, not where the clean run ends it


def replay(*args: object, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "replay", *map(str, args)], text=True, cwd=REPO, timeout=300,
                          **kw)  # type: ignore[call-overload]


def clean_replay(wav: Path, folder: Path) -> list[dict]:
    """The call's records, replayed to the end."""
    done = replay(wav, "--asr", "none", "--json", "--db", folder / "s.sqlite3",
                  capture_output=True)
    done.check_returncode()
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The demo call's records, replayed to the end."""
    return clean_replay(DEMO, tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="module")
def paced_call(synth_call) -> Path:
    """The call the paced replays cut: picked up at 0.5 s with no ringing, so it is under way
    a second in (the demo rings until its pickup at 7.5 s, time each cut waited for)."""
    return synth_call("dead_air").wav


@pytest.fixture(scope="module")
def clean_paced(paced_call: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The paced call's records, replayed to the end."""
    return clean_replay(paced_call, tmp_path_factory.mktemp("clean_paced"))


def stored(db: Path) -> tuple[str, list[dict]]:
    """The only session's status and records."""
    with sqlite3.connect(db) as conn:
        [(session_id, status)] = conn.execute("SELECT id, status FROM sessions").fetchall()
        bodies = conn.execute("SELECT body FROM records WHERE session_id = ? ORDER BY seq",
                              (session_id,)).fetchall()
    return status, [json.loads(b) for (b,) in bodies]


def assert_cut_short(records: list[dict], clean: list[dict], status: str) -> dict:
    """``records`` end in a summary with ``status``; before it, what the clean run produced
    up to the cut (segments still open at the cut end there). Returns the summary."""
    summary = records[-1]
    assert summary["type"] == "summary" and summary["status"] == status
    cut = summary["duration_s"]
    assert 0 < cut < clean[-1]["duration_s"]
    same = 0
    while same < len(records) - 1 and records[same] == clean[same]:
        same += 1
    before_cut = [r for r in clean[:-1] if r["t"] < cut - VAD_HANGOVER_S]
    assert same >= len(before_cut)
    for r in records[same:-1]:
        assert r["type"] in ("speech", "metric"), r
        assert r.get("end", r["t"]) == pytest.approx(cut, abs=0.05), r
    return summary


def start_realtime(wav: Path, db: Path) -> subprocess.Popen[str]:
    """The call replayed at its own pace (time to cut it), JSON lines on a pipe."""
    return subprocess.Popen([*CLI, "replay", str(wav), "--asr", "none", "--realtime",
                             "--json", "--db", str(db)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_sigterm_and_sighup_end_replay_like_ctrl_c(tmp_path, paced_call, clean_paced, sig):
    db = tmp_path / "s.sqlite3"
    proc = start_realtime(paced_call, db)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    lines = [""]
    while '"pickup"' not in lines[-1]:  # the call is under way (pickup at 0.5 s)
        lines.append(proc.stdout.readline())
        assert lines[-1] and time.monotonic() < deadline, "replay ended before pickup"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig
    assert err == "", err  # no traceback
    printed = [json.loads(x) for x in [*lines[1:], *out.splitlines()]]
    status, records = stored(db)
    assert status == "interrupted"
    assert records == printed  # the store got every record the output did
    summary = assert_cut_short(records, clean_paced, "interrupted")
    assert any(r["type"] == "pickup" for r in records) and summary["duration_s"] < 20


def test_a_reader_that_goes_away_ends_replay_with_141_and_a_stored_summary(
        tmp_path, paced_call, clean_paced):
    """``replay --json | head -1``: the reader takes one line and closes the pipe."""
    db = tmp_path / "s.sqlite3"
    proc = start_realtime(paced_call, db)
    assert proc.stdout is not None and proc.stderr is not None
    first = json.loads(proc.stdout.readline())
    proc.stdout.close()
    assert proc.wait(timeout=60) == 128 + signal.SIGPIPE
    err = proc.stderr.read()
    assert err == "", err  # no traceback, no "Exception ignored ... BrokenPipeError"
    status, records = stored(db)
    assert status == "interrupted" and records[0] == first == clean_paced[0]
    assert_cut_short(records, clean_paced, "interrupted")


def test_a_broken_sink_is_dropped_and_the_others_get_every_record_and_close(clean_run):
    """In process, on a real pipe whose reader is gone: the JSON sink's first write fails
    (EPIPE); the session ends after that step, and the other sink still gets the records up
    to the cut, the summary and ``close``."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    kept = CollectSink()
    stream = os.fdopen(write_end, "w")
    session = Session(load_config("zh-CN"), WavSource(DEMO), None, [JsonlSink(stream), kept])
    summary = session.run({})
    assert isinstance(session.broken, BrokenPipeError)
    with contextlib.suppress(BrokenPipeError):  # closes the pipe; its buffer cannot be written
        stream.close()
    assert kept.status == "interrupted" and kept.records[-1] == summary
    assert_cut_short(kept.records, clean_run, "interrupted")
    # The first record (the first ring, at 1.5 s) broke it.
    assert summary["duration_s"] == pytest.approx(clean_run[0]["end"], abs=0.05)


def test_a_full_disk_under_stdout_is_one_line_and_a_failed_session(tmp_path, clean_run):
    db = tmp_path / "s.sqlite3"
    with open("/dev/full", "w") as full:
        done = replay(DEMO, "--asr", "none", "--db", db, stdout=full, stderr=subprocess.PIPE)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("callmonitor: error: "), done.stderr
    assert "No space left on device" in lines[0]
    status, records = stored(db)
    assert status == "failed"
    # The header could not be written: the session ended before its first frame.
    assert [r["type"] for r in records] == ["summary"]
    assert records[0]["status"] == "failed" and records[0]["duration_s"] == 0


def test_a_closed_stdout_is_refused_before_anything_is_stored(tmp_path):
    db = tmp_path / "s.sqlite3"
    done = subprocess.run(["bash", "-c", 'exec "$@" >&-', "-", *CLI, "replay", str(DEMO),
                           "--asr", "none", "--db", str(db)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "standard output is closed" in lines[0], done.stderr
    assert not db.exists()


def test_a_name_too_long_to_look_up_is_one_line(tmp_path):
    """ENAMETOOLONG: refused by the kernel as root too."""
    path = tmp_path / ("x" * 300) / "call.wav"
    done = replay(path, "--asr", "none", "--db", tmp_path / "s.sqlite3", capture_output=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot be read (File name too long)" in lines[0], done.stderr
    assert not (tmp_path / "s.sqlite3").exists()


def test_a_wav_in_a_folder_without_search_permission_is_one_line():
    """``chmod 000`` on the folder. Root passes every permission check, so as root the replay
    runs as nobody (setpriv); the files live under a world-readable temporary folder."""
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv (util-linux) is missing: root is never "
                        "denied a search permission")
        as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    base = Path(tempfile.mkdtemp(prefix="callmonitor-perm-"))
    try:
        base.chmod(0o777)
        locked = base / "locked"
        locked.mkdir()
        shutil.copy(DEMO, locked / "call.wav")
        locked.chmod(0)
        done = subprocess.run([*as_user, *CLI, "replay", str(locked / "call.wav"), "--asr",
                               "none", "--db", str(base / "s.sqlite3")], cwd=REPO,
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "cannot be read (Permission denied)" in lines[0], lines
        assert "call.wav" in lines[0] and not (base / "s.sqlite3").exists()
    finally:
        (base / "locked").chmod(0o700)
        shutil.rmtree(base)


def test_two_fmt_chunks_play_by_the_first_with_one_warning(tmp_path):
    """The issue's file: 3 s of 16 kHz 16-bit audio, then a second ``fmt `` chunk saying 8 kHz
    8-bit (read by the last one, the file lasts 12 s); sox reads it by the first."""
    rate, seconds = 16000, 3.0
    pcm = (8000 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)).astype("<i2")

    def chunk(cid: bytes, body: bytes) -> bytes:
        return cid + struct.pack("<I", len(body)) + body

    first = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    second = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)
    body = b"WAVE" + chunk(b"fmt ", first) + chunk(b"fmt ", second) + chunk(b"data",
                                                                              pcm.tobytes())
    path = tmp_path / "two-formats.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    sox = subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, check=True)
    assert float(sox.stdout) == pytest.approx(seconds)
    done = replay(path, "--asr", "none", "--json", "--db", tmp_path / "s.sqlite3",
                  capture_output=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["duration_s"] == pytest.approx(seconds)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("callmonitor: warning: "), done.stderr
    assert str(path) in lines[0] and "2 'fmt ' chunks; the first is used" in lines[0]
