"""The review app attacked the way issue #15's security review did: sign-in floods and races,
query parameters no form sends, Host and Origin headers of other sites, agents probing for
what other agents' calls hold, and files on disk others could read.

The store is a real SQLite database written through the store's own calls (session rows, then
``finish_session`` with each call's alert counts), so the truth of who may see what is the
table below; the app runs in-process (Flask's test client, several at once for the race)."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import stat
import threading
import wave

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import load_config
from monitor.errors import CallmonitorError
from monitor.storage.database import open_database
from monitor.storage.sessions import SessionHeader, default_audio_dir
from monitor.storage.spool import Spool, finish_session
from monitor.storage.users import MAX_NAME_CHARS, add_user, list_users
from monitor.web.auth import COOKIE, THROTTLE
from testkit.review_app import client_signed_in, review_app

PASSWORD = "a-good-password"
# (agent, started_at, alerts by rule): the store's calls, ids 1.. in this order.
CALLS = [
    ("wang", "2025-03-01T09:00:00+00:00", {"dead_air": 2}),
    ("li", "2025-03-02T09:00:00+00:00", {"interruption": 1, "rate.too_fast": 3}),
    ("", "2025-03-03T09:00:00+00:00", {"hold.too_long": 1}),  # recorded without a name
    ("wang", "2025-03-04T09:00:00+00:00", {}),
]
USERS = {"boss": ("supervisor", "boss"), "wang": ("agent", "wang"), "li": ("agent", "li")}


def _insert_call(db, agent: str, started_at: str, alerts: dict[str, int]) -> int:
    with db.transaction():
        row = db.one("INSERT INTO sessions (started_at, mode, source, profile, agent, status)"
                     " VALUES (?, 'replay', 'call.wav', 'zh-CN', ?, 'running') RETURNING id",
                     (started_at, agent))
        assert row is not None
        finish_session(db, row[0], "ended", {"duration_s": 30.0, "score": 90.0,
                                             "alerts_by_rule": alerts, "checks": []})
    return int(row[0])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The calls above, kept audio for call 1, the three users and a user of an older store
    whose agent name is empty (``users add`` no longer makes one)."""
    path = tmp_path_factory.mktemp("sec") / "calls.sqlite3"
    for name, (role, agent) in USERS.items():
        add_user(path, name, role, PASSWORD, agent=agent)
    with open_database(path) as db:
        for call in CALLS:
            _insert_call(db, *call)
        db.execute("INSERT INTO users (name, role, agent, password_hash, created_at)"
                   " SELECT 'ghost', 'agent', '', password_hash, created_at FROM users"
                   " WHERE name = 'wang'")
        db.execute("UPDATE sessions SET audio = 'session-1.wav' WHERE id = 1")
        # What the nameless call holds for a search and a notes page to find.
        db.execute("INSERT INTO transcript_lines (session_id, seq, start_t, channel, text)"
                   " VALUES (3, 1, 1.0, 'agent', '您好请稍等')")
        db.execute("INSERT INTO notes (session_id, t, author, body, created_at)"
                   " VALUES (3, 1.0, 'boss', '保持前先说明', '2025-03-03T10:00:00+00:00')")
    audio_dir = default_audio_dir(path)
    audio_dir.mkdir()
    with wave.open(str(audio_dir / "session-1.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * 800)
    return path, audio_dir


def make_app(store, clock=None, host=None, **web):
    return review_app(*store, clock=clock, host=host, **web)


@pytest.fixture(scope="module")
def app(store):
    return make_app(store)


def signed_in(app, name):
    return client_signed_in(app, name, PASSWORD)


@pytest.fixture(scope="module")
def user(app):
    """A client of the module's app signed in as a user, one per name (a sign-in hashes)."""
    clients = {}

    def client(name):
        if name not in clients:
            clients[name] = signed_in(app, name)
        return clients[name]
    return client


def post_login(client, name, password, address="10.0.0.1", **headers):
    return client.post("/login", data={"name": name, "password": password},
                       environ_base={"REMOTE_ADDR": address}, headers=headers)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---- the sign-in throttle -----------------------------------------------------------------

def test_a_flood_of_long_names_from_many_addresses_leaves_the_throttle_bounded(store, caplog):
    """3000 failed sign-ins, each with a new 10 kB name from a new address: the throttle holds
    at most its configured entries, each name cut to the longest a user name may be, and the
    log grows by one short line per try; an address held up adds nothing more."""
    entries = 200
    app = make_app(store, sign_in_throttle_entries=entries)
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="monitor.web"):
        for n in range(3000):
            name = f"{n:05d}" + "x" * 10_000
            response = post_login(client, name, "wrong-password",
                                  address=f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
            assert response.status_code == 401
            assert name not in response.text  # the form does not send the flood back either
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3000 and max(map(len, lines)) <= 200
    throttle = app.extensions[THROTTLE]
    held = throttle.held()
    assert held.entries <= 2 * entries
    assert held.chars <= 2 * entries * (MAX_NAME_CHARS + 40)
    # Once an address is held up, its tries are refused unchecked and remembered nowhere.
    for n in range(25):
        post_login(client, f"again{n:03d}" + "y" * 10_000, "x", address="192.0.2.1")
    assert post_login(client, "boss", PASSWORD, address="192.0.2.1").status_code == 429
    assert throttle.held().entries == held.entries  # the address replaced the oldest one
    held_up = [r.getMessage() for r in caplog.records][len(lines):]
    assert len(held_up) == 21 and "held" in held_up[-1]  # 20 failures, then one line


def test_16_parallel_wrong_passwords_get_at_most_the_limits_tries(store):
    app = make_app(store, sign_in_account_failures=5, sign_in_address_failures=20)
    start = threading.Barrier(16)
    codes: list[int] = []

    def guess(n: int) -> None:
        client = app.test_client()
        start.wait()
        codes.append(post_login(client, "li", f"guess-{n:04d}").status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(codes)) == [401, 429]
    assert codes.count(401) == 5  # passwords checked: exactly the account's limit


def test_a_locked_account_waits_longer_after_each_failure_and_locks_no_other(store, caplog):
    clock = Clock()
    app = make_app(store, clock=clock, sign_in_account_failures=3, sign_in_lockout_s=60.0,
                   sign_in_lockout_max_s=200.0, sign_in_address_failures=100)
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="monitor.web"):
        for n in range(3):
            assert post_login(client, "li", f"guess-{n}").status_code == 401
        for _ in range(5):  # throttled tries: refused unchecked, counted nowhere, logged once
            refused = post_login(client, "li", PASSWORD, address="10.9.9.9")
            assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    locks = [r.getMessage() for r in caplog.records if "locked" in r.getMessage()]
    assert len(locks) == 1 and "'li'" in locks[0]
    assert not [r for r in caplog.records if "throttled" in r.getMessage()]
    assert post_login(client, "wang", PASSWORD).status_code == 303  # same address, other user
    # Each failure after the lock ends locks the account twice as long, up to the maximum.
    for wait in (120, 200, 200):
        clock.now += int(refused.headers["Retry-After"]) + 1
        assert post_login(client, "li", "guess-again").status_code == 401
        refused = post_login(client, "li", PASSWORD)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == str(wait)
    clock.now += 201
    assert post_login(client, "li", PASSWORD).status_code == 303
    assert post_login(client, "li", "guess-new").status_code == 401  # the count starts again


def test_one_address_no_longer_locks_out_everyone_behind_a_proxy(store):
    clock = Clock()
    web = {"sign_in_address_failures": 2, "sign_in_proxy_failures": 50,
           "sign_in_account_failures": 100}
    plain = make_app(store, clock=clock, **web).test_client()
    for n in range(2):  # a client trying many names is held up, whatever XFF it makes up
        assert post_login(plain, f"user{n}", "x", address="198.51.100.7",
                          **{"X-Forwarded-For": f"192.0.2.{n}"}).status_code == 401
    assert post_login(plain, "wang", PASSWORD, address="198.51.100.7",
                      **{"X-Forwarded-For": "192.0.2.99"}).status_code == 429
    for host in ("1", "2"):  # an IPv6 client counts by its /64, which one machine holds
        assert post_login(plain, f"v6-{host}", "x", address=f"2001:db8::{host}"
                          ).status_code == 401
    assert post_login(plain, "wang", PASSWORD, address="2001:db8::3").status_code == 429
    assert post_login(plain, "wang", PASSWORD, address="2001:db8:0:1::3").status_code == 303
    proxied = make_app(store, clock=clock, trusted_proxies=("10.0.0.0/24",), **web).test_client()
    for n in range(2):  # one guesser behind the proxy, named by the proxy
        assert post_login(proxied, f"user{n}", "x", address="10.0.0.2",
                          **{"X-Forwarded-For": f"6.6.6.{n}, 192.0.2.1"}).status_code == 401
    assert post_login(proxied, "user9", "x", address="::ffff:10.0.0.2",  # dual-stack spelling
                      **{"X-Forwarded-For": "192.0.2.1"}).status_code == 429
    assert post_login(proxied, "wang", PASSWORD, address="10.0.0.2",
                      **{"X-Forwarded-For": "192.0.2.2"}).status_code == 303
    for n in range(3):  # the proxy's own address (no client named) has the higher limit
        assert post_login(proxied, f"other{n}", "x", address="10.0.0.2").status_code == 401
    assert post_login(proxied, "li", PASSWORD, address="10.0.0.2").status_code == 303


@pytest.mark.parametrize("key, value", [("trusted_proxies", ["10.0.0.0/33"]),
                                        ("trusted_proxies", ["proxy.example"]),
                                        ("allowed_hosts", ["review.example:8750"]),
                                        ("allowed_hosts", ["*"])])
def test_proxies_and_hosts_are_checked_at_load(tmp_path, key, value):
    site = tmp_path / "site.toml"
    site.write_text(f"[web]\n{key} = {json.dumps(value)}\n", encoding="utf-8")
    with pytest.raises(CallmonitorError, match=f"{key}"):
        load_config("zh-CN", site=site)


# ---- parameters no form sends -------------------------------------------------------------

ODD_VALUES = ["9999-12-31", "0001-01-01", "1" * 23, "-" + "9" * 30, "1e400", "nan", "inf",
              "x" * 5000, "\x00", "%", "'; DROP TABLE sessions; --", "２０２５-03-01", "0"]


def test_no_query_parameter_makes_a_500(user):
    client = user("boss")
    for key in ("since", "until", "page", "min_score", "max_score", "sort", "order", "rule",
                "agent"):
        for value in ODD_VALUES:
            for path in ("/", "/sessions.csv"):
                response = client.get(path, query_string={key: value})
                assert response.status_code in (200, 400), (path, key, value)


def test_no_query_parameter_makes_a_postgresql_store_fail(postgres_server, tmp_path):
    """PostgreSQL refuses what SQLite takes (a NUL in text, an id past BIGINT): such values
    are the request's fault (400, 404), not "database unavailable" (503)."""
    url = postgres_server.create_database("web_security")
    add_user(url, "boss", "supervisor", PASSWORD)
    with open_database(url) as db:
        _insert_call(db, *CALLS[1])
    client = signed_in(make_app((url, tmp_path)), "boss")
    for key in ("agent", "rule", "sort", "order", "page", "since", "until", "min_score"):
        for path in ("/", "/sessions.csv"):
            response = client.get(path, query_string={key: "li\x00"})
            assert response.status_code in (200, 400), (path, key)
            assert "li\x00" not in response.text
    assert client.get("/sessions.csv?agent=li").data.count(b"\n") == 2  # the call is there
    assert post_login(make_app((url, tmp_path)).test_client(), "boss\x00", PASSWORD
                      ).status_code == 401
    assert client.get(f"/sessions/{2**63}.json").status_code == 404


def test_the_far_ends_of_the_calendar_filter_like_any_day(user):
    client = user("boss")
    everything = [str(n) for n in range(1, len(CALLS) + 1)]
    for query in ("until=9999-12-31", "since=0001-01-01", "since=2025-03-02&until=9999-12-31"):
        rows = read_csv(client.get(f"/sessions.csv?{query}"))[1]
        want = everything[1:] if "2025" in query else everything
        assert [r["id"] for r in rows] == want
        assert client.get(f"/?{query}").status_code == 200


def test_a_page_past_any_store_shows_the_last_page(user):
    client = user("boss")
    response = client.get("/?page=" + "1" * 23)
    assert response.status_code == 200
    assert response.text.count('data-testid="session-row"') == len(CALLS)


@pytest.mark.parametrize("suffix", ["", ".json", "/audio"])
def test_session_ids_past_the_databases_integers_are_not_found(user, suffix):
    client = user("boss")
    for session_id in (2**63, 2**64 + 1, int("9" * 40)):
        assert client.get(f"/sessions/{session_id}{suffix}").status_code == 404


# ---- what an agent may learn --------------------------------------------------------------

def read_csv(response):
    assert response.status_code == 200, response.text
    reader = csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"), newline=""))
    return reader.fieldnames, list(reader)


def rule_options(html: str) -> set[str]:
    select = html.split('name="rule"', 1)[1].split("</select>", 1)[0]
    return {part.split('"', 1)[0] for part in select.split('<option value="')[1:]} - {""}


def test_an_agent_sees_only_the_rules_that_fired_on_their_own_calls(user):
    for name in ("wang", "li", "boss"):
        client = user(name)
        fired = {rule for agent, _, alerts in CALLS for rule in alerts
                 if name == "boss" or agent == name}
        assert rule_options(client.get("/").text) == fired
        columns = read_csv(client.get("/sessions.csv"))[0]
        assert set(columns[columns.index("alerts") + 1:]) == fired


def test_an_agent_without_an_agent_name_sees_no_call(user):
    ghost = user("ghost")
    assert 'data-testid="session-row"' not in ghost.get("/").text
    assert read_csv(ghost.get("/sessions.csv"))[1] == []
    assert ghost.get("/sessions/3").status_code == 404  # the call recorded without a name
    assert rule_options(ghost.get("/").text) == set()
    boss = user("boss")
    hit = 'data-testid="hit" data-session="3"'
    for path, seen in (("/search?q=您好请", hit), ("/search?q=您好", hit),
                       ("/notes", "保持前先说明")):
        assert seen in boss.get(path).text
        assert seen not in ghost.get(path).text
    assert boss.get("/trends").status_code == 200
    assert ghost.get("/trends").status_code == 404


@pytest.mark.parametrize("agent_name, problem", [
    ("", "an agent needs an agent name"), (" ", "an agent needs an agent name"),
    ("wang", "the agent name 'wang' is taken by the agent wang")])
def test_users_add_refuses_an_empty_or_taken_agent_name(store, agent_name, problem):
    path, _ = store
    before = list_users(path)
    result = CliRunner().invoke(main, ["users", "add", "newcomer", "--role", "agent",
                                       "--agent-name", agent_name, "--password-stdin",
                                       "--db", str(path)], input=PASSWORD + "\n")
    assert result.exit_code != 0
    assert problem in result.output and "--agent-name" in result.output
    assert len(result.output.strip().splitlines()) <= 2
    assert list_users(path) == before


# ---- other sites --------------------------------------------------------------------------

def test_an_origin_of_null_is_cross_site(app, user):
    client = user("wang")
    assert client.post("/logout", headers={"Origin": "null"}).status_code == 403
    assert client.get("/").status_code == 200  # still signed in
    response = app.test_client().post("/login", data={"name": "wang", "password": PASSWORD},
                                      headers={"Origin": "null"})
    assert response.status_code == 403 and COOKIE not in response.headers.get("Set-Cookie", "")


def test_only_allowed_host_names_are_answered(store):
    app = make_app(store, host="192.0.2.10", allowed_hosts=("localhost", "review.example"))
    for host, code in (("localhost", 303), ("LOCALHOST:8750", 303), ("review.example", 303),
                       ("192.0.2.10:8750", 303), ("evil.example", 400),
                       ("review.example.evil.example", 400), ("127.0.0.1", 400)):
        client = app.test_client()
        assert client.get("/", headers={"Host": host}).status_code == code, host
        login = post_login(client, "wang", PASSWORD, Host=host)
        assert login.status_code == code, host
    assert app.test_client().get("/healthz", headers={"Host": "10.1.1.1"}).status_code == 200


# ---- files and caches ---------------------------------------------------------------------

def test_the_database_and_spool_files_are_private(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "calls.sqlite3"
        with open_database(path, create=True) as db:
            db.execute("INSERT INTO sessions (started_at, mode, source, profile, status)"
                       " VALUES ('2025-01-01', 'replay', 'x', 'zh-CN', 'running')")
            files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
        header = SessionHeader("2025-01-01", "replay", "x", "zh-CN", "wang", "", None)
        spool = Spool.create(str(path), 1, header, "database away")
        assert spool.path is not None
        modes[spool.path.name] = stat.S_IMODE(spool.path.stat().st_mode)
    finally:
        os.umask(old)
    assert modes == dict.fromkeys(modes, 0o600)


def test_audio_is_never_stored_by_a_cache(user):
    response = user("wang").get("/sessions/1/audio")
    assert response.status_code == 200 and response.data[:4] == b"RIFF"
    assert response.headers["Cache-Control"] == "no-store"
