"""The review web app in-process (Flask's test client) over a real SQLite store filled by real
replays of synthesised calls (``--asr none``: timing rules only, so the sessions carry real
alerts). Truth for filters, sorting and paging is computed from the database directly."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sqlite3
import wave
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import load_config
from monitor.storage.sessions import default_audio_dir, get_session
from monitor.storage.users import add_user
from monitor.web import listing
from monitor.web.app import create_app
from monitor.web.auth import COOKIE, SignInThrottle, safe_next
from monitor.web.labels import clock
from testkit.kept import decoded_s
from testkit.review_app import client_signed_in, review_app

PASSWORDS = {"boss": "boss-password", "wang": "wang-password", "li": "li-password"}
# (scenario, agent, profile, started_at): the replays of the store, oldest first.
CALLS = [
    ("dead_air", "wang", "zh-CN", "2025-03-01T09:00:00+00:00"),
    ("rules/interruption", "li", "zh-CN", "2025-03-01T23:59:59+00:00"),
    ("rules/ring_late_no_apology", "wang", "zh-CN", "2025-03-02T08:30:00+00:00"),
    ("rules/backchannel_missing", "li", "zh-CN", "2025-03-03T10:00:00+00:00"),
    ("en_basic", "smith", "en-US", "2025-03-04T11:00:00+00:00"),
    ("rules/hold_too_long", "张伟", "zh-CN", "2025-03-05T12:00:00+00:00"),
]


# ---- the store ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def store(tmp_path_factory, synth_call):
    """A database of real replays (the first keeps its audio), three users."""
    folder = tmp_path_factory.mktemp("review")
    db = folder / "calls.sqlite3"
    runner = CliRunner()
    for n, (scenario, agent, profile, _) in enumerate(CALLS):
        result = runner.invoke(main, ["replay", str(synth_call(scenario).wav), "--asr", "none",
                                      "--db", str(db), "--agent-name", agent,
                                      "--profile", profile, *(["--keep-audio"] if n == 0 else [])])
        assert result.exit_code == 0, result.output
    audio_dir = default_audio_dir(db)
    with sqlite3.connect(db) as conn:
        for session_id, (*_, started_at) in enumerate(CALLS, start=1):
            conn.execute("UPDATE sessions SET started_at = ? WHERE id = ?",
                         (started_at, session_id))
        kept = conn.execute("SELECT id, audio FROM sessions WHERE audio IS NOT NULL").fetchall()
    assert kept == [(1, "session-1.opus")] and (audio_dir / "session-1.opus").is_file()
    add_user(db, "boss", "supervisor", PASSWORDS["boss"])
    add_user(db, "wang", "agent", PASSWORDS["wang"])
    add_user(db, "li", "agent", PASSWORDS["li"])
    return db, audio_dir


def write_wav(path: Path, seconds: float, rate: int = 8000) -> None:
    frames = bytearray()
    for i in range(int(seconds * rate)):
        value = int(8000 * math.sin(2 * math.pi * 440 * i / rate))
        frames += value.to_bytes(2, "little", signed=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))


def truth_rows(db):
    """Every session as the database holds it, with its alert counts read from the summary."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, started_at, agent, duration_s, score, summary"
                            " FROM sessions").fetchall()
    return [{"id": r[0], "started_at": r[1], "agent": r[2], "duration_s": r[3], "score": r[4],
             "alerts": json.loads(r[5])["alerts_by_rule"]} for r in rows]


def make_app(store, **web):
    return review_app(*store, **web)


@pytest.fixture(scope="module")
def app(store):
    return make_app(store, page_size=100)


def client_for(app, name=None):
    return client_signed_in(app, name, PASSWORDS[name]) if name else app.test_client()


@pytest.fixture(scope="module")
def boss(app):
    return client_for(app, "boss")


@pytest.fixture(scope="module")
def wang(app):
    return client_for(app, "wang")


