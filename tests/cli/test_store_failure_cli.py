"""A database that fails under a replay, through the real command: the call is still checked
to its end, the command exits 2 with one line naming the spool, nothing is lost, and
``callmonitor recover`` puts the session back so that it equals a clean run's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.faults import fill_disk, lock_held

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "demo_call.wav"
CLI = [sys.executable, "-m", "monitor"]


def run(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          env=env, timeout=120)


def replay(db: Path, *options, env=None) -> subprocess.CompletedProcess:
    return run("replay", DEMO, "--asr", "none", "--json", "--db", db, *options, env=env)


def shown(db: Path, session_id: int) -> list[dict]:
    out = run("show", session_id, "--json", "--db", db)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def spool_of(stderr: str) -> Path:
    """The one error line names the spool and the command that loads it."""
    errors = [line for line in stderr.splitlines() if line.startswith("callmonitor: error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert "session" in errors[0] and "is marked failed" in errors[0]
    return Path(errors[0].rsplit("`callmonitor recover ", 1)[1].rstrip("`"))


def same_timeline(a: list[dict], b: list[dict]) -> bool:
    """Two runs of one call: the same records, but for who they were stored as."""
    def strip(records: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "session_id"} for r in records]
    return strip(a) == strip(b)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs of its own, so the test can fill it up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the disk-full test "
                    "needs root (or CAP_SYS_ADMIN)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_the_session_into_the_cache_and_recover_completes_it(
        tiny_disk, tmp_path):
    db = tiny_disk / "calls.sqlite3"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    clean = replay(db, env=env)
    assert clean.returncode == 0
    clean_records = [json.loads(line) for line in clean.stdout.splitlines()]
    # Room for the session to start (its row, SQLite's shared-memory file), not for the call.
    filler = fill_disk(tiny_disk, leave=96 * 1024)
    failed = replay(db, env=env)
    assert failed.returncode == 2
    spool = spool_of(failed.stderr)
    # The call was still checked to its end, and said so on stdout.
    assert json.loads(failed.stdout.splitlines()[-1])["status"] == "complete"
    # The folder beside the database is on the same full disk: the spool is in the cache.
    assert spool.is_relative_to(tmp_path / "cache") and not (tiny_disk / "calls-spool").exists()
    session_id = json.loads(spool.read_text().splitlines()[0])["session_id"]

    filler.unlink()
    loaded = run("recover", spool)
    assert loaded.returncode == 0, loaded.stderr
    assert f"session {session_id} (complete)" in loaded.stdout
    assert same_timeline(shown(db, session_id), clean_records)
    assert f"{session_id}  " in run("sessions", "--db", db).stdout


def _first_seconds(wav: Path, seconds: float, out: Path) -> Path:
    subprocess.run(["sox", str(wav), str(out), "trim", "0", str(seconds)], check=True)
    return out


@pytest.mark.slow
def test_a_lock_taken_mid_call_fails_the_session_and_recover_completes_it(tmp_path,
                                                                          synth_call):
    """The dead_air call's first 5 s (the pickup at 0.5 s, then both sides speak) at its own
    pace: the lock is taken once the call is under way and held to its end."""
    call = _first_seconds(synth_call("dead_air").wav, 5.0, tmp_path / "call.wav")
    db = tmp_path / "calls.sqlite3"
    clean = run("replay", call, "--asr", "none", "--json", "--db", db)
    site = tmp_path / "site.toml"
    site.write_text("[store]\nlock_wait_s = 0.2\nretry_s = 0.5\n")
    proc = subprocess.Popen([*CLI, "replay", str(call), "--asr", "none", "--json", "--realtime",
                             "--db", str(db), "--config", str(site)], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()  # the pickup: the session is stored and under way
    with lock_held(db):
        rest, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    spool = spool_of(stderr)
    assert spool.parent == tmp_path / "calls-spool"
    assert "database is locked" in stderr and "trying again for 0.5 s" in stderr
    loaded = run("recover", spool, "--db", db)
    assert loaded.returncode == 0, loaded.stderr
    records = [json.loads(line) for line in (first + rest).splitlines()]
    assert records[-1]["status"] == "complete"
    assert same_timeline(shown(db, records[-1]["session_id"]),
                         [json.loads(line) for line in clean.stdout.splitlines()])
