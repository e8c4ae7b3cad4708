"""The live floor: the live state each session's writer keeps (phase, elapsed, score, pace,
latest alerts), the alert counts stored as the alerts happen, and ``/live``, ``/live.json`` and
``/live/events`` over it, on a real SQLite store (and PostgreSQL's LISTEN/NOTIFY).

The truth is the exact records a test gives the writer, and for the score the summary a real
replay wrote at the end of the same session."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from monitor.config import load_config
from monitor.sinks.store import StoreSink
from monitor.storage.live import LiveState, LiveWatch
from monitor.storage.users import add_user
from monitor.storage.writer import SessionWriter
from monitor.web.app import create_app
from monitor.web.auth import COOKIE
from testkit.replay import replay_records

PASSWORD = "floor-password-1"
CFG = load_config("zh-CN")
HOLD = CFG.rules.hold_too_long
DEAD_AIR_S = CFG.rules.dead_air.limit_s


def alert(t: float, rule: str, severity: str = "warn") -> dict:
    return {"type": "alert", "t": t, "rule": rule, "severity": severity, "message": "m",
            "say": "s", "evidence": {}}


def speech(channel: str, start: float, end: float) -> dict:
    return {"type": "speech", "t": start, "channel": channel, "start": start, "end": end,
            "level_dbfs": -20.0}


def rate(t: float, value: float) -> dict:
    return {"type": "metric", "t": t, "name": "agent_rate", "value": value, "unit": "cpm"}


def ring(start: float) -> dict:
    return {"type": "ring", "t": start, "start": start, "end": start + 1.0, "freq_hz": 450.0}


PICKUP = {"type": "pickup", "t": 8.0, "rings": 2}


def test_the_phase_follows_the_records_ringing_talking_on_hold_and_ended():
    state = LiveState(max_alerts=2)
    seen = []
    for record in (ring(0.0), ring(4.0), PICKUP, speech("agent", 8.0, 11.0),
                   {"type": "hold_start", "t": 14.0, "announced": True, "transfer": True},
                   {"type": "hold_end", "t": 20.0, "start": 14.0, "duration_s": 6.0},
                   {"type": "summary", "t": 30.0}):
        state.add(record)
        seen.append((state.phase, state.rings, state.hold_start))
    assert seen == [("ringing", 1, None), ("ringing", 2, None), ("talking", 2, None),
                    ("talking", 2, None), ("on_hold", 2, 14.0), ("talking", 2, None),
                    ("ended", 2, None)]
    assert state.t == 30.0 and state.silent_since == 20.0


def test_silence_counts_from_when_the_last_speaker_stopped_not_from_the_last_record():
    state = LiveState(max_alerts=3)
    state.add(PICKUP)
    assert state.step(8.2, ["agent"]) and not state.step(9.0, ["agent"])
    assert state.step(12.4, []) and state.silent_since == 12.4
    state.add(speech("agent", 8.2, 12.4))  # the segment's record comes after its end
    assert state.silent_since == 12.4 and state.speaking == ()


def test_the_score_is_the_summarys_figure_for_the_alerts_so_far_and_only_the_latest_alerts_kept():
    state = LiveState(max_alerts=2)
    assert state.score is None  # no weights: no checks known
    state.weights = {"dead_air": 1.0, "interruption": 2.0, "hold.too_long": 2.0}
    assert state.score == 100.0
    for record in (alert(3.0, "dead_air"), alert(5.0, "interruption", "violation"),
                   alert(9.0, "interruption", "violation"), rate(9.5, 231.0)):
        state.add(record)
    assert state.score == 40.0  # 2 of 5 weighted points: hold.too_long passed
    assert state.violations == 2 and state.agent_rate == 231.0
    assert [(a["rule"], a["t"]) for a in state.latest] == [("interruption", 5.0),
                                                            ("interruption", 9.0)]


# ---- the writer -------------------------------------------------------------------------------

def wait_for(db, what, timeout=3.0):
    """Poll the store until ``what(conn)`` is true; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(db) as conn:
            value = what(conn)
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def live_state(conn, session_id):
    row = conn.execute("SELECT live FROM sessions WHERE id = ?", (session_id,)).fetchone()
    return json.loads(row[0]) if row and row[0] else None


def counts(conn, session_id):
    return dict(conn.execute("SELECT rule, count FROM session_alerts WHERE session_id = ?",
                             (session_id,)).fetchall())


def open_writer(db, agent="wang") -> SessionWriter:
    return SessionWriter(db, mode="live", source="pulse:mic", profile="zh-CN", agent=agent,
                         company="诚美", asr_backend=None, store=CFG.store)


