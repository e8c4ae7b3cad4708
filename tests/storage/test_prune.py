"""``callmonitor prune``: old calls' kept audio (and with --sessions the sessions) removed, on
SQLite and PostgreSQL, never a call still running. Sessions are real ones written by the
store's writer, with real kept files (Opus, from a real keeper); their start times are moved
into the past in the database, which is what age is measured by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.frames import FRAME_S, Frame
from monitor.sinks.audio import AudioKeeper, kept_audio_name
from monitor.storage.database import open_database
from monitor.storage.prune import prune
from monitor.storage.sessions import get_session, list_sessions, session_records
from monitor.storage.writer import SessionWriter

# The calls' ages count back from here; the running call's heartbeat is stamped when the
# fixture stores it (a stamp taken at import would go stale, and the call count as lost, when
# the module's tests start more than lost_after_s after it is imported).
NOW = datetime.now(UTC)
# (days ago, status, audio kept): the two old finished calls go, the old running one and the
# recent one stay.
CALLS = [(40, "complete", True), (35, "interrupted", False), (31, "running", True),
         (2, "complete", True)]


def keep_audio(path: Path, seconds: float) -> None:
    keeper = AudioKeeper(path, "opus")
    rng = np.random.default_rng(3)
    for step in range(round(seconds / FRAME_S)):
        pcm = (rng.standard_normal(320) * 500).astype("<i2").tobytes()
        keeper.frames((Frame("agent", step * FRAME_S, pcm), Frame("customer", step * FRAME_S,
                                                                   pcm)))
    keeper.close("complete")


@pytest.fixture
def stored(store_location: str, tmp_path: Path) -> tuple[str, Path, list[int]]:
    audio_dir = tmp_path / "audio"
    ids = []
    for days, status, kept in CALLS:
        w = SessionWriter(store_location, mode="replay", source="c.wav", profile="zh-CN",
                          agent="a", company="c", asr_backend=None)
        w.add({"type": "speech", "t": 0.0, "channel": "agent", "start": 0.0, "end": 1.0})
        if kept:
            name = kept_audio_name(w.session_id, "opus")
            keep_audio(audio_dir / name, 1.0)
            w.keep_audio(name)
        w.close(status if status != "running" else "complete")
        with open_database(store_location) as db:
            db.execute("UPDATE sessions SET started_at = ?, status = ?, heartbeat_at = ?"
                       " WHERE id = ?", ((NOW - timedelta(days=days)).isoformat(), status,
                                         datetime.now(UTC).isoformat(), w.session_id))
        ids.append(w.session_id)
    return store_location, audio_dir, ids


def test_prune_removes_old_audio_only_of_finished_calls(stored) -> None:
    location, audio_dir, ids = stored
    sizes = {p.name: p.stat().st_size for p in audio_dir.iterdir()}
    cutoff = NOW - timedelta(days=30)
    dry = prune(location, audio_dir, cutoff, dry_run=True)
    assert (dry.files, dry.bytes, dry.sessions, dry.running) == (
        1, sizes[kept_audio_name(ids[0], "opus")], 0, 1)
    assert len(list(audio_dir.iterdir())) == 3  # a dry run removes nothing
    done = prune(location, audio_dir, cutoff)
    assert done == dry
    assert sorted(p.name for p in audio_dir.iterdir()) == sorted(
        kept_audio_name(i, "opus") for i in (ids[2], ids[3]))
    # The session stays, with its records, and no longer says audio was kept.
    assert get_session(location, ids[0]).audio is None
    assert len(list(session_records(location, ids[0]))) == 1
    assert "removed 1 audio file (" in done.describe(cutoff, False)
    assert "1 still running, left alone" in done.describe(cutoff, False)


def test_prune_sessions_removes_them_with_their_records(stored) -> None:
    location, audio_dir, ids = stored
    done = prune(location, audio_dir, NOW - timedelta(days=30), sessions=True)
    assert (done.files, done.sessions, done.running) == (1, 2, 1)
    assert sorted(s.id for s in list_sessions(location)) == [ids[2], ids[3]]
    with open_database(location) as db:
        left = db.rows("SELECT DISTINCT session_id FROM records ORDER BY session_id")
    assert [r[0] for r in left] == [ids[2], ids[3]]


def test_the_prune_command_says_what_it_removed(tmp_path: Path) -> None:
    db = tmp_path / "calls.sqlite3"
    audio_dir = tmp_path / "calls-audio"
    w = SessionWriter(db, mode="replay", source="c.wav", profile="zh-CN", agent="a",
                      company="c", asr_backend=None)
    keep_audio(audio_dir / "session-1.opus", 0.5)
    w.keep_audio("session-1.opus")
    w.close("complete")
    with open_database(db) as conn:
        conn.execute("UPDATE sessions SET started_at = ?",
                     ((NOW - timedelta(days=10)).isoformat(),))
    runner = CliRunner()
    refused = runner.invoke(main, ["prune", "--db", str(db)])
    assert refused.exit_code == 2 and "keep_days is 0" in refused.output
    kept = runner.invoke(main, ["prune", "--older-than", "11", "--db", str(db)])
    assert kept.exit_code == 0 and "removed 0 audio files (0.0 MB)" in kept.output
    dry = runner.invoke(main, ["prune", "--older-than", "9", "--sessions", "--dry-run",
                               "--db", str(db)])
    assert "would remove 1 audio file" in dry.output and "and 1 session " in dry.output
    assert (audio_dir / "session-1.opus").is_file()
    gone = runner.invoke(main, ["prune", "--older-than", "9", "--sessions", "--db", str(db)])
    assert gone.exit_code == 0 and gone.output.startswith("prune: removed 1 audio file")
    assert not (audio_dir / "session-1.opus").exists() and list_sessions(db) == []


def test_a_pruned_session_takes_its_notes_review_and_search_lines_along(tmp_path: Path) -> None:
    """Everything that hangs off a session goes with it: no note, review or transcript line
    (and no full-text index entry) of a call that no longer exists."""
    db = tmp_path / "calls.sqlite3"
    w = SessionWriter(db, mode="replay", source="c.wav", profile="zh-CN", agent="a",
                      company="c", asr_backend=None)
    w.add({"type": "utterance", "t": 1.0, "channel": "agent", "start": 0.0, "end": 1.0,
           "text": "您好请稍等"})
    w.close("complete")
    tables = ("records", "notes", "reviews", "transcript_lines", "transcript_fts")
    with open_database(db) as conn:
        conn.execute("UPDATE sessions SET started_at = ?",
                     ((NOW - timedelta(days=40)).isoformat(),))
        conn.execute("INSERT INTO notes (session_id, t, author, body, created_at)"
                     " VALUES (?, 1.0, 'boss', '先说明', ?)", (w.session_id, NOW.isoformat()))
        conn.execute("INSERT INTO reviews (session_id, state, by_user, at)"
                     " VALUES (?, 'reviewed', 'boss', ?)", (w.session_id, NOW.isoformat()))
        assert [conn.one(f"SELECT count(*) FROM {t}")[0] for t in tables] == [1] * len(tables)
    assert prune(db, tmp_path / "audio", NOW - timedelta(days=30), sessions=True).sessions == 1
    with open_database(db) as conn:
        assert [conn.one(f"SELECT count(*) FROM {t}")[0] for t in tables] == [0] * len(tables)
