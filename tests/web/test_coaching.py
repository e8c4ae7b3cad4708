"""Coaching in the review app, through Flask's test client over a real SQLite store filled by
real replays of synthesised calls: notes pinned to a moment and their acknowledgement, who may
see and write them, review states and the "needs review" queue, the audit log, and where an
alert's link seeks (the evidence's start, against the synthesised call's truth).

The truth is the database itself (read with sqlite3, not through the app) and the scenarios'
known times."""

from __future__ import annotations

import json
import re
import sqlite3
import tomllib
from html import unescape

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import load_config
from monitor.storage.users import add_user
from monitor.web.session import find_words
from testkit import synth
from testkit.pages import Page
from testkit.review_app import client_signed_in, review_app

PASSWORDS = {"boss": "boss-password", "wang": "wang-password", "li": "li-password"}
# (scenario, agent): session ids 1 to 4 in this order; the first keeps its audio. The first
# and the last score alike (70), but only the first holds a violation (its hold ran too long).
CALLS = [("rules/hold_too_long", "wang"), ("dead_air", "li"), ("rules/interruption", "wang"),
         ("live_call", "li")]
WANG_HOLD, LI_DEAD_AIR, WANG_INTERRUPTION = 1, 2, 3


@pytest.fixture(scope="module")
def store(tmp_path_factory, synth_call):
    db = tmp_path_factory.mktemp("coaching") / "calls.sqlite3"
    runner = CliRunner()
    for n, (scenario, agent) in enumerate(CALLS):
        result = runner.invoke(main, ["replay", str(synth_call(scenario).wav), "--asr", "none",
                                      "--db", str(db), "--agent-name", agent,
                                      *(["--keep-audio"] if n == 0 else [])])
        assert result.exit_code == 0, result.output
    for name, password in PASSWORDS.items():
        add_user(db, name, "supervisor" if name == "boss" else "agent", password)
    return db


def make_app(db, **web):
    return review_app(db, **web)


@pytest.fixture(scope="module")
def app(store):
    return make_app(store)


def signed_in(app, name):
    return client_signed_in(app, name, PASSWORDS[name])


@pytest.fixture(scope="module")
def boss(app):
    return signed_in(app, "boss")


@pytest.fixture(scope="module")
def wang(app):
    return signed_in(app, "wang")


@pytest.fixture(scope="module")
def li(app):
    return signed_in(app, "li")


def token(client, session_id):
    """The form token a session's page gives this browser."""
    page = client.get(f"/sessions/{session_id}")
    assert page.status_code == 200
    return Page(page.text).field("form_token")


def query(db, sql, *params):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


# ---- notes ---------------------------------------------------------------------------------

def test_a_supervisor_pins_a_note_and_the_agent_reads_it_there_and_acknowledges_it(
        store, boss, wang):
    posted = boss.post(f"/sessions/{WANG_HOLD}/notes", data={
        "t": "6.4", "body": "这里先说“请稍等”再保持", "form_token": token(boss, WANG_HOLD)})
    assert posted.status_code == 303
    [(note_id, t, author, body, acked_at)] = query(
        store, "SELECT id, t, author, body, acknowledged_at FROM notes WHERE session_id = ?",
        WANG_HOLD)
    assert (t, author, body, acked_at) == (6.4, "boss", "这里先说“请稍等”再保持", None)
    assert posted.headers["Location"].endswith(f"/sessions/{WANG_HOLD}#note-{note_id}")

    listed = Page(wang.get("/notes").text)
    [row] = [r for r in listed.all("note-row") if r["data-id"] == str(note_id)]
    assert row["data-session"] == str(WANG_HOLD)
    [link] = listed.all("note-link")
    assert link["href"] == f"/sessions/{WANG_HOLD}?t=6.4#note-{note_id}"
    opened = wang.get(link["href"].split("#")[0])
    page = Page(opened.text)
    assert [(n["data-id"], n["data-t"]) for n in page.all("note")] == [(str(note_id), "6.4")]
    assert page.all("note-seek")[0]["data-seek"] == "6.4"
    assert timeline_json(opened.text)["start_at"] == 6.4  # the page starts at the note

    boss_form = {"form_token": token(boss, LI_DEAD_AIR)}
    assert boss.post(f"/notes/{note_id}/ack", data=boss_form).status_code == 403  # not his call
    assert query(store, "SELECT acknowledged_at FROM notes WHERE id = ?", note_id) == [(None,)]
    assert wang.post(f"/notes/{note_id}/ack",
                     data={"form_token": token(wang, WANG_HOLD)}).status_code == 303
    [(acked_at, acked_by)] = query(
        store, "SELECT acknowledged_at, acknowledged_by FROM notes WHERE id = ?", note_id)
    assert acked_by == "wang" and acked_at
    wang.post(f"/notes/{note_id}/ack", data={"form_token": token(wang, WANG_HOLD)})  # again
    assert query(store, "SELECT acknowledged_at FROM notes WHERE id = ?", note_id) == [
        (acked_at,)]
    assert "wang" in Page(wang.get(f"/sessions/{WANG_HOLD}").text).texts("note-ack")[0]