def test_alerts_are_counted_in_the_store_as_they_are_stored(tmp_path):
    db = tmp_path / "calls.sqlite3"
    writer = open_writer(db)
    writer.score_with({"dead_air": 1.0, "interruption": 3.0})
    for record in (PICKUP, alert(9.0, "dead_air")):
        writer.add(record)
    assert wait_for(db, lambda c: counts(c, writer.session_id)) == {"dead_air": 1}
    state = wait_for(db, lambda c: (live_state(c, writer.session_id) or {}).get("score") == 75.0
                     and live_state(c, writer.session_id))
    assert state["phase"] == "talking" and state["alerts_by_rule"] == {"dead_air": 1}
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM sessions").fetchone()[0] == "running"
    writer.close("interrupted")


def test_a_replay_stored_live_ends_with_the_live_figures_equal_to_its_summary(tmp_path,
                                                                              synth_call):
    db = tmp_path / "calls.sqlite3"
    writer = open_writer(db)
    records = replay_records(synth_call("rules/interruption").wav, CFG, None,
                             sinks=[StoreSink(writer)])
    summary = records[-1]
    assert summary["alerts_by_rule"], "the scenario must raise alerts"
    with sqlite3.connect(db) as conn:
        state = live_state(conn, writer.session_id)
        stored = counts(conn, writer.session_id)
    assert state["phase"] == "ended" and state["score"] == summary["score"]
    assert state["alerts_by_rule"] == summary["alerts_by_rule"] == stored
    rates = [r["value"] for r in records if r["type"] == "metric" and r["name"] == "agent_rate"]
    assert state["agent_rate"] == (rates[-1] if rates else None)


# ---- the floor -------------------------------------------------------------------------------

def sign_in(app, name):
    client = app.test_client()
    response = client.post("/login", data={"name": name, "password": PASSWORD})
    assert response.status_code == 303 and client.get_cookie(COOKIE) is not None
    return client


def open_floor(folder):
    """Five running calls that need a supervisor in a known order, one lost long ago; the
    app, the store, the session ids and the running calls' writers."""
    db = folder / "calls.sqlite3"
    calls = {
        "quiet": [PICKUP, speech("agent", 8.0, 20.0), rate(20.0, 240.0)],
        "dead": [PICKUP, speech("agent", 8.0, 10.0), rate(10.0 + DEAD_AIR_S + 2, 250.0)],
        "held": [PICKUP, {"type": "hold_start", "t": 10.0, "announced": True,
                          "transfer": False}, rate(10.0 + HOLD.limit_s - 1.0, 250.0)],
        "rude": [PICKUP, alert(12.0, "interruption", "violation")],
        "ringing": [ring(0.0)],
        "gone": [PICKUP],
    }
    writers = {}
    for agent, records in calls.items():
        writers[agent] = writer = open_writer(db, agent)
        writer.score_with({"interruption": 1.0, "dead_air": 1.0})
        for record in records:
            writer.add(record)
    writers["quiet"].speaking(20.0, ("agent",))  # talking again: no silence however slow
    ids = {agent: w.session_id for agent, w in writers.items()}
    total = sum(len(records) for records in calls.values())
    assert wait_for(db, lambda c: c.execute("SELECT COUNT(*) FROM records").fetchone()[0]
                    == total)  # stored with the live state, in one transaction
    writers.pop("gone").close("complete")
    long_ago = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    with sqlite3.connect(db) as conn:  # a process that died two hours ago
        conn.execute("UPDATE sessions SET status = 'running', heartbeat_at = ? WHERE id = ?",
                     (long_ago, ids["gone"]))
    add_user(db, "boss", "supervisor", PASSWORD)
    add_user(db, "wang", "agent", PASSWORD, agent="quiet")
    app = create_app(db, folder / "audio", CFG)
    app.config["TESTING"] = True
    return app, db, ids, writers


@pytest.fixture(scope="module")
def floor(tmp_path_factory):
    """The floor for tests that only read it (its clocks run on between them, which moves no
    call from its place in the order)."""
    app, db, ids, writers = open_floor(tmp_path_factory.mktemp("floor"))
    yield app, db, ids, writers
    for writer in writers.values():
        writer.close("complete")


@pytest.fixture
def own_floor(tmp_path):
    """A floor of its own, for a test that ends or loses its calls."""
    app, db, ids, writers = open_floor(tmp_path)
    yield app, db, ids, writers
    for writer in writers.values():
        writer.close("complete")




def test_the_floor_lists_running_calls_most_urgent_first(floor):
    app, _, ids, _ = floor
    rows = sign_in(app, "boss").get("/live.json").get_json()["rows"]
    assert [r["agent"] for r in rows] == ["rude", "held", "dead", "quiet", "ringing"]
    by_agent = {r["agent"]: r for r in rows}
    assert by_agent["rude"]["alerts"] == [{"rule": "interruption", "t": 12.0,
                                           "severity": "violation", "label": "Interruption"}]
    assert by_agent["rude"]["score"] == 50.0 and by_agent["quiet"]["score"] == 100.0
    assert by_agent["held"]["phase"] == "on_hold" and by_agent["held"]["hold_limit_s"] == 30.0
    assert by_agent["held"]["hold_s"] >= HOLD.limit_s - 1.0
    assert by_agent["dead"]["silence_s"] >= DEAD_AIR_S + 2
    assert by_agent["ringing"]["phase_label"] == "Ringing (1 ring)"
    assert by_agent["quiet"]["agent_rate"] == 240.0
    assert by_agent["quiet"]["url"] == f"/sessions/{ids['quiet']}"
    assert ids["gone"] not in [r["id"] for r in rows]


