"""The session store on a real SQLite file: what is written as the call runs survives."""

from __future__ import annotations

import sqlite3

import pytest

from monitor.errors import CallmonitorError
from monitor.storage.sessions import get_session, list_sessions, session_records
from monitor.storage.writer import SessionWriter


def writer(db, **kw):
    args = dict(mode="replay", source="call.wav", profile="zh-CN", agent="a1", company="c",
                asr_backend="whisper")
    return SessionWriter(db, **{**args, **kw})


def test_records_come_back_in_order_and_the_summary_lands_on_the_session(tmp_path):
    db = tmp_path / "s.sqlite3"
    w = writer(db)
    records = [{"type": "speech", "t": i * 0.5, "channel": "agent", "start": i * 0.5,
                "end": i * 0.5 + 0.4} for i in range(200)]
    for r in records:
        w.add(r)
    w.add({"type": "summary", "t": 100.0, "duration_s": 100.0, "score": 87.5, "pickup_t": 1.0})
    w.close("complete")
    info = get_session(db, w.session_id)
    assert (info.status, info.duration_s, info.score) == ("complete", 100.0, 87.5)
    assert info.summary["pickup_t"] == 1.0
    assert list(session_records(db, w.session_id))[:200] == records


def test_a_session_cut_off_before_its_summary_keeps_every_record_written(tmp_path):
    db = tmp_path / "s.sqlite3"
    w = writer(db)
    w.add({"type": "ring", "t": 0.5, "start": 0.5, "end": 1.5, "freq_hz": 450.0})
    w.close("interrupted")
    info = get_session(db, w.session_id)
    assert info.status == "interrupted" and info.summary is None
    assert [r["type"] for r in session_records(db, w.session_id)] == ["ring"]


def test_sessions_are_listed_newest_first(tmp_path):
    db = tmp_path / "s.sqlite3"
    ids = []
    for name in ("a.wav", "b.wav", "c.wav"):
        w = writer(db, source=name)
        w.close("complete")
        ids.append(w.session_id)
    assert [s.id for s in list_sessions(db)] == ids[::-1]
    assert [s.source for s in list_sessions(db, limit=2)] == ["c.wav", "b.wav"]


def test_unknown_session_and_unusable_database_are_clear_errors(tmp_path):
    db = tmp_path / "s.sqlite3"
    writer(db).close("complete")
    with pytest.raises(CallmonitorError, match="no session 99"):
        get_session(db, 99)
    not_a_db = tmp_path / "junk.sqlite3"
    not_a_db.write_text("this is not a database\n" * 100)
    with pytest.raises(CallmonitorError, match="cannot open the session database") as exc:
        list_sessions(not_a_db)
    assert "\n" not in str(exc.value)


def test_deleting_a_session_removes_its_records(tmp_path):
    db = tmp_path / "s.sqlite3"
    w = writer(db)
    w.add({"type": "pickup", "t": 1.0, "rings": 1})
    w.close("complete")
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("DELETE FROM sessions WHERE id = ?", (w.session_id,))
        assert conn.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 0