def test_an_agent_can_neither_read_nor_write_notes_on_another_agents_call(store, boss, li,
                                                                           wang):
    boss.post(f"/sessions/{WANG_INTERRUPTION}/notes", data={
        "t": "3", "body": "先听完客户的话", "form_token": token(boss, WANG_INTERRUPTION)})
    [(note_id,)] = query(store, "SELECT id FROM notes WHERE session_id = ?", WANG_INTERRUPTION)
    form = {"t": "1", "body": "x", "form_token": token(li, LI_DEAD_AIR)}
    for path in (f"/sessions/{WANG_INTERRUPTION}/notes", f"/notes/{note_id}/ack",
                 f"/sessions/{WANG_INTERRUPTION}/review"):
        assert li.post(path, data={**form, "state": "disputed"}).status_code == 404, path
    assert "先听完客户的话" not in li.get("/notes").text
    assert li.get(f"/sessions/{WANG_INTERRUPTION}").status_code == 404
    assert query(store, "SELECT acknowledged_at FROM notes WHERE id = ?", note_id) == [(None,)]
    # On their own call an agent acknowledges and disputes, but does not write notes.
    own = {"t": "1", "body": "x", "form_token": token(wang, WANG_INTERRUPTION)}
    assert wang.post(f"/sessions/{WANG_INTERRUPTION}/notes", data=own).status_code == 403
    assert query(store, "SELECT COUNT(*) FROM notes WHERE session_id = ?",
                 WANG_INTERRUPTION) == [(1,)]


@pytest.mark.parametrize("headers, form", [
    ({}, {}),  # no form token
    ({}, {"form_token": "0" * 32}),  # a wrong one
    ({"Origin": "https://evil.example"}, None),  # the right one, from another site
    ({"Sec-Fetch-Site": "cross-site"}, None),
])
def test_a_form_posted_from_elsewhere_changes_nothing(store, boss, headers, form):
    before = query(store, "SELECT COUNT(*) FROM notes")
    fields = {"t": "2", "body": "cross-site", **(form if form is not None
                                                  else {"form_token": token(boss, LI_DEAD_AIR)})}
    answer = boss.post(f"/sessions/{LI_DEAD_AIR}/notes", data=fields, headers=headers)
    assert answer.status_code == 403
    assert query(store, "SELECT COUNT(*) FROM notes") == before


@pytest.mark.parametrize("t, body", [("-1", "x"), ("1e9", "x"), ("nan", "x"), ("1", ""),
                                     ("1", "x" * 2001)])
def test_a_note_outside_the_call_or_empty_or_too_long_is_refused(store, boss, t, body):
    before = query(store, "SELECT COUNT(*) FROM notes")
    answer = boss.post(f"/sessions/{LI_DEAD_AIR}/notes",
                       data={"t": t, "body": body, "form_token": token(boss, LI_DEAD_AIR)})
    assert answer.status_code == 400
    assert query(store, "SELECT COUNT(*) FROM notes") == before


# ---- review state and the queue ------------------------------------------------------------