def test_a_stopped_heartbeat_shows_the_call_as_lost_and_an_ended_call_leaves(own_floor):
    app, db, ids, writers = own_floor
    boss = sign_in(app, "boss")
    a_minute_ago = (datetime.now(UTC) - timedelta(seconds=60)).isoformat()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE sessions SET heartbeat_at = ? WHERE id = ?",
                     (a_minute_ago, ids["quiet"]))
    rows = {r["agent"]: r for r in boss.get("/live.json").get_json()["rows"]}
    assert rows["quiet"]["phase"] == "lost" and rows["dead"]["phase"] == "talking"
    writers.pop("dead").close("complete")
    assert "dead" not in [r["agent"] for r in boss.get("/live.json").get_json()["rows"]]


def test_an_agent_sees_only_their_own_calls_live(floor):
    app, _, ids, _ = floor
    wang = sign_in(app, "wang")
    assert [r["id"] for r in wang.get("/live.json").get_json()["rows"]] == [ids["quiet"]]
    page = wang.get("/live")
    assert page.status_code == 200 and "rude" not in page.text
    assert app.test_client().get("/live.json").status_code == 401


def first_event(response) -> dict:
    text = ""
    for chunk in response.response:
        text += chunk.decode()
        if "\n\n" in text.partition("event: rows\n")[2]:
            break
    data = text.partition("event: rows\ndata: ")[2].partition("\n\n")[0]
    return json.loads(data)


def test_the_event_stream_sends_the_rows_and_its_streams_are_bounded(floor):
    app, _, _, _ = floor
    app.extensions.pop("callmonitor.live_streams", None)
    boss = sign_in(app, "boss")
    one = boss.get("/live/events", buffered=False)
    assert one.mimetype == "text/event-stream"
    sent = first_event(one)["rows"]
    assert [(r["id"], r["phase"]) for r in sent] == [
        (r["id"], r["phase"]) for r in boss.get("/live.json").get_json()["rows"]]
    streams = app.extensions["callmonitor.live_streams"]
    taken = [boss.get("/live/events", buffered=False)
             for _ in range(CFG.web.live_streams - 1)]
    refused = boss.get("/live/events")
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    for response in (one, *taken):
        response.close()
    assert streams._value == CFG.web.live_streams  # every slot back
    assert boss.get("/live/events", buffered=False).status_code == 200


def test_postgresql_notifies_a_watcher_within_a_second_of_the_stored_event(postgres_server):
    url = postgres_server.create_database("live_notify")
    writer = open_writer(url)
    watch = LiveWatch(url, poll_s=CFG.web.live_poll_s)
    try:
        while watch.wait(0.2):  # the session's first live state, if it came already
            pass
        added = time.monotonic()
        writer.add(alert(3.0, "dead_air"))
        assert watch.wait(2.0), "no NOTIFY"
        assert time.monotonic() - added < 1.0
        with psycopg.connect(url) as conn:  # the state was committed before the notice
            live, = conn.execute("SELECT live FROM sessions").fetchone()
        assert json.loads(live)["alerts_by_rule"] == {"dead_air": 1}
    finally:
        watch.close()
        writer.close("complete")


def test_a_running_calls_page_refreshes_as_the_same_audited_view(own_floor):
    """session-live.js fetches the page again with ?v= (its view's audit id): one view in the
    log, however many refreshes; someone else's view id is no way around the log."""
    app, db, ids, _ = own_floor
    boss, wang = sign_in(app, "boss"), sign_in(app, "wang")

    def views():
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT user_name FROM audit WHERE action = 'view'"
                                " ORDER BY id").fetchall()

    page = boss.get(f"/sessions/{ids['quiet']}")
    assert page.status_code == 200 and 'data-testid="running"' in page.text
    assert "session-live.js" in page.text
    view = re.search(r'data-view="(\d+)"', page.text).group(1)
    for _ in range(3):
        assert boss.get(f"/sessions/{ids['quiet']}?v={view}").status_code == 200
    assert views() == [("boss",)]
    assert wang.get(f"/sessions/{ids['quiet']}?v={view}").status_code == 200
    assert boss.get(f"/sessions/{ids['rude']}?v={view}").status_code == 200
    assert views() == [("boss",), ("wang",), ("boss",)]
