"""Real database faults while a session is written: a lock another process holds, a corrupt
page, PostgreSQL stopped and started again. Each ends with the writer reconnected, or with the
session failed and every record in the store or the spool, and ``recover`` bringing the count
back to what was written. (The full disk is in tests/cli/test_store_failure_cli.py, through
the command and its exit status.)"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from monitor.config import StoreConfig, load_config
from monitor.errors import CallmonitorError
from monitor.storage.sessions import get_session, session_records
from monitor.storage.spool import read_spool, recover
from monitor.storage.writer import SessionWriter
from testkit.faults import lock_held

N = 400


def records(first: int, last: int) -> list[dict]:
    """Speech records with some bulk, so that a batch spans many database pages."""
    return [{"type": "speech", "t": i * 0.25, "channel": "agent", "start": i * 0.25,
             "end": i * 0.25 + 0.2, "note": f"record {i} " + "x" * 300}
            for i in range(first, last)]


def store(**changes: float) -> StoreConfig:
    return dataclasses.replace(load_config().store, **changes)


def open_writer(location, cfg: StoreConfig, troubles: list[str]) -> SessionWriter:
    return SessionWriter(location, mode="replay", source="call.wav", profile="zh-CN",
                         agent="a1", company="c", asr_backend=None, store=cfg,
                         on_trouble=troubles.append)


def stored(location, session_id: int) -> list[dict]:
    return list(session_records(location, session_id))


def wait_stored(location, session_id: int, n: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(stored(location, session_id)) < n:
        assert time.monotonic() < deadline, f"the writer did not store {n} records"
        time.sleep(0.05)


def half_stored(location, cfg: StoreConfig, troubles: list[str]) -> SessionWriter:
    """A writer that has stored the first half of the records: the call is under way."""
    w = open_writer(location, cfg, troubles)
    for r in records(0, N // 2):
        w.add(r)
    wait_stored(location, w.session_id, N // 2)
    return w


def test_a_lock_held_for_a_while_is_waited_out_and_nothing_is_lost(tmp_path):
    db = tmp_path / "s.sqlite3"
    troubles: list[str] = []
    w = half_stored(db, store(lock_wait_s=0.2, retry_s=10.0), troubles)
    with lock_held(db):
        for r in records(N // 2, N):
            w.add(r)
        time.sleep(1.5)  # the writer meets the lock and keeps trying
    w.close("complete")
    assert w.failure is None
    assert stored(db, w.session_id) == records(0, N)
    assert get_session(db, w.session_id).status == "complete"
    assert any("locked" in t and "trying again" in t for t in troubles)
    assert any("back" in t for t in troubles)


def test_a_lock_held_past_the_retry_time_fails_the_session_into_a_spool(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    db = tmp_path / "s.sqlite3"
    troubles: list[str] = []
    w = half_stored(db, store(lock_wait_s=0.2, retry_s=1.0), troubles)
    with lock_held(db):
        for r in records(N // 2, N):
            w.add(r)
        w.add({"type": "summary", "t": 100.0, "duration_s": 100.0, "score": 90.0,
               "alerts_by_rule": {"dead_air": 2}})
        w.close("complete")
    failure = w.failure
    assert failure is not None and "database is locked" in failure.error
    # Beside the database, and the whole session: what was stored and what was not.
    assert failure.spool.parent == tmp_path / "s-spool"
    assert (failure.records, failure.unsaved) == (N + 1, 0)
    assert len(stored(db, w.session_id)) == N // 2
    assert any("gives the database up" in t for t in troubles)

    done = recover(db, failure.spool)
    assert (done.session_id, done.added, done.already) == (w.session_id, N // 2 + 1, N // 2)
    info = get_session(db, w.session_id)
    assert (info.status, info.score, info.alerts_by_rule) == ("complete", 90.0, {"dead_air": 2})
    assert stored(db, w.session_id)[:N] == records(0, N)
    # Twice changes nothing.
    again = recover(db, failure.spool)
    assert (again.added, again.already) == (0, N + 1)
    assert len(stored(db, w.session_id)) == N + 1


def _corrupt_table(db: Path, table: str) -> None:
    """Overwrite the root page of ``table`` with garbage, as a failing disk would."""
    with sqlite3.connect(db) as conn:
        root, = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                             (table,)).fetchone()
        page_size, = conn.execute("PRAGMA page_size").fetchone()
    with db.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes([0xA5]) * page_size)


def test_a_corrupt_page_fails_the_session_and_a_new_database_takes_it_whole(tmp_path):
    db = tmp_path / "s.sqlite3"
    earlier = open_writer(db, store(), [])
    for r in records(0, N):
        earlier.add(r)
    earlier.close("complete")  # the last connection closes: everything is in the main file
    w = open_writer(db, store(), [])
    _corrupt_table(db, "records")  # the writer has not read that table yet
    for r in records(0, N):
        w.add(r)
    w.close("complete")
    failure = w.failure
    assert failure is not None and "malformed" in failure.error
    assert failure.records == N and failure.unsaved == 0
    assert get_session(db, w.session_id).status == "failed"  # the sessions table still answers

    fresh = tmp_path / "new.sqlite3"
    done = recover(fresh, failure.spool)
    assert (done.added, done.already, done.status) == (N, 0, "complete")
    info = get_session(fresh, done.session_id)
    assert (info.source, info.agent, info.status) == ("call.wav", "a1", "complete")
    assert stored(fresh, done.session_id) == records(0, N)


def test_a_spool_cut_off_by_a_kill_is_recovered_up_to_its_last_whole_line(tmp_path):
    db = tmp_path / "s.sqlite3"
    w = open_writer(db, store(lock_wait_s=0.2, retry_s=0.5), [])
    with lock_held(db):
        for r in records(0, 10):
            w.add(r)
        w.close("complete")
    spool = w.failure.spool
    text = spool.read_text()
    spool.write_text(text[: text.rindex('{"seq": 9') + 20])  # dies within the 10th record
    content = read_spool(spool)
    assert content.torn and len(content.rows) == 9 and content.status is None
    done = recover(db, spool)
    assert (done.added, done.status, done.torn) == (9, "interrupted", True)
    assert stored(db, w.session_id) == records(0, 9)


@pytest.mark.parametrize("text", ["", "not json\n", '{"callmonitor_spool": 99}\n',
                                  '{"callmonitor_spool": 1, "session": {}}\n'])
def test_a_file_that_is_not_a_spool_is_one_line_naming_it(tmp_path, text):
    path = tmp_path / "x.jsonl"
    path.write_text(text)
    with pytest.raises(Exception, match=str(path)) as exc:
        recover(tmp_path / "s.sqlite3", path)
    assert "\n" not in str(exc.value) and type(exc.value).__name__ == "CallmonitorError"


def test_postgresql_stopped_mid_call_and_started_again_loses_nothing(postgres_server):
    url = postgres_server.create_database(f"t{uuid.uuid4().hex[:12]}")
    troubles: list[str] = []
    w = half_stored(url, store(retry_s=30.0), troubles)
    postgres_server.pause()
    try:
        for r in records(N // 2, N):
            w.add(r)
        time.sleep(2.0)  # the writer finds the connection gone and keeps trying
    finally:
        postgres_server.resume()
    w.close("complete")
    assert w.failure is None
    assert stored(url, w.session_id) == records(0, N)
    assert get_session(url, w.session_id).status == "complete"
    assert any("trying again" in t for t in troubles) and any("back" in t for t in troubles)


def test_postgresql_down_past_the_retry_time_spools_to_the_cache(postgres_server, tmp_path,
                                                                 monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    url = postgres_server.create_database(f"t{uuid.uuid4().hex[:12]}")
    w = half_stored(url, store(retry_s=1.0, heartbeat_s=0.1, lost_after_s=0.5), [])
    postgres_server.pause()
    try:
        for r in records(N // 2, N):
            w.add(r)
        w.close("interrupted")
    finally:
        postgres_server.resume()
    failure = w.failure
    assert failure is not None and failure.spool.is_relative_to(tmp_path / "cache")
    assert json.loads(failure.spool.read_text().splitlines()[0])["database"] == url
    time.sleep(0.6)
    assert get_session(url, w.session_id).status == "lost"  # its heartbeat never came back
    done = recover(url, failure.spool)
    assert (done.added, done.already, done.status) == (N // 2, N // 2, "interrupted")
    assert stored(url, w.session_id) == records(0, N)


def test_a_spool_naming_a_url_without_its_password_needs_the_database_given(tmp_path):
    """The header keeps a URL as messages print it, password masked: recover cannot go
    there by itself."""
    path = tmp_path / "s.jsonl"
    header = {"callmonitor_spool": 1, "database": "postgresql://cm:***@db.example/calls",
              "session_id": 1, "error": "x",
              "session": {"started_at": "2026-01-01T00:00:00+00:00", "mode": "live",
                          "source": "pulse:mic", "profile": "zh-CN", "agent": "a",
                          "company": "c", "asr_backend": None}}
    path.write_text(json.dumps(header) + "\n")
    with pytest.raises(CallmonitorError, match=r"without its password.*--db"):
        recover(None, path)
    assert recover(tmp_path / "new.sqlite3", path).added == 0
