"""Shared fixtures. Real models load once per test session through the production search order."""

import uuid
from pathlib import Path

import pytest
from fixtures_asr import *  # noqa: F403 - the speech model fixtures
from fixtures_synth import *  # noqa: F403
from fixtures_web import *  # noqa: F403 - private PostgreSQL server, headless Chromium


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty session database on each engine: a SQLite file, a database on the
    private PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite3")
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"t{uuid.uuid4().hex[:12]}")
