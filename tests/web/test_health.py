"""``/healthz`` asks the session database for its tables, not just for ``SELECT 1``: on both
engines, a store made by a real writer is healthy, and the same store with tables dropped under
the running app is 503 with the tables named, although the server still answers."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from monitor.config import load_config
from monitor.storage.database import TABLES, is_postgres
from monitor.storage.users import add_user
from monitor.web.app import create_app


def drop(location: str, *tables: str) -> None:
    """Drop ``tables`` behind the app's back, as a mistaken migration or restore would."""
    connect = psycopg.connect if is_postgres(location) else sqlite3.connect
    with connect(location) as conn:
        for table in tables:
            conn.execute(f"DROP TABLE {table}")


def health(location: str, tmp_path) -> tuple[int, dict]:
    app = create_app(location, tmp_path / "audio", load_config("zh-CN"))
    response = app.test_client().get("/healthz")
    return response.status_code, response.get_json()


@pytest.mark.parametrize("dropped", [("session_alerts",), ("records", "logins")])
def test_a_store_whose_tables_were_dropped_is_503_naming_them(store_location, tmp_path,
                                                                 dropped):
    add_user(store_location, "boss", "supervisor", "boss-password")
    app = create_app(store_location, tmp_path / "audio", load_config("zh-CN"))
    client = app.test_client()
    ok = client.get("/healthz")
    assert (ok.status_code, ok.get_json()) == (200, {"status": "ok"})
    drop(store_location, *dropped)
    broken = client.get("/healthz")
    assert broken.status_code == 503
    assert broken.get_json() == {"status": "database has no schema",
                                 "missing_tables": sorted(dropped)}


def test_a_database_that_was_never_a_store_is_503_and_stays_empty(store_location, tmp_path):
    if not is_postgres(store_location):  # an existing file without tables, as a typo makes
        sqlite3.connect(store_location).close()
    status, body = health(store_location, tmp_path)
    assert status == 503 and body["missing_tables"] == sorted(TABLES)
    connect = psycopg.connect if is_postgres(store_location) else sqlite3.connect
    with connect(store_location) as conn:
        assert conn.execute("SELECT COUNT(*) FROM " + (
            "pg_tables WHERE schemaname = 'public'" if is_postgres(store_location)
            else "sqlite_master")).fetchone() == (0,)