def queue_ids(client, order="score"):
    page = client.get(f"/queue?order={order}")
    assert page.status_code == 200, page.text
    return [(int(r["data-id"]), r["data-state"]) for r in Page(page.text).all("queue-row")]


def violations(db, session_id):
    return sum(json.loads(body)["severity"] == "violation" for (body,) in query(
        db, "SELECT body FROM records WHERE session_id = ? AND type = 'alert'", session_id))


def test_review_states_and_the_needs_review_queue(store, app, boss, wang, li):
    scores = dict(query(store, "SELECT id, score FROM sessions"))
    new = sorted(scores, key=lambda i: (scores[i], -i))
    assert queue_ids(boss) == [(i, "new") for i in new]
    by_violations = sorted(scores, key=lambda i: (-violations(store, i), scores[i], -i))
    assert violations(store, WANG_HOLD) > 0 and by_violations[0] == WANG_HOLD != new[0]
    assert [i for i, _ in queue_ids(boss, "violations")] == by_violations

    assert boss.post(f"/sessions/{LI_DEAD_AIR}/review", data={
        "state": "reviewed", "form_token": token(boss, LI_DEAD_AIR)}).status_code == 303
    assert query(store, "SELECT state, by_user FROM reviews WHERE session_id = ?",
                 LI_DEAD_AIR) == [("reviewed", "boss")]
    assert LI_DEAD_AIR not in [i for i, _ in queue_ids(boss)]
    assert Page(li.get(f"/sessions/{LI_DEAD_AIR}").text).texts("review-state") == ["reviewed"]

    # The agent disputes their own call, saying why at a moment; they may not clear it.
    assert wang.post(f"/sessions/{WANG_HOLD}/review", data={
        "state": "reviewed", "form_token": token(wang, WANG_HOLD)}).status_code == 403
    assert wang.post(f"/sessions/{WANG_HOLD}/review", data={
        "state": "disputed", "t": "2.5", "body": "我说了请稍等",
        "form_token": token(wang, WANG_HOLD)}).status_code == 303
    assert query(store, "SELECT state, by_user FROM reviews WHERE session_id = ?",
                 WANG_HOLD) == [("disputed", "wang")]
    [(dispute_id,)] = query(store, "SELECT id FROM notes WHERE session_id = ? AND author = ?"
                            " AND t = 2.5 AND body = ?", WANG_HOLD, "wang", "我说了请稍等")
    assert wang.post(f"/notes/{dispute_id}/ack", data={
        "form_token": token(wang, WANG_INTERRUPTION)}).status_code == 403  # their own note
    assert (WANG_HOLD, "disputed") in queue_ids(boss)
    assert wang.get("/queue").status_code == 404 and "nav-queue" not in wang.get("/").text


# ---- the audit log -------------------------------------------------------------------------

def audit(db, *where):
    sql = "SELECT user_name, action, session_id, detail FROM audit"
    return query(db, sql + (" WHERE " + where[0] if where else "") + " ORDER BY id",
                 *where[1:])


def test_views_plays_and_downloads_are_logged_once_each(store, app):
    client = signed_in(app, "wang")  # its own user's rows only: a fresh client
    start = query(store, "SELECT COALESCE(MAX(id), 0) FROM audit")[0][0]
    page = Page(client.get(f"/sessions/{WANG_HOLD}").text)
    src = page.all("audio")[0]["src"]
    view = re.fullmatch(rf"/sessions/{WANG_HOLD}/audio\?v=(\d+)", src).group(1)
    for first, last in ((0, 1), (1000, 4999), (0, None), (5000, 9999)):  # a player's ranges
        answer = client.get(src, headers={"Range": f"bytes={first}-{'' if last is None else last}"})
        assert answer.status_code == 206
    second = Page(client.get(f"/sessions/{WANG_HOLD}").text).all("audio")[0]["src"]
    client.get(second, headers={"Range": "bytes=0-"})
    client.get(second, headers={"Range": "bytes=100-"})
    saved = client.get(page.all("download-audio")[0]["href"])
    assert saved.status_code == 200 and "attachment" in saved.headers["Content-Disposition"]
    client.get(f"/sessions/{WANG_HOLD}.json")
    client.get("/sessions.csv?min_score=1")
    rows = audit(store, "id > ? AND user_name = 'wang'", start)
    assert rows == [("wang", "view", WANG_HOLD, ""), ("wang", "play", WANG_HOLD, f"view {view}"),
                    ("wang", "view", WANG_HOLD, ""),
                    ("wang", "play", WANG_HOLD, f"view {second.split('=')[1]}"),
                    ("wang", "download", WANG_HOLD, "audio"),
                    ("wang", "download", WANG_HOLD, "json"),
                    ("wang", "download", None, "csv min_score=1")]