class Hooks(HTMLParser):
    """The elements of a page that carry ``data-testid``, with their attributes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[dict[str, str]] = []
        self.attributes: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        values = {k: v or "" for k, v in attrs}
        self.attributes += list(values)
        if tag == "script":
            self.scripts.append(values)
        if "data-testid" in values:
            self.found.append((values["data-testid"], values))

    def all(self, testid):
        return [attrs for name, attrs in self.found if name == testid]


def row_ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [int(a["data-id"]) for a in Hooks(response.text).all("session-row")]


def timeline_json(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="timeline-data">(.*?)</script>',
                      html, re.S)
    assert match
    return json.loads(match.group(1))


# ---- sign-in ------------------------------------------------------------------------------

SECRET_WORDS = ("wang", "smith", "dead_air", "interruption", "张伟")


@pytest.mark.parametrize("path", ["/", "/sessions/1", "/sessions/999", "/?agent=wang",
                                  "/nowhere"])
def test_a_page_without_sign_in_redirects_to_the_sign_in_page_and_shows_nothing(app, path):
    response = client_for(app).get(path)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login")
    secrets = [word for word in SECRET_WORDS if word not in path]  # the path comes back
    assert not any(word in response.text for word in secrets)
    page = client_for(app).get(response.headers["Location"])
    assert page.status_code == 200 and 'name="password"' in page.text
    assert not any(word in page.text for word in secrets)


@pytest.mark.parametrize("path", ["/sessions.csv", "/sessions/1.json", "/sessions/1/audio",
                                  "/sessions/999.json"])
def test_data_without_sign_in_is_401_with_no_data(app, path):
    response = client_for(app).get(path, headers={"Range": "bytes=0-99"})
    assert response.status_code == 401
    assert response.mimetype == "text/plain"
    assert len(response.data) < 40 and not any(w in response.text for w in SECRET_WORDS)


def test_a_forged_or_stale_cookie_is_no_sign_in(app):
    client = client_for(app)
    client.set_cookie(COOKIE, "not-a-token")
    assert client.get("/").status_code == 303
    assert client.get("/sessions/1.json").status_code == 401


def test_public_routes_answer_without_sign_in(app):
    client = client_for(app)
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/static/timeline.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200


def test_sign_in_returns_to_the_page_asked_for_but_never_to_another_site(app):
    client = client_for(app)
    response = client.get("/sessions/2?x=1")
    assert response.headers["Location"] == "/login?next=/sessions/2?x%3D1"
    form = {"name": "boss", "password": PASSWORDS["boss"], "next": "/sessions/2?x=1"}
    assert client.post("/login", data=form).headers["Location"] == "/sessions/2?x=1"
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "evil"):
        client = client_for(app)
        response = client.post("/login", data={**form, "next": target})
        assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target,expected", [
    ("/sessions/3", "/sessions/3"), ("/?agent=li&page=2", "/?agent=li&page=2"),
    ("//evil.example", "/"), ("/\\evil.example", "/"), ("http://evil.example/", "/"),
    ("javascript:alert(1)", "/"), ("/\r\nSet-Cookie: x", "/"), (None, "/"), ("", "/")])
def test_safe_next_keeps_only_local_paths(target, expected):
    assert safe_next(target) == expected


@pytest.mark.parametrize("name,password", [("boss", "wrong-password"), ("nobody", "whatever1"),
                                           ("boss", ""), ("", "boss-password")])
def test_a_wrong_name_or_password_is_an_error_and_no_cookie(app, name, password):
    client = client_for(app)
    response = client.post("/login", data={"name": name, "password": password})
    assert response.status_code == 401
    hooks = Hooks(response.text)
    assert hooks.all("sign-in-error")
    assert "Wrong name or password" in response.text
    assert "Set-Cookie" not in response.headers
    assert client.get_cookie(COOKIE) is None


def test_the_sign_in_cookie_is_http_only_strict_and_lasts_the_configured_hours(store):
    for secure in (False, True):
        app = make_app(store, sign_in_hours=2.0, secure_cookies=secure)
        response = app.test_client().post("/login", data={"name": "boss",
                                                          "password": PASSWORDS["boss"]})
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert "Max-Age=7200" in cookie
        assert ("Secure" in cookie) is secure


def test_failed_sign_ins_lock_the_account_and_are_logged(store, caplog):
    now = [1000.0]
    app = make_app(store, sign_in_account_failures=3, sign_in_address_failures=10,
                   sign_in_lockout_s=60.0)
    app.extensions["callmonitor_throttle"] = SignInThrottle(app.extensions["callmonitor"].cfg.web,
                                                            clock=lambda: now[0])
    client = app.test_client()
    with caplog.at_level("WARNING", logger="monitor.web"):
        for _ in range(3):
            assert client.post("/login", data={"name": "li", "password": "guess-123"}
                               ).status_code == 401
        # The right password is not even checked while the name is throttled.
        response = client.post("/login", data={"name": "li", "password": PASSWORDS["li"]})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) == 60
    assert Hooks(response.text).all("sign-in-error") and client.get_cookie(COOKIE) is None
    assert sum("failed sign-in" in r.message and "'li'" in r.message
               for r in caplog.records) == 3
    assert sum("locked" in r.message for r in caplog.records) == 1  # once, not per try
    # Other names from the same address are not held up by li's failures ...
    assert client.post("/login", data={"name": "wang", "password": PASSWORDS["wang"]}
                       ).status_code == 303
    # ... and li may try again once the window has passed.
    now[0] += 61
    assert client.post("/login", data={"name": "li", "password": PASSWORDS["li"]}
                       ).status_code == 303


def test_signing_out_ends_the_sign_in_for_good(app):
    client = client_for(app, "wang")
    token = client.get_cookie(COOKIE).value
    assert client.get("/").status_code == 200
    response = client.post("/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get_cookie(COOKIE) is None
    replayed = client_for(app)
    replayed.set_cookie(COOKIE, token)  # the old token, kept by someone
    assert replayed.get("/").status_code == 303
    assert replayed.get("/sessions/1.json").status_code == 401


def test_a_cross_site_post_is_refused(app):
    client = client_for(app, "wang")
    response = client.post("/logout", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert client.get("/").status_code == 200  # still signed in
    response = client_for(app).post("/login", headers={"Sec-Fetch-Site": "cross-site"},
                                    data={"name": "wang", "password": PASSWORDS["wang"]})
    assert response.status_code == 403


# ---- headers and escaping -----------------------------------------------------------------

def test_every_page_has_security_headers_and_no_inline_script_or_style(boss, app):
    pages = ["/", "/sessions/1", "/sessions/2", "/?rule=dead_air&sort=score"]
    for path in [*pages, "/sessions/1.json", "/login"]:
        response = boss.get(path) if path != "/login" else client_for(app).get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "default-src 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        if response.mimetype == "text/html":
            hooks = Hooks(response.text)
            for script in hooks.scripts:  # only files, or data that is never run
                assert script.get("src", "").startswith("/static/") or \
                    script.get("type") == "application/json"
            assert "style" not in hooks.attributes
            assert not [a for a in hooks.attributes if a.startswith("on")]


def test_names_and_texts_from_the_store_are_escaped(store, app):
    db, _ = store
    evil = '<img src=x onerror=alert(1)>"</script>'
    with sqlite3.connect(db) as conn:
        old = conn.execute("SELECT company FROM sessions WHERE id = 3").fetchone()[0]
        conn.execute("UPDATE sessions SET company = ? WHERE id = 3", (evil,))
        conn.execute("INSERT INTO records (session_id, seq, type, t, body) VALUES (3, 9999,"
                     " 'utterance', 1.0, ?)", (json.dumps({
                         "type": "utterance", "t": 1.0, "channel": "agent", "start": 1.0,
                         "end": 2.0, "text": evil, "words": []}),))
    try:
        html = client_for(app, "boss").get("/sessions/3").text
        assert evil not in html and "<img src=x" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown, as text
        assert timeline_json(html)["utterances"][0]["text"] == evil  # data intact
    finally:
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE sessions SET company = ? WHERE id = 3", (old,))
            conn.execute("DELETE FROM records WHERE session_id = 3 AND seq = 9999")


# ---- who sees what ------------------------------------------------------------------------

def test_a_supervisor_sees_every_session_and_an_agent_only_their_own(app, store, boss, wang):
    truth = truth_rows(store[0])
    assert sorted(row_ids(boss.get("/"))) == sorted(r["id"] for r in truth)
    own = sorted(r["id"] for r in truth if r["agent"] == "wang")
    assert own and sorted(row_ids(wang.get("/"))) == own
    # Asking for another agent's sessions changes nothing; the agent select is not offered.
    assert sorted(row_ids(wang.get("/?agent=li"))) == own
    page = wang.get("/?sort=score").text
    assert 'name="agent"' not in page and "agent=" not in page  # nor in any link
    assert "Reset" not in page  # his own name is no filter he chose
    assert 'name="agent"' in boss.get("/").text


def test_another_agents_session_is_not_found_like_a_missing_one(store, wang, boss):
    truth = truth_rows(store[0])
    others = [r["id"] for r in truth if r["agent"] != "wang"]
    missing = max(r["id"] for r in truth) + 100
    for session_id in others:
        for suffix in ("", ".json", "/audio"):
            theirs = wang.get(f"/sessions/{session_id}{suffix}")
            nothing = wang.get(f"/sessions/{missing}{suffix}")
            assert theirs.status_code == nothing.status_code == 404
            assert theirs.data == nothing.data
            assert theirs.headers.get("Content-Type") == nothing.headers.get("Content-Type")
        assert boss.get(f"/sessions/{session_id}").status_code == 200
    for session_id in (r["id"] for r in truth if r["agent"] == "wang"):
        assert wang.get(f"/sessions/{session_id}").status_code == 200
        assert wang.get(f"/sessions/{session_id}.json").status_code == 200


def test_an_agents_csv_holds_only_their_sessions(store, wang):
    truth = truth_rows(store[0])
    rows = read_csv(wang.get("/sessions.csv?agent=li"))[1]
    assert sorted(int(r["id"]) for r in rows) == sorted(
        r["id"] for r in truth if r["agent"] == "wang")


# ---- the list -----------------------------------------------------------------------------

def in_range(day: str, since: str | None, until: str | None) -> bool:
    d = date.fromisoformat(day[:10])
    return (since is None or d >= date.fromisoformat(since)) and (
        until is None or d <= date.fromisoformat(until))


FILTERS = [
    {"agent": "wang"},
    {"agent": "张伟"},
    {"rule": "dead_air"},
    {"rule": "interruption"},
    {"min_score": "95"},
    {"max_score": "90.5"},
    {"min_score": "91", "max_score": "99"},
    {"since": "2025-03-02"},
    {"until": "2025-03-01"},
    {"since": "2025-03-02", "until": "2025-03-03"},
    {"since": "2025-03-01", "until": "2025-03-01", "rule": "interruption"},
    {"agent": "li", "rule": "dead_air"},
]


@pytest.mark.parametrize("args", FILTERS, ids=lambda a: "&".join(f"{k}={v}" for k, v in a.items()))
def test_filters_find_exactly_the_sessions_the_database_says(store, boss, args):
    truth = truth_rows(store[0])
    want = [r["id"] for r in truth
            if r["agent"] == args.get("agent", r["agent"])
            and (("rule" not in args) or r["alerts"].get(args["rule"], 0) > 0)
            and r["score"] >= float(args.get("min_score", 0))
            and r["score"] <= float(args.get("max_score", 100))
            and in_range(r["started_at"], args.get("since"), args.get("until"))]
    response = boss.get("/", query_string=args)
    assert sorted(row_ids(response)) == sorted(want)
    if want:
        assert len(Hooks(response.text).all("total")) == 1
        assert f'data-testid="total">{len(want)}<' in response.text
    else:
        assert Hooks(response.text).all("empty")
    csv_ids = sorted(int(r["id"]) for r in read_csv(boss.get("/sessions.csv",
                                                             query_string=args))[1])
    assert csv_ids == sorted(want)


def test_the_filter_choices_come_from_the_store(store, boss):
    html = boss.get("/").text
    truth = truth_rows(store[0])
    for agent in {r["agent"] for r in truth}:
        assert f'<option value="{agent}"' in html
    for rule in {rule for r in truth for rule in r["alerts"]}:
        assert f'<option value="{rule}"' in html


def test_bad_filter_values_are_named_and_ignored(store, boss):
    response = boss.get("/?since=yesterday&min_score=abc&sort=password&page=x")
    assert response.status_code == 200
    for word in ("since", "min_score", "sort", "page"):
        assert f"Ignored {word}" in response.text
    assert len(row_ids(response)) == len(truth_rows(store[0]))
    assert boss.get("/sessions.csv?since=yesterday").status_code == 400


@pytest.mark.parametrize("sort", ["started_at", "agent", "duration_s", "score"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sorting_orders_rows_like_the_database(store, boss, sort, order):
    truth = truth_rows(store[0])
    want = [r["id"] for r in sorted(truth, key=lambda r: (r[sort], r["id"]),
                                    reverse=order == "desc")]
    assert row_ids(boss.get(f"/?sort={sort}&order={order}")) == want


def test_a_column_header_sorts_by_it_and_a_second_click_turns_the_order(boss):
    hooks = Hooks(boss.get("/?agent=wang").text)
    link = next(a["href"] for name, a in hooks.found if name == "sort-score")
    assert "sort=score" in link and "agent=wang" in link
    hooks = Hooks(boss.get(link).text)
    again = next(a["href"] for name, a in hooks.found if name == "sort-score")
    assert "order=desc" in again and "agent=wang" in again


def test_paging_reads_one_page_at_a_time_and_covers_every_session(store):
    app = make_app(store, page_size=2)
    client = client_for(app, "boss")
    truth = truth_rows(store[0])
    want = [r["id"] for r in sorted(truth, key=lambda r: (r["score"], r["id"]))]
    pages = math.ceil(len(truth) / 2)
    seen = []
    for page in range(1, pages + 1):
        response = client.get(f"/?sort=score&order=asc&page={page}")
        ids = row_ids(response)
        assert len(ids) == min(2, len(truth) - len(seen))
        seen += ids
        assert f'data-testid="total">{len(truth)}<' in response.text
    assert seen == want
    # A link past the end shows the last page; the pager links every page of a short list.
    assert row_ids(client.get("/?sort=score&order=asc&page=99")) == want[(pages - 1) * 2:]
    links = Hooks(client.get("/?sort=score&order=asc").text).all("page-link")
    assert [a["href"] for a in links][-1].endswith(f"page={pages}")
    assert all("sort=score" in a["href"] for a in links)


def test_page_links_skip_the_middle_of_a_long_list():
    assert listing.page_links(1, 3) == [1, 2, 3]
    assert listing.page_links(50, 100) == [1, None, 48, 49, 50, 51, 52, None, 100]
    assert listing.page_links(1, 100) == [1, 2, 3, None, 100]


def test_an_empty_store_tells_how_to_make_a_session(tmp_path):
    db = tmp_path / "empty.sqlite3"
    add_user(db, "boss", "supervisor", PASSWORDS["boss"])
    app = create_app(db, tmp_path / "audio", load_config("zh-CN"))
    response = client_for(app, "boss").get("/")
    assert Hooks(response.text).all("empty") and "callmonitor replay" in response.text


# ---- exports ------------------------------------------------------------------------------

def read_csv(response):
    assert response.status_code == 200, response.text
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    reader = csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"), newline=""))
    return reader.fieldnames, list(reader)


def test_the_csv_holds_every_matching_session_with_its_alert_counts(store, boss, monkeypatch):
    monkeypatch.setattr(listing, "EXPORT_CHUNK", 2)  # several chunks for a handful of rows
    truth = {r["id"]: r for r in truth_rows(store[0])}
    rules = sorted({rule for r in truth.values() for rule in r["alerts"]})
    columns, rows = read_csv(boss.get("/sessions.csv"))
    assert columns == [*listing.CSV_COLUMNS, *rules]
    assert [int(r["id"]) for r in rows] == sorted(truth)  # oldest first, each once
    for row in rows:
        want = truth[int(row["id"])]
        assert row["agent"] == want["agent"] and row["started_at"] == want["started_at"]
        assert float(row["score"]) == pytest.approx(want["score"], abs=0.05)
        assert float(row["duration_s"]) == pytest.approx(want["duration_s"], abs=0.005)
        assert int(row["alerts"]) == sum(want["alerts"].values())
        for rule in rules:
            assert int(row[rule]) == want["alerts"].get(rule, 0)
    assert "张伟" in {r["agent"] for r in rows}


def test_a_rule_not_checked_is_an_empty_csv_cell_not_zero_alerts(store):
    """The replays ran without recognition: the greeting was not checked on any, so its cell
    is empty, while dead air (checked) counts its alerts."""
    info = get_session(store[0], 1)  # dead_air, --asr none
    assert "greeting.incomplete" in {s["rule"] for s in info.summary["rules_skipped"]}
    row = listing.csv_row(info, ["dead_air", "greeting.incomplete"])
    assert row[-2:] == [info.alerts_by_rule["dead_air"], None]
    assert row[-2] >= 1


def test_csv_cells_are_never_formulas(store, boss):
    db, _ = store
    with sqlite3.connect(db) as conn:
        old = conn.execute("SELECT company FROM sessions WHERE id = 4").fetchone()[0]
        conn.execute("UPDATE sessions SET company = '=HYPERLINK(\"http://x\")' WHERE id = 4")
    try:
        rows = read_csv(boss.get("/sessions.csv"))[1]
        company = next(r["company"] for r in rows if r["id"] == "4")
        assert company == "'=HYPERLINK(\"http://x\")"
    finally:
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE sessions SET company = ? WHERE id = 4", (old,))


def test_the_json_export_is_the_session_and_its_stored_records(store, boss):
    db, _ = store
    response = boss.get("/sessions/2.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="session-2.json"'
    body = response.get_json()
    with sqlite3.connect(db) as conn:
        stored = [json.loads(b) for (b,) in conn.execute(
            "SELECT body FROM records WHERE session_id = 2 ORDER BY seq")]
        row = conn.execute("SELECT agent, score, summary FROM sessions WHERE id = 2").fetchone()
    assert body["records"] == stored
    assert body["session"]["id"] == 2 and body["session"]["agent"] == row[0]
    assert body["session"]["score"] == row[1]
    assert body["session"]["summary"] == json.loads(row[2])
    assert sum(r["type"] == "alert" for r in stored) == 2  # the two interruptions


# ---- the session page and its audio -------------------------------------------------------

def test_the_session_page_has_its_timeline_transcript_alerts_and_scorecard(store, boss):
    db, _ = store
    response = boss.get("/sessions/2")
    hooks = Hooks(response.text)
    with sqlite3.connect(db) as conn:
        records = [json.loads(b) for (b,) in conn.execute(
            "SELECT body FROM records WHERE session_id = 2 ORDER BY seq")]
    summary = records[-1]
    timeline = hooks.all("timeline")[0]
    assert float(timeline["data-duration"]) == pytest.approx(summary["duration_s"])
    data = timeline_json(response.text)
    alerts = [r for r in records if r["type"] == "alert"]
    assert [(a["rule"], a["t"]) for a in data["alerts"]] == [(a["rule"], a["t"]) for a in alerts]
    items = hooks.all("alert-item")
    assert [(a["data-rule"], float(a["data-t"])) for a in items] == [
        (a["rule"], a["t"]) for a in alerts]
    speech = [r for r in records if r["type"] == "speech"]
    lines = hooks.all("transcript-line")  # no recognition: one line per speech segment
    assert len(lines) == len(speech)
    assert {a["data-channel"] for a in lines} == {"agent", "customer"}
    assert [float(a["data-t"]) for a in lines] == sorted(r["start"] for r in speech)
    assert data["interruptions"] == [{"t": i["t"], "overlap_s": i["overlap_s"]}
                                     for i in summary["interruptions"]]
    assert data["overlaps"]  # the agent talked over the customer
    checks = hooks.all("check")
    assert {c["data-rule"] for c in checks} == {c["rule"] for c in summary["checks"]}
    assert {c["data-rule"] for c in checks if c["data-passed"] == "false"} == {"interruption"}
    assert hooks.all("scorecard") and hooks.all("no-audio") and not hooks.all("audio")
    rules = load_config("zh-CN").rules
    assert data["rate_band"]["fast_above"] == rules.rate_too_fast.too_fast_above
    assert data["rate_band"]["slow_below"] == rules.rate_too_slow.too_slow_below


def test_the_way_back_keeps_the_lists_filters_and_page(boss):
    came_from = "http://localhost/?rule=dead_air&sort=score&page=2"
    page = Hooks(boss.get("/sessions/1", headers={"Referer": came_from}).text)
    assert page.all("back")[0]["href"] == "/?rule=dead_air&sort=score&page=2"
    elsewhere = Hooks(boss.get("/sessions/1", headers={"Referer": "https://evil.example/?a=1"}
                               ).text)
    assert elsewhere.all("back")[0]["href"] == "/"


def test_a_session_with_kept_audio_plays_it_with_ranges(store, boss, wang):
    audio_dir = store[1]
    wav = (audio_dir / "session-1.opus").read_bytes()  # the whole call, as replayed
    seconds = decoded_s(audio_dir / "session-1.opus")
    assert seconds == pytest.approx(truth_rows(store[0])[0]["duration_s"], abs=0.1)
    page = Hooks(boss.get("/sessions/1").text)
    assert re.fullmatch(r"/sessions/1/audio\?v=\d+", page.all("audio")[0]["src"])  # the view
    whole = wang.get("/sessions/1/audio")
    assert whole.status_code == 200 and whole.data == wav
    assert whole.mimetype == "audio/ogg" and whole.headers["Accept-Ranges"] == "bytes"
    part = wang.get("/sessions/1/audio", headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-1099/{len(wav)}"
    assert part.data == wav[100:1100]
    tail = wang.get("/sessions/1/audio", headers={"Range": "bytes=-44"})
    assert tail.status_code == 206 and tail.data == wav[-44:]
    assert wang.get("/sessions/1/audio", headers={"Range": f"bytes={len(wav) + 10}-"}
                    ).status_code == 416
    assert boss.get("/sessions/2/audio").status_code == 404  # nothing kept
    assert client_for(boss.application, "li").get("/sessions/1/audio").status_code == 404


def test_kept_audio_deleted_from_disk_is_reported_missing(store, boss):
    """The list marks it missing instead of kept, the page says the file is missing (not that
    none was kept), and the audio route answers 404 saying so."""
    audio_dir = store[1]
    kept = audio_dir / "session-1.opus"
    aside = audio_dir.parent / "moved-away.opus"
    listed = Hooks(boss.get("/").text)
    assert [a["title"] for a in listed.all("audio-kept")] == ["Audio kept"]
    assert not listed.all("audio-missing")
    kept.rename(aside)
    try:
        listed = Hooks(boss.get("/").text)
        assert not listed.all("audio-kept") and len(listed.all("audio-missing")) == 1
        page = boss.get("/sessions/1").text
        hooks = Hooks(page)
        assert hooks.all("audio-missing") and not hooks.all("audio") and not hooks.all("no-audio")
        assert "recording file of this session is missing" in page
        answer = boss.get("/sessions/1/audio")
        assert answer.status_code == 404 and answer.mimetype == "text/plain"
        assert "recording file of this session is missing" in answer.text
        assert Hooks(boss.get("/sessions/2").text).all("no-audio")  # none kept: as before
    finally:
        aside.rename(kept)
    assert boss.get("/sessions/1/audio").status_code == 200


def test_kept_audio_outside_the_audio_folder_is_not_served(store, boss):
    db, audio_dir = store
    outside = audio_dir.parent / "secret.wav"
    write_wav(outside, seconds=0.1)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE sessions SET audio = '../secret.wav' WHERE id = 3")
    try:
        assert boss.get("/sessions/3/audio").status_code == 404
    finally:
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE sessions SET audio = NULL WHERE id = 3")


@pytest.mark.parametrize("heartbeat_age_s, status", [(1, "running"), (600, "lost")])
def test_a_session_cut_off_before_its_summary_still_shows_its_timeline(tmp_path, heartbeat_age_s,
                                                                       status):
    """Running while its writer's heartbeat is fresh; lost once the heartbeat is older than the
    limit the writer stored (30 s), with the last heartbeat as its cut-off."""
    db = tmp_path / "running.sqlite3"
    beat = (datetime.now(UTC) - timedelta(seconds=heartbeat_age_s)).isoformat(timespec="seconds")
    add_user(db, "boss", "supervisor", PASSWORDS["boss"])
    records = [
        {"type": "speech", "t": 0.5, "channel": "agent", "start": 0.5, "end": 3.0},
        {"type": "hold_start", "t": 4.0, "announced": True, "transfer": False},
        {"type": "alert", "t": 9.0, "rule": "hold.too_long", "severity": "warn",
         "message": "等待将超时", "say": "请回到通话"},
        {"type": "speech", "t": 11.0, "channel": "customer", "start": 11.0, "end": 12.5},
    ]
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO sessions (id, started_at, mode, source, profile, agent,"
                     " status, heartbeat_at, heartbeat_t, lost_after_s) VALUES (1,"
                     " '2025-04-01T10:00:00+00:00', 'live', 'pulse:mic', 'zh-CN', 'wang',"
                     " 'running', ?, 12.5, 30)", (beat,))
        conn.executemany("INSERT INTO records (session_id, seq, type, t, body)"
                         " VALUES (1, ?, ?, ?, ?)",
                         [(i, r["type"], r["t"], json.dumps(r)) for i, r in enumerate(records)])
    client = client_for(create_app(db, tmp_path / "audio", load_config("zh-CN")), "boss")
    response = client.get("/sessions/1")
    assert response.status_code == 200
    if status == "running":
        assert "still being monitored" in response.text
    else:
        assert Hooks(response.text).all("lost")
        assert f"last heartbeat {beat}, {clock(12.5)} into the call" in response.text
    data = timeline_json(response.text)
    assert data["duration"] == 12.5
    assert data["holds"] == [{"start": 4.0, "end": 12.5, "announced": True, "thanked": None,
                              "transfer": False}]
    assert [a["rule"] for a in data["alerts"]] == ["hold.too_long"]
    assert not Hooks(response.text).all("check")
    row = read_csv(client.get("/sessions.csv"))[1][0]
    assert row["status"] == status and row["score"] == "" and row["alerts"] == ""
    assert row_ids(client.get("/?sort=score")) == [1]


def test_the_app_reads_a_postgresql_store_the_same_way(postgres_server, synth_call, tmp_path):
    """A service floor's shared store: real replays into PostgreSQL, then every kind of route."""
    url = postgres_server.create_database("web_review")
    env = {"XDG_DATA_HOME": str(tmp_path)}  # where kept audio of a server store goes
    calls = [("dead_air", "wang", "2025-03-01T09:00:00+00:00"),
             ("rules/interruption", "li", "2025-03-02T09:00:00+00:00"),
             ("rules/ring_late_no_apology", "wang", "2025-03-03T09:00:00+00:00")]
    runner = CliRunner()
    for n, (scenario, agent, _) in enumerate(calls):
        result = runner.invoke(main, ["replay", str(synth_call(scenario).wav), "--asr", "none",
                                      "--db", url,
                                      "--agent-name", agent,
                                      *(["--keep-audio"] if n == 0 else [])], env=env)
        assert result.exit_code == 0, result.output
    with psycopg.connect(url, autocommit=True) as conn:
        for session_id, (*_, started_at) in enumerate(calls, start=1):
            conn.execute("UPDATE sessions SET started_at = %s WHERE id = %s",
                         (started_at, session_id))
        stored = [json.loads(b) for (b,) in conn.execute(
            "SELECT body FROM records WHERE session_id = 2 ORDER BY seq")]
    for name in ("boss", "wang"):
        add_user(url, name, "supervisor" if name == "boss" else "agent", PASSWORDS[name])
    app = create_app(url, tmp_path / "callmonitor" / "audio", load_config("zh-CN"))
    boss, wang = client_for(app, "boss"), client_for(app, "wang")
    assert row_ids(boss.get("/")) == [3, 2, 1]
    assert row_ids(wang.get("/")) == [3, 1]
    assert row_ids(boss.get("/?rule=interruption")) == [2]
    assert row_ids(boss.get("/?since=2025-03-02&sort=duration_s")) == [3, 2]  # 35.4 s, 33.9 s
    assert [r["id"] for r in read_csv(wang.get("/sessions.csv"))[1]] == ["1", "3"]
    assert boss.get("/sessions/2.json").get_json()["records"] == stored
    assert Hooks(boss.get("/sessions/2").text).all("alert-item")
    assert wang.get("/sessions/2").status_code == wang.get("/sessions/2.json").status_code == 404
    part = wang.get("/sessions/1/audio", headers={"Range": "bytes=0-43"})
    assert part.status_code == 206 and part.data[:4] == b"OggS"  # Opus in Ogg
