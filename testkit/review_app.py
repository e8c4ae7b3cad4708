"""The review app as the browser tests run it: ``callmonitor serve`` in its own process on a
free loopback port, and a user signed in to it in a Playwright page."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from testkit.ports import free_port

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "review-pass-1"
"""Every test user's password (each sign-in hashes it: one per user and module)."""


@dataclass
class Floor:
    """A running review app over ``db``, with (where a test made them) two agents' sessions."""

    url: str
    db: str
    own: int = 0  # 小王's session
    other: int = 0  # 小李's session


@contextmanager
def serving(db: str, timeout_s: float = 30.0) -> Iterator[str]:
    """``callmonitor serve --db DB`` until the block ends; yields its URL once it answers."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "--db", db,
                               "--port", str(port)], cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=2).read()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "callmonitor serve did not come up"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def sign_in(page, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=user-name]")
