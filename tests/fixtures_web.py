"""Session fixtures for tests of the web interface: a private PostgreSQL server and a headless
Chromium, each started once per test session (both take most of a second) and stopped at its end.

Imported into conftest.py with ``from fixtures_web import *``; only the fixtures are exported.
Where the programs are missing the tests are skipped with the reason, except on CI (``$CI`` set,
as GitHub Actions and GitLab do), which installs them: there a missing program is an error, so
a broken setup cannot pass as a green run of skipped tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from browser import Browser
from browser import available as browser_available
from postgres import PostgresServer
from postgres import available as postgres_available

__all__ = ["browser", "postgres_server"]


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL server on 127.0.0.1; tests take their own database from it with
    ``postgres_server.create_database(name)`` (a URL), so they never see each other's data."""
    ok, reason = postgres_available()
    if not ok:
        _missing(reason)
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium under Playwright; ``with browser.page() as page:`` gives a
    page in a fresh context (its own cookies) that is closed at the end of the block."""
    ok, reason = browser_available()
    if not ok:
        _missing(reason)
    with Browser() as b:
        yield b