def test_a_play_outside_a_page_view_is_one_row_a_window(store):
    app = make_app(store, audit_play_window_s=0.001)  # every request is a new window
    client = signed_in(app, "li")
    start = query(store, "SELECT COALESCE(MAX(id), 0) FROM audit")[0][0]
    for _ in range(2):
        client.get(f"/sessions/{WANG_HOLD}/audio")  # not li's call: not found, not logged
    assert audit(store, "id > ? AND action = 'play'", start) == []
    boss = signed_in(make_app(store), "boss")
    for _ in range(3):
        boss.get(f"/sessions/{WANG_HOLD}/audio", headers={"Range": "bytes=0-99"})
    assert audit(store, "id > ? AND action = 'play'", start) == [
        ("boss", "play", WANG_HOLD, "")]


def test_a_supervisor_reads_the_audit_log_filtered_and_an_agent_cannot(store, boss, wang):
    wang.get(f"/sessions/{WANG_INTERRUPTION}")
    everything = Page(boss.get("/audit").text).all("audit-row")
    assert len(everything) == min(len(audit(store)), load_config("zh-CN").web.page_size)
    for args, where in ((("user=wang",), ("user_name = 'wang'",)),
                        ((f"session={WANG_INTERRUPTION}",), (f"session_id = {WANG_INTERRUPTION}",)),
                        (("user=wang", f"session={WANG_INTERRUPTION}"),
                         ("user_name = 'wang'", f"session_id = {WANG_INTERRUPTION}"))):
        shown = Page(boss.get("/audit?" + "&".join(args)).text).all("audit-row")
        truth = audit(store, " AND ".join(where))[::-1][:load_config("zh-CN").web.page_size]
        assert [(r["data-user"], r["data-action"], r["data-session"]) for r in shown] == [
            (u, a, str(s) if s is not None else "") for u, a, s, _ in truth]
        assert truth
    assert wang.get("/audit").status_code == 404
    assert wang.get(f"/audit?user=wang&session={WANG_HOLD}").status_code == 404
    assert boss.get("/audit?session=abc").status_code == 400


def test_the_audit_log_and_the_queue_page_on_to_their_last_rows(store):
    """Pages of one row: the next link of page 1 opens page 2, the last page has none, and
    the pages keep the filter."""
    boss = signed_in(make_app(store, page_size=1), "boss")
    for session_id in (1, 2):  # two views: two rows of the log at least
        boss.get(f"/sessions/{session_id}")
    for path, rows, truth in (("/audit?user=boss", "audit-row", "user_name = 'boss'"),
                              ("/queue", "queue-row", None)):
        first = boss.get(path).text
        total = int(re.search(r"1 / (\d+)", first)[1])
        if truth is not None:
            assert total == len(audit(store, truth))
        assert total >= 2 and f"1 / {total}" in first
        link = unescape(re.search(r'href="([^"]+)" rel="next"', first)[1])
        assert "page=2" in link and ("user=boss" in link) == path.startswith("/audit")
        assert f"2 / {total}" in boss.get(link).text
        last = boss.get(link.replace("page=2", f"page={total}")).text
        assert 'rel="next"' not in last and len(Page(last).all(rows)) == 1


# ---- where an alert's link seeks -----------------------------------------------------------

def timeline_json(html):
    match = re.search(r'<script type="application/json" id="timeline-data">(.*?)</script>',
                      html, re.S)
    assert match
    return json.loads(match.group(1))


