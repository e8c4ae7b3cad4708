"""Shared fixtures. Real models load once per test session through the production search order."""

import uuid
from pathlib import Path

import pytest

pytest_plugins = [
    "testkit.fixtures.asr",  # the speech models
    "testkit.fixtures.synth",  # scenario calls with known truth
    "testkit.fixtures.required",  # a missing program: a skip, or an error under $CI
    "testkit.fixtures.web",  # private PostgreSQL server, headless Chromium
    "testkit.fixtures.cluster",  # private Ray cluster: a head and a worker node
]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty session database on each engine: a SQLite file, a database on the
    private PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite3")
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"t{uuid.uuid4().hex[:12]}")
