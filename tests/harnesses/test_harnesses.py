"""The test harnesses themselves: the private PostgreSQL server and the headless browser.

Real server, real browser, a real local web page: if these pass, a failure in a web or
database test is about the code under test, not about its harness.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from testkit.browser import Browser
from testkit.browser import available as browser_available
from testkit.postgres import PostgresServer
from testkit.postgres import available as postgres_available

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>harness</title></head>
<body>
  <p id="status">written by the server</p>
  <button id="go">go</button>
  <script>
    const status = document.getElementById("status");
    status.textContent = "ready: " + (2 + 3);
    document.getElementById("go").addEventListener("click", () => {
      status.textContent = "clicked 你好";
    });
  </script>
</body></html>
"""


def _running(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie is dead: it runs nothing and holds no
    port, and in a container without an init nobody may ever reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _cmdlines() -> dict[int, str]:
    out = {}
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            out[int(path.parent.name)] = path.read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except OSError:
            continue
    return out


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


# -- PostgreSQL -------------------------------------------------------------------------------


def test_postgres_is_available_here() -> None:
    ok, reason = postgres_available()
    assert ok, reason


def test_server_accepts_connections(postgres_server: PostgresServer) -> None:
    assert postgres_server.url.startswith("postgresql://postgres@127.0.0.1:")
    with psycopg.connect(postgres_server.url) as conn:
        assert conn.execute("SELECT 1 + 1").fetchone() == (2,)
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('listen_addresses', 'fsync', 'server_encoding', 'lc_collate')").fetchall())
    assert settings == {"listen_addresses": "127.0.0.1", "fsync": "off",
                        "server_encoding": "UTF8", "lc_collate": "C.UTF-8"}


def test_created_database_round_trips_a_row(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("harness_round_trip")
    assert url == f"postgresql://postgres@127.0.0.1:{postgres_server.port}/harness_round_trip"
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE calls (id serial PRIMARY KEY, agent text, cpm real)")
        conn.execute("INSERT INTO calls (agent, cpm) VALUES (%s, %s)", ("王芳", 212.5))
        conn.commit()
    with psycopg.connect(url) as conn:  # a new session sees the committed row
        assert conn.execute("SELECT id, agent, cpm FROM calls").fetchall() == [(1, "王芳", 212.5)]


def test_databases_are_isolated(postgres_server: PostgresServer) -> None:
    first = postgres_server.create_database("harness_iso_a")
    second = postgres_server.create_database("harness_iso_b")
    with psycopg.connect(first) as a, psycopg.connect(second) as b:
        a.execute("CREATE TABLE sessions (note text)")
        a.execute("INSERT INTO sessions VALUES ('only in a')")
        a.commit()
        assert b.execute("SELECT to_regclass('sessions')").fetchone() == (None,)
        b.execute("CREATE TABLE sessions (note text)")  # same name, another database
        b.commit()
        assert b.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
        assert a.execute("SELECT note FROM sessions").fetchall() == [("only in a",)]


def test_database_names_duplicates_and_drop(postgres_server: PostgresServer) -> None:
    for name in ("bad-name", "x; DROP DATABASE postgres", "", "1abc"):
        with pytest.raises(ValueError):
            postgres_server.create_database(name)
    postgres_server.create_database("harness_dup")
    with pytest.raises(psycopg.errors.DuplicateDatabase):
        postgres_server.create_database("harness_dup")
    with psycopg.connect(postgres_server.url_for("harness_dup")):  # a session does not block
        postgres_server.drop_database("harness_dup")
    postgres_server.create_database("harness_dup")


def test_stop_leaves_nothing_running() -> None:
    """A server of its own (not the session's), stopped here, then looked for everywhere."""
    with PostgresServer() as server:
        port, folder = server.port, server.dir
        assert port is not None and folder is not None and server.process is not None
        postmaster = server.pid
        assert postmaster is not None and _running(postmaster)
        with server.connect() as conn:  # a session open at stop: immediate mode ends it
            conn.execute("SELECT 1")
            ours = [server.process.pid, postmaster, *_children(postmaster)]
            assert len(ours) >= 5, "runuser/postmaster and the postmaster's helper processes"
    assert not _accepts(port), f"port {port} still accepts connections"
    assert [pid for pid in ours if _running(pid)] == []
    assert not folder.exists()
    assert [cmd for cmd in _cmdlines().values() if str(folder) in cmd] == []


# -- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m http.server`` on 127.0.0.1 serving :data:`PAGE` as /index.html."""
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text(PAGE, encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(root)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not _accepts(port):
            assert proc.poll() is None, f"http.server exited with {proc.returncode}"
            assert time.monotonic() < deadline, "http.server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(5)


def test_browser_is_available_here() -> None:
    ok, reason = browser_available()
    assert ok, reason


def test_page_runs_javascript_and_a_click_changes_it(browser: Browser, site: str,
                                                     tmp_path: Path) -> None:
    with browser.page() as page:
        page.goto(f"{site}/index.html")
        status = page.locator("#status")
        assert status.text_content() == "ready: 5"  # written by the page's script
        page.click("#go")
        assert status.text_content() == "clicked 你好"
        shot = tmp_path / "page.png"
        page.screenshot(path=str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_page_is_a_separate_user(browser: Browser, site: str) -> None:
    with browser.page() as first, browser.page() as second:
        first.goto(f"{site}/index.html")
        first.evaluate("document.cookie = 'session=agent1; path=/'")
        assert first.evaluate("document.cookie") == "session=agent1"
        second.goto(f"{site}/index.html")
        assert second.evaluate("document.cookie") == ""


def test_browser_stop_leaves_nothing_running(browser: Browser, site: str) -> None:
    """A second browser, beside the session's (they share Playwright's driver): after its
    with block none of the processes it started runs, and the session's still works."""
    before = set(_cmdlines())
    with Browser() as own:
        assert own.version.split(".")[0].isdigit()
        with own.page() as page:
            page.goto(f"{site}/index.html")
        started = {pid for pid, cmd in _cmdlines().items()
                   if pid not in before and ("chromium" in cmd or "run-driver" in cmd)}
        assert started, "no Chromium or driver process was seen"
    deadline = time.monotonic() + 5
    while [pid for pid in started if _running(pid)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in started if _running(pid)] == []
    with browser.page() as page:
        page.goto(f"{site}/index.html")
        assert page.text_content("#status") == "ready: 5"


# -- a missing program: a skip, or an error under $CI ----------------------------------------

PULSE_TEST = "tests/live/test_pulse.py::test_server_runs_null_sinks_and_stops_everything"
POSTGRES_TEST = "tests/harnesses/test_harnesses.py::test_server_accepts_connections"
BROWSER_TEST = "tests/harnesses/test_harnesses.py::test_browser_stop_leaves_nothing_running"


def _run_pytest(tests: list[str], ci: str | None, **env: str) -> subprocess.CompletedProcess[str]:
    """``tests`` in a pytest of their own, with ``$CI`` as given and ``env`` on top of ours."""
    root = Path(__file__).resolve().parents[2]
    run_env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHONPATH")}
    run_env.update(PYTHONPATH=str(root), **env, **({"CI": ci} if ci else {}))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-rs", *tests], cwd=root, env=run_env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(("ci", "outcome", "code"), [("1", "1 error", 1), (None, "1 skipped", 0)],
                         ids=["CI", "no-CI"])
def test_a_pulseaudio_test_without_pulseaudio_errors_under_ci_and_skips_elsewhere(
        tmp_path: Path, ci: str | None, outcome: str, code: int) -> None:
    """The PulseAudio tests run with a PATH on which no PulseAudio program is found (an empty
    folder; this interpreter is named by its full path)."""
    done = _run_pytest([PULSE_TEST], ci, PATH=str(tmp_path))
    assert done.returncode == code, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert outcome in last and "passed" not in last, done.stdout
    assert "PulseAudio is not installed" in done.stdout


def test_a_postgresql_or_chromium_test_without_it_is_an_error_under_ci(tmp_path: Path) -> None:
    """Under ``CI=1`` a test that needs PostgreSQL, and one that needs Chromium, where it is
    missing, error instead of passing as skips. Missing: the variable that chooses each names
    a folder that does not exist, and nothing else is then tried (one pytest runs both)."""
    gone = tmp_path / "missing"
    done = _run_pytest([POSTGRES_TEST, BROWSER_TEST], "1", POSTGRES_BINDIR=str(gone),
                       CHROMIUM=str(gone))
    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert "2 errors" in last and "passed" not in last and "skipped" not in last, done.stdout
    assert f"PostgreSQL server programs (initdb, pg_ctl, postgres) not found in {gone}" \
        in done.stdout, done.stdout
    assert f"no Chromium at {gone}" in done.stdout, done.stdout
    assert done.stdout.count("CI is set, so this is an error, not a skip") == 2, done.stdout
