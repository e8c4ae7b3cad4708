"""The review app as the tests run it: ``callmonitor serve`` in its own process on a free
loopback port with a user signed in to it in a Playwright page, or the app itself behind
Flask's test client, with a client signed in."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from monitor.config import Config, load_config
from monitor.storage import users
from monitor.storage.sessions import default_audio_dir
from monitor.web.app import create_app
from monitor.web.auth import COOKIE, SignInThrottle
from monitor.web.context import SETTINGS
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


@cache
def _profile() -> Config:
    return load_config("zh-CN")  # read once: it costs a tenth of a second


def review_app(db: str | Path, audio_dir: Path | None = None, *,
               clock: Callable[[], float] | None = None, host: str | None = None,
               **web: Any) -> Flask:
    """The review app over ``db`` for Flask's test client: the zh-CN profile with ``web``
    replacing ``[web]`` settings, kept audio in ``audio_dir`` (the store's default folder),
    and ``clock`` the sign-in throttle's (a test's own time), ``host`` as ``serve --host``."""
    cfg = _profile()
    if web:
        cfg = replace(cfg, web=replace(cfg.web, **web))
    throttle = SignInThrottle(cfg.web, clock=clock) if clock else None
    app = create_app(db, audio_dir or default_audio_dir(db), cfg, throttle=throttle, host=host)
    app.config["TESTING"] = True
    return app


def client_signed_in(app: Flask, name: str, password: str = PASSWORD) -> FlaskClient:
    """A test client signed in through ``/login``, as a browser does."""
    client = app.test_client()
    response = client.post("/login", data={"name": name, "password": password})
    assert response.status_code == 303, response.text
    assert client.get_cookie(COOKIE) is not None
    return client


def client_with_token(app: Flask, name: str) -> FlaskClient:
    """A test client holding ``name``'s sign-in cookie, made as ``/login`` makes it but without
    checking the password (Argon2 costs half a second; sign-in has its own tests)."""
    location = app.extensions[SETTINGS].location
    who = next(u for u in users.list_users(location) if u.name == name)
    client = app.test_client()
    client.set_cookie(COOKIE, users.sign_in(location, who, timedelta(hours=1)))
    return client