def test_an_alert_links_to_where_its_condition_started_not_when_it_was_decided(
        store, boss, synth_call):
    truth = synth_call("rules/interruption").truth
    agent_starts = [u["start"] for u in truth["utterances"] if u["channel"] == "agent"]
    html = boss.get(f"/sessions/{WANG_INTERRUPTION}").text
    alerts = [a for a in timeline_json(html)["alerts"] if a["rule"] == "interruption"]
    assert len(alerts) == 2
    items = [i for i in Page(html).all("alert-item") if i["data-rule"] == "interruption"]
    for alert, item, start in zip(alerts, items, agent_starts[1:], strict=True):
        # The interruption is decided 0.5 s into the agent's speech; its link goes to the start.
        assert alert["seek"] == pytest.approx(start, abs=0.1)
        assert alert["t"] - alert["seek"] == pytest.approx(0.5, abs=0.1)
        assert float(item["data-seek"]) == alert["seek"]


def test_an_older_store_without_the_coaching_tables_gains_them_on_open(store, tmp_path):
    old = tmp_path / "old.sqlite3"  # a new location: this process has not prepared it yet
    with sqlite3.connect(store) as source, sqlite3.connect(old) as copy:
        source.backup(copy)
        for table in ("notes", "reviews", "audit"):
            copy.execute(f"DROP TABLE {table}")
    source.close()
    copy.close()
    client = signed_in(make_app(old), "boss")
    assert client.get(f"/sessions/{WANG_HOLD}").status_code == 200
    assert audit(old) == [("boss", "view", WANG_HOLD, "")]


@pytest.mark.slow
def test_a_taboo_links_to_where_it_was_said_and_is_highlighted(tmp_path, whisper_zh):
    """A taboo (你弄错了) said at the start of the agent's line, as the synthesised truth
    places it: the alert's link goes there (Whisper's word times, within 0.35 s), not to the
    end of its words when the rule decided, and its words are marked in the line."""
    with open(synth.SCENARIOS_DIR / "rules" / "forbidden_a.toml", "rb") as f:
        scenario = tomllib.load(f)  # its first exchange only: the customer, then the taboo
    call = synth.synthesize({**scenario, "name": "coaching_taboo",
                             "events": scenario["events"][:2], "expect": []}, tmp_path)
    db = tmp_path / "calls.sqlite3"
    result = CliRunner().invoke(main, ["replay", str(call.wav), "--asr", "whisper", "--db",
                                       str(db), "--agent-name", "wang"])
    assert result.exit_code == 0, result.output
    add_user(db, "boss", "supervisor", PASSWORDS["boss"])
    html = signed_in(make_app(db), "boss").get("/sessions/1").text
    [alert] = [a for a in timeline_json(html)["alerts"] if a["rule"] == "forbidden_phrase"]
    [said] = [u for u in call.truth["utterances"] if u["channel"] == "agent"]
    [evidence] = [r["evidence"] for r in map(json.loads, (b for (b,) in query(
        db, "SELECT body FROM records WHERE type = 'alert'"))) if r["rule"] == "forbidden_phrase"]
    assert alert["seek"] == evidence["word_start"]
    assert alert["seek"] == pytest.approx(said["start"], abs=0.35)
    assert alert["t"] - alert["seek"] > 0.5  # decided at the end of the words
    assert Page(html).texts("phrase-mark") == [evidence["heard"]] == ["你弄错了"]
    [item] = [i for i in Page(html).all("alert-item") if i["data-rule"] == "forbidden_phrase"]
    assert float(item["data-seek"]) == alert["seek"]


@pytest.mark.parametrize("text, words, marked", [
    ("你弄错了我们，我们不会乱扣钱的", "你弄错了", ["你弄错了"]),
    ("嗯，那个我帮您查一下，就是说", "嗯那个就是说", ["嗯", "那个", "就是说"]),  # fillers
    ("这不关我的事", "这是规定", []),  # not all there: no stray 这
    ("您好", "再见", []),
])
def test_the_words_of_an_alert_are_found_in_its_line(text, words, marked):
    assert [text[a:b] for a, b in find_words(text, words)] == marked
