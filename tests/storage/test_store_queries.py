"""The store on both engines: SQLite and a real PostgreSQL server started for the test session.

The review app's list is a query over sessions (filters, sort, paging); each case checks the
page against the truth worked out here in Python from the sessions the test wrote.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from monitor.errors import CallmonitorError
from monitor.storage.database import open_database
from monitor.storage.sessions import (
    SessionFilter,
    agents,
    alerted_rules,
    get_session,
    query_sessions,
    session_records,
)
from monitor.storage.writer import SessionWriter

# (agent, day, score, alerts_by_rule): the truth every query below is checked against.
CALLS = [
    ("李娜", "2026-11-01", 92.0, {}),
    ("李娜", "2026-11-02", 61.5, {"interruption": 2, "dead_air": 1}),
    ("王强", "2026-11-02", 75.0, {"dead_air": 3}),
    ("王强", "2026-11-05", None, {}),  # interrupted: no summary, no score
    ("Anna", "2026-11-07", 88.0, {"forbidden_phrase": 1}),
    ("李娜", "2026-11-09", 40.0, {"interruption": 1, "forbidden_phrase": 2}),
]


def _write(location: str) -> list[int]:
    ids = []
    for agent, day, score, alerts in CALLS:
        w = SessionWriter(location, mode="replay", source=f"{agent}-{day}.wav", profile="zh-CN",
                          agent=agent, company="c", asr_backend=None)
        w.add({"type": "speech", "t": 1.0, "channel": "agent", "start": 0.5, "end": 1.0})
        if score is not None:
            w.add({"type": "summary", "t": 60.0, "duration_s": 60.0, "score": score,
                   "alerts_by_rule": alerts})
        w.close("complete" if score is not None else "interrupted")
        ids.append(w.session_id)
    # The writer stamps the wall clock; give each session the day the truth says.
    with open_database(location) as db:
        for sid, (_, day, _, _) in zip(ids, CALLS, strict=True):
            db.execute("UPDATE sessions SET started_at = ? WHERE id = ?",
                       (f"{day}T10:00:00+00:00", sid))
    return ids


@pytest.fixture()
def filled(store_location: str) -> tuple[str, list[int]]:
    return store_location, _write(store_location)


def _ids(location: str, flt: SessionFilter, **kw: object) -> list[int]:
    return [s.id for s in query_sessions(location, flt, **kw)[0]]  # type: ignore[arg-type]


def test_filters_select_exactly_the_matching_sessions(filled):
    location, ids = filled
    truth = dict(zip(ids, CALLS, strict=True))

    def expect(pred) -> list[int]:
        return sorted((i for i, c in truth.items() if pred(*c)), reverse=True)

    def got(flt: SessionFilter) -> list[int]:
        return sorted(_ids(location, flt, limit=100), reverse=True)

    assert got(SessionFilter(agent="李娜")) == expect(lambda a, d, s, r: a == "李娜")
    assert got(SessionFilter(rule="dead_air")) == expect(lambda a, d, s, r: "dead_air" in r)
    assert got(SessionFilter(agent="李娜", rule="interruption")) == expect(
        lambda a, d, s, r: a == "李娜" and "interruption" in r)
    assert got(SessionFilter(since=date(2026, 11, 2), until=date(2026, 11, 5))) == expect(
        lambda a, d, s, r: "2026-11-02" <= d <= "2026-11-05")
    assert got(SessionFilter(min_score=60, max_score=90)) == expect(
        lambda a, d, s, r: s is not None and 60 <= s <= 90)
    assert got(SessionFilter(rule="no_such_rule")) == []


def test_sorting_and_paging_walk_every_session_once_in_order(filled):
    location, ids = filled
    scores = {i: c[2] for i, c in zip(ids, CALLS, strict=True)}
    by_score = sorted((i for i in ids if scores[i] is not None), key=lambda i: scores[i])
    by_score += [i for i in ids if scores[i] is None]  # no score: last, either way round
    pages = [_ids(location, SessionFilter(), sort="score", descending=False, offset=o, limit=4)
             for o in (0, 4)]
    assert pages[0] + pages[1] == by_score
    rows, total = query_sessions(location, SessionFilter(), offset=4, limit=4)
    assert total == len(CALLS) and len(rows) == 2
    newest_first = _ids(location, SessionFilter(), limit=100)
    assert newest_first == sorted(ids, key=lambda i: (CALLS[ids.index(i)][1], i), reverse=True)
    with pytest.raises(CallmonitorError, match="cannot sort sessions by 'summary'"):
        query_sessions(location, SessionFilter(), sort="summary")


def test_records_summary_and_filter_choices_round_trip(filled):
    location, ids = filled
    info = get_session(location, ids[1])
    assert info.alerts_by_rule == {"interruption": 2, "dead_air": 1}
    assert info.score == 61.5 and info.status == "complete" and info.audio is None
    assert [r["type"] for r in session_records(location, ids[1])] == ["speech", "summary"]
    assert agents(location) == sorted({c[0] for c in CALLS})
    assert alerted_rules(location) == sorted({r for c in CALLS for r in c[3]})
    interrupted = get_session(location, ids[3])
    assert interrupted.status == "interrupted" and interrupted.summary is None


def test_text_with_quotes_and_percent_signs_is_stored_as_written(store_location):
    text = "100% 'quoted' \"double\" ? %s 李娜"
    w = SessionWriter(store_location, mode="replay", source=text, profile="zh-CN", agent=text,
                      company=text, asr_backend=None)
    w.add({"type": "utterance", "t": 1.0, "text": text})
    w.close("complete")
    assert get_session(store_location, w.session_id).source == text
    assert [r["text"] for r in session_records(store_location, w.session_id)] == [text]
    assert [s.id for s in query_sessions(store_location, SessionFilter(agent=text))[0]] == [
        w.session_id]
    with open_database(store_location) as db:
        body = db.one("SELECT body FROM records WHERE session_id = ?", (w.session_id,))
    assert json.loads(body[0])["text"] == text


def test_kept_audio_is_recorded_on_the_session(store_location):
    w = SessionWriter(store_location, mode="live", source="pulse:mic", profile="zh-CN",
                      agent="a", company="c", asr_backend=None)
    w.keep_audio(f"session-{w.session_id}.wav")
    w.close("interrupted")
    assert get_session(store_location, w.session_id).audio == f"session-{w.session_id}.wav"


def test_a_pooled_postgresql_connection_the_server_ended_is_replaced(postgres_server):
    location = postgres_server.create_database("pool_check")
    with open_database(location, create=True) as db:
        pid = db.one("SELECT pg_backend_pid()")[0]
    with open_database(location) as db:  # the same connection, back from the pool
        assert db.one("SELECT pg_backend_pid()")[0] == pid
    with postgres_server.connect(autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with open_database(location) as db:
        assert db.one("SELECT pg_backend_pid()")[0] != pid
        assert db.one("SELECT COUNT(*) FROM sessions")[0] == 0
