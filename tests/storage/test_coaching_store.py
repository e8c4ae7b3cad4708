"""Coaching in the store on both engines (SQLite and a real PostgreSQL server): notes and their
acknowledgement, review states and the "needs review" queue, the audit log's one play per
page view under concurrent range requests, and an older store gaining the coaching tables.

The truth is what each test wrote, worked out again here in Python."""

from __future__ import annotations

import threading

import pytest

from monitor.storage import database
from monitor.storage.coaching import (
    acknowledge,
    add_note,
    agent_notes,
    audit_rows,
    get_note,
    needs_review,
    record,
    record_play,
    review_of,
    session_notes,
    set_review,
)
from monitor.storage.database import open_database
from monitor.storage.writer import SessionWriter

# (agent, score or None while running, severities of its alerts)
CALLS = [
    ("李娜", 60.0, ["warn", "warn"]),
    ("李娜", 80.0, ["violation", "violation", "warn"]),
    ("王强", 60.0, ["violation"]),
    ("王强", None, ["violation"] * 3),  # still running: not in the queue
    ("Anna", 95.0, []),
]


def _write(location: str) -> list[int]:
    ids = []
    for agent, score, severities in CALLS:
        w = SessionWriter(location, mode="replay", source=f"{agent}.wav", profile="zh-CN",
                          agent=agent, company="c", asr_backend=None)
        for n, severity in enumerate(severities):
            w.add({"type": "alert", "t": 1.0 + n, "rule": "dead_air", "severity": severity,
                   "message": "m", "say": "s", "evidence": {"start": 0.5 + n, "limit_s": 5}})
        if score is not None:
            w.add({"type": "summary", "t": 60.0, "duration_s": 60.0, "score": score,
                   "alerts_by_rule": {"dead_air": len(severities)} if severities else {}})
            w.close("complete")
        ids.append(w.session_id)
    return ids


@pytest.fixture()
def filled(store_location: str) -> tuple[str, list[int]]:
    return store_location, _write(store_location)


def test_the_queue_holds_ended_sessions_new_or_disputed_worst_first(filled):
    location, ids = filled
    truth = dict(zip(ids, CALLS, strict=True))
    ended = [i for i in ids if truth[i][1] is not None]

    def queue(order: str) -> list[tuple[int, str]]:
        return [(info.id, state) for info, state in needs_review(location, order)[0]]

    by_score = sorted(ended, key=lambda i: (truth[i][1], -i))
    assert queue("score") == [(i, "new") for i in by_score]
    by_violations = sorted(ended, key=lambda i: (-truth[i][2].count("violation"), truth[i][1],
                                                 -i))
    assert by_violations != by_score
    assert [i for i, _ in queue("violations")] == by_violations

    set_review(location, by_score[0], "reviewed", "boss")
    set_review(location, by_score[1], "reviewed", "boss")
    set_review(location, by_score[1], "disputed", "wang")  # the same row, changed
    assert review_of(location, by_score[1]).state == "disputed"
    assert review_of(location, by_score[1]).by_user == "wang"
    assert review_of(location, by_score[2]).state == "new"
    assert queue("score") == [(by_score[1], "disputed"), *((i, "new") for i in by_score[2:])]
    assert needs_review(location, "score", limit=1, offset=1) == (
        needs_review(location, "score")[0][1:2], len(ended) - 1)


def test_notes_are_pinned_read_and_acknowledged_once(filled):
    location, ids = filled
    first = add_note(location, ids[0], 12.3456, "boss", "先道歉")
    second = add_note(location, ids[0], 3.0, "boss", "语速太快")
    other = add_note(location, ids[2], 1.0, "boss", "等客户说完")
    assert [(n.id, n.t) for n in session_notes(location, ids[0])] == [(second, 3.0),
                                                                     (first, 12.346)]
    acknowledge(location, first, "lina")
    acked = get_note(location, first)
    assert acked is not None and acked.acknowledged_by == "lina" and acked.agent == "李娜"
    acknowledge(location, first, "someone")
    assert get_note(location, first) == acked
    assert [n.id for n in agent_notes(location, "李娜", 10)] == [second, first]  # open first
    assert {n.id for n in agent_notes(location, None, 10)} == {first, second, other}
    assert get_note(location, 10**6) is None


def test_concurrent_range_requests_of_one_page_view_make_one_play(filled):
    location, ids = filled
    view = str(record(location, "boss", "view", ids[0]))
    barrier = threading.Barrier(8)
    written: list[bool] = []

    def play() -> None:
        barrier.wait()
        written.append(record_play(location, "boss", ids[0], view, 300.0))

    threads = [threading.Thread(target=play) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(written) == [False] * 7 + [True]
    assert record_play(location, "boss", ids[0], str(int(view) + 1), 300.0)  # another view
    rows, total = audit_rows(location, "boss", ids[0])
    assert total == 3 and [(r.action, r.detail) for r in rows] == [
        ("play", f"view {int(view) + 1}"), ("play", f"view {view}"), ("view", "")]
    assert audit_rows(location, "nobody", None) == ([], 0)


def test_an_older_store_gains_the_coaching_tables_when_opened(filled):
    location, ids = filled
    with open_database(location) as db:
        for table in ("notes", "reviews", "audit"):
            db.execute(f"DROP TABLE {table}")
    database._READY.discard(location)  # as a new process opening it would
    with open_database(location) as db:  # a reader: before, "lacks the tables notes, ..."
        db.require_schema()
    assert add_note(location, ids[0], 1.0, "boss", "x") > 0
    assert review_of(location, ids[0]).state == "new"
