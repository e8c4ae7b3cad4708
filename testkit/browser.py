"""Debian's headless Chromium driven by Playwright, for tests of the web interface.

    with Browser() as browser:
        with browser.page() as page:                 # its own context: own cookies, storage
            page.goto("http://127.0.0.1:8000/login")
            page.fill("#user", "agent1")
            page.click("text=Sign in")
            page.screenshot(path=tmp_path / "login.png")
        page = browser.new_page()                    # closed with its context by stop()

How it is wired, and why:

* No browser download: ``playwright install`` fetches a Chromium build from Microsoft's CDN,
  which CI and these machines cannot reach. Playwright's Python package carries its own
  driver (a Node.js program) and talks to any recent Chromium over the DevTools protocol, so
  it launches the distribution's ``/usr/bin/chromium`` (package ``chromium``) by
  ``executable_path``. Checked with playwright 1.65.2 and Chromium 156 (Debian 12).
* ``/usr/bin/chromium`` is Debian's shell wrapper around /usr/lib/chromium/chromium: it sources
  /etc/chromium.d/* (flags, API keys). Harmless here; its stderr is not shown by Playwright.
* ``--no-sandbox`` because Chromium's sandbox refuses to run as root (and needs user
  namespaces that containers often lack); the page is our own local server, nothing hostile.
  ``--disable-dev-shm-usage`` because Docker's /dev/shm is 64 MB, too small for Chromium. The
  other flags stop Chromium from calling home (component updates, sync, background requests)
  so a test never waits on the network.
* One browser per session (launching costs ~0.7 s), one context per user (a context is
  cheap, and it is what keeps cookies and localStorage of two users apart).
* Timeouts are 5 s instead of Playwright's 30 s, so a wrong selector fails fast.
* Playwright's sync API runs an asyncio loop in the thread that started it and leaves it
  marked as running between calls: while a Browser is alive, that thread cannot call
  ``asyncio.run()`` ("cannot be called from a running event loop"), and a second
  ``sync_playwright().start()`` there fails ("using Playwright Sync API inside the asyncio
  loop"). So every Browser of a thread shares one Playwright driver (counted, stopped with the
  last Browser), and the pages must be used from that thread; a web server under test runs in
  another thread or process.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from testkit.harness import Harness

if TYPE_CHECKING:  # playwright is a test dependency: importing this module must not need it
    from playwright.sync_api import Browser as PwBrowser
    from playwright.sync_api import BrowserContext, Page, Playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--metrics-recording-only",
)
TIMEOUT_MS = 5_000

_drivers: dict[int, tuple[Playwright, int]] = {}  # thread id -> (driver, Browsers using it)


class Availability(NamedTuple):
    """Whether the browser can be run here, and if not why; false in ``if`` when it cannot."""

    ok: bool
    reason: str

    def __bool__(self) -> bool:  # a two-item tuple would always be true
        return self.ok


def find_chromium() -> str | None:
    """``$CHROMIUM`` if set, and then only it (a browser chosen on purpose that is not there is
    reported missing, not replaced by another one); else Debian's /usr/bin/chromium, else
    chromium on PATH."""
    chosen = os.environ.get("CHROMIUM")
    for candidate in (chosen,) if chosen else (CHROMIUM, shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def available() -> Availability:
    """Can :class:`Browser` start here? The reason says what is missing, for pytest.skip."""
    if importlib.util.find_spec("playwright") is None:
        return Availability(False, "the Python package playwright is not installed "
                                   "(test dependency: pip install -e '.[test]')")
    executable = find_chromium()
    if executable is None:
        where = os.environ.get("CHROMIUM") or f"{CHROMIUM} or on PATH"
        return Availability(False, f"no Chromium at {where} "
                                   "(install the Debian package chromium)")
    return Availability(True, f"Chromium {executable} with playwright")


class Browser(Harness):
    """A headless Chromium for one test session; :meth:`stop` ends it and every context."""

    def __init__(self, executable: str | None = None, *, args: tuple[str, ...] = (),
                 timeout_ms: int = TIMEOUT_MS) -> None:
        """``args`` are extra Chromium flags, after :data:`CHROMIUM_ARGS`."""
        self.executable = executable
        self.args = (*CHROMIUM_ARGS, *args)
        self.timeout_ms = timeout_ms
        self._playwright: Playwright | None = None
        self._thread = 0  # the thread whose driver this Browser uses
        self.browser: PwBrowser | None = None
        self._contexts: list[BrowserContext] = []

    def start(self) -> None:
        if self.browser is not None:
            raise RuntimeError("browser already started")
        executable = self.executable or find_chromium()
        if executable is None:
            raise RuntimeError(available().reason)
        self._thread = threading.get_ident()
        self._playwright = _acquire_driver(self._thread)
        self.browser = self._playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(self.args),
            timeout=30_000,  # the first launch after boot reads ~300 MB from disk
        )

    def stop(self) -> None:
        """Close every context, the browser and Playwright's driver; safe at any stage."""
        for context in self._contexts:
            with contextlib.suppress(Exception):  # already closed, or the browser crashed
                context.close()
        self._contexts.clear()
        if self.browser is not None:
            with contextlib.suppress(Exception):
                self.browser.close()
            self.browser = None
        if self._playwright is not None:
            self._playwright = None
            _release_driver(self._thread)

    @property
    def version(self) -> str:
        assert self.browser is not None, "browser not started"
        return self.browser.version

    def new_context(self, **kwargs: Any) -> BrowserContext:
        """A fresh context (Playwright ``new_context`` options, e.g. ``base_url``,
        ``viewport``, ``locale``): empty cookies and storage, closed by :meth:`stop`."""
        assert self.browser is not None, "browser not started"
        context = self.browser.new_context(**kwargs)
        context.set_default_timeout(self.timeout_ms)
        context.set_default_navigation_timeout(self.timeout_ms)
        self._contexts.append(context)
        context.on("close", self._forget)
        return context

    def _forget(self, context: BrowserContext) -> None:
        with contextlib.suppress(ValueError):
            self._contexts.remove(context)

    def new_page(self, **kwargs: Any) -> Page:
        """A page in its own fresh context, so two pages are two users who share nothing.
        ``page.context.close()`` frees it early; otherwise :meth:`stop` does."""
        return self.new_context(**kwargs).new_page()

    @contextlib.contextmanager
    def page(self, **kwargs: Any) -> Iterator[Page]:
        """Like :meth:`new_page`, but the context is closed when the block ends: for a
        session-wide browser, so that contexts do not pile up test after test."""
        page = self.new_page(**kwargs)
        try:
            yield page
        finally:
            with contextlib.suppress(Exception):
                page.context.close()


def _acquire_driver(key: int) -> Playwright:
    """Thread ``key``'s Playwright driver, started by its first user."""
    from playwright.sync_api import sync_playwright

    driver, users = _drivers.get(key) or (sync_playwright().start(), 0)
    _drivers[key] = (driver, users + 1)
    return driver


def _release_driver(key: int) -> None:
    """One user fewer; the last one stops the driver (a Node.js process)."""
    driver, users = _drivers[key]
    if users > 1:
        _drivers[key] = (driver, users - 1)
    else:
        del _drivers[key]
        driver.stop()
