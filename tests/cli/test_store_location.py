"""``--db`` is what it says (issue #11): through the real command, every way of naming a session
database wrongly is one line on stderr and exit status 2, and leaves no file, folder or table
behind; a reader never creates the database it was asked to read. Real SQLite files and a real
PostgreSQL server; the site file (``--config`` through ``$CALLMONITOR_CONFIG``) puts the
configured store in the test's folder, never in the user's home."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from monitor.cli import main

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "demo_call.wav"
PASSWORD = "battery staple\n"

# Every command that takes --db: (name, its arguments, what it reads on stdin).
READERS = {
    "sessions": (["sessions"], None),
    "show": (["show", "1"], None),
    "users list": (["users", "list"], None),
    "users remove": (["users", "remove", "li"], None),
    # An address not on this machine: should serve get as far as listening, it fails at once.
    "serve": (["serve", "--host", "203.0.113.1", "--port", "8080"], None),
}
WRITERS = {
    "replay": (["replay", str(DEMO), "--asr", "none"], None),
    "users add": (["users", "add", "li", "--role", "agent", "--password-stdin"], PASSWORD),
}
COMMANDS = {**READERS, **WRITERS}
# recover's --db, when given, is judged like the others' (before the spool is read).
TAKE_DB = {**COMMANDS, "recover": (["recover", "session-1.spool.jsonl"], None)}


@pytest.fixture()
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder with a site file whose configured store lies in a folder that
    does not exist yet (as ~/.local/share/callmonitor does on a new machine)."""
    work = tmp_path / "desk"
    work.mkdir()
    site = tmp_path / "site.toml"
    site.write_text(f'[store]\npath = "{tmp_path / "home" / "calls.sqlite3"}"\n')
    monkeypatch.chdir(work)
    monkeypatch.setenv("CALLMONITOR_CONFIG", str(site))
    monkeypatch.delenv("CALLMONITOR_DB", raising=False)
    return tmp_path


def run(command: str, *options: str, env: dict[str, str] | None = None) -> Result:
    args, stdin = TAKE_DB[command]
    return CliRunner().invoke(main, [*args, *options], input=stdin, env=env)


def files(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def assert_refused(result: Result, *named: str) -> str:
    """Exit 2, nothing on stdout, one line on stderr that names every one of ``named``."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("callmonitor: error: "), result.stderr
    assert result.stdout == ""
    for word in named:
        assert word in lines[0], (word, lines[0])
    return lines[0]


# ---- what a command is given ---------------------------------------------------------------

BAD_LOCATIONS = {
    # (--db value, words the error must name)
    "typo in the scheme": ("postgressql://callmonitor:s3cret@db.example/calls",
                           ["'postgressql'", "postgresql://", "postgres://"]),
    "another engine": ("mysql://db.example//calls", ["'mysql'", "postgresql://"]),
    "missing folder": ("typo/calls.sqlite3", ["typo/calls.sqlite3", "folder typo",
                                              "does not exist"]),
    "empty": ("", ["--db is empty"]),
}


@pytest.mark.parametrize("case", BAD_LOCATIONS)
@pytest.mark.parametrize("command", TAKE_DB)
def test_a_bad_db_is_one_line_naming_it_and_creates_nothing(desk, command, case):
    value, named = BAD_LOCATIONS[case]
    before = files(desk)
    line = assert_refused(run(command, "--db", value), *named)
    assert "s3cret" not in line  # a URL's password is never printed
    assert files(desk) == before  # no SQLite file named like the URL, no folder, no default


@pytest.mark.parametrize("command", ["sessions", "replay"])
def test_the_environment_and_the_config_are_checked_like_db(desk, command):
    before = files(desk)
    assert_refused(run(command, env={"CALLMONITOR_DB": "sqlite:///calls.db"}),
                   "$CALLMONITOR_DB", "'sqlite'", "postgresql://")
    site = desk / "url-as-path.toml"
    site.write_text('[store]\npath = "file://calls.sqlite3"\n')
    assert_refused(run(command, "--config", str(site)), "config [store] path", "'file'")
    assert files(desk) == before | {site}


# ---- readers do not create the database --------------------------------------------------

@pytest.mark.parametrize("command", READERS)
def test_a_reader_on_a_missing_sqlite_file_says_so_and_creates_nothing(desk, command):
    before = files(desk)
    assert_refused(run(command, "--db", "calls.sqlite3"), "no session database at calls.sqlite3",
                   "callmonitor users add")
    # The configured store in its folder that does not exist yet: not made by a reader either.
    assert_refused(run(command), f"no session database at {desk / 'home' / 'calls.sqlite3'}")
    assert files(desk) == before


@pytest.mark.parametrize("command", READERS)
def test_a_reader_on_a_sqlite_file_without_tables_leaves_it_untouched(desk, command):
    empty = desk / "desk" / "empty.sqlite3"
    empty.touch()
    before = files(desk)
    assert_refused(run(command, "--db", str(empty)), str(empty), "holds no session database")
    assert files(desk) == before and empty.stat().st_size == 0


def test_writers_create_the_configured_store_and_its_folder_as_before(desk):
    default = desk / "home" / "calls.sqlite3"
    assert run("users add").exit_code == 0
    assert default.is_file()
    assert "li" in run("users list").stdout
    listed = run("sessions")
    assert (listed.exit_code, listed.stdout.strip()) == (0, "no sessions stored yet")


def test_the_configured_path_given_as_db_is_the_configured_store_too(desk):
    default = desk / "home" / "calls.sqlite3"
    result = run("replay", "--db", str(default))
    assert result.exit_code == 0, result.output
    with sqlite3.connect(default) as conn:
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone() == (1,)
    assert str(DEMO) in run("sessions", "--db", str(default)).stdout


# ---- PostgreSQL ----------------------------------------------------------------------------

def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


@pytest.fixture()
def empty_pg(postgres_server) -> str:
    """A database on the private server that exists but was never a session store."""
    return postgres_server.create_database(f"t{uuid.uuid4().hex[:12]}")


@pytest.mark.parametrize("command", READERS)
def test_a_reader_on_a_postgresql_database_without_the_schema_creates_no_tables(
        desk, empty_pg, command):
    assert_refused(run(command, "--db", empty_pg), empty_pg, "holds no session database",
                   "callmonitor users add")
    assert tables(empty_pg) == set()


@pytest.mark.parametrize("command", READERS)
def test_a_reader_names_the_tables_a_postgresql_store_lacks(desk, empty_pg, command):
    # Made by a writer of its own, as on a floor: this process has not seen the store whole.
    subprocess.run([sys.executable, "-m", "monitor", *COMMANDS["users add"][0], "--db",
                    empty_pg], input=PASSWORD, text=True, cwd=REPO, check=True,
                   capture_output=True, timeout=60)
    with psycopg.connect(empty_pg, autocommit=True) as conn:
        conn.execute("DROP TABLE records")
    assert_refused(run(command, "--db", empty_pg), "lacks the tables records")
    assert "records" not in tables(empty_pg)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_postgresql_database_that_does_not_exist_is_one_line(desk, postgres_server, command):
    missing = postgres_server.url_for(f"t{uuid.uuid4().hex[:12]}")
    before = files(desk)
    assert_refused(run(command, "--db", missing), missing, "does not exist")
    assert files(desk) == before


def test_writers_create_the_schema_in_an_empty_postgresql_database(desk, empty_pg):
    assert run("users add", "--db", empty_pg).exit_code == 0
    assert {"sessions", "records", "users"} <= tables(empty_pg)
    assert "li" in run("users list", "--db", empty_pg).stdout
