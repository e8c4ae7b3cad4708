"""``callmonitor tap`` put together: the listeners a configuration asks for, the server's event
loop, and a clean end (every open call ended as interrupted, everything received stored)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from monitor.config import TapConfig
from monitor.config.sections import host_port
from monitor.errors import CallmonitorError
from monitor.frames import Channel
from monitor.tap import asterisk, websocket
from monitor.tap.calls import Calls, TapContext
from monitor.tap.server import Handler, Listener, TapServer

HANDLERS: dict[str, Handler] = {asterisk.PROTOCOL: asterisk.serve_leg,
                                websocket.PROTOCOL: websocket.serve_fork}
"""Each protocol's connection handler, by the name its listeners give."""


def listeners(cfg: TapConfig, addresses: dict[tuple[str, Channel | None], str | None]
              ) -> list[Listener]:
    """A listener per (protocol, side) with an address: the option given (``addresses``),
    else the configuration's; "" is none. At least one must be left. A side of None: the
    protocol's connections carry the whole call (``[tap] websocket``)."""
    out = []
    for (protocol, channel), given in addresses.items():
        key = f"{protocol}_{channel}" if channel else protocol
        address = given if given is not None else getattr(cfg, key)
        if not address:
            continue
        parts = host_port(address)
        if parts is None:
            raise CallmonitorError(f"--{key.replace('_', '-')} {address!r} is not HOST:PORT",
                                   "give an address and port, e.g. 127.0.0.1:9092")
        out.append(Listener(protocol, channel, *parts))
    if not out:
        raise CallmonitorError("nothing to listen on",
                               "give --audiosocket-agent, --audiosocket-customer or "
                               "--websocket HOST:PORT")
    return out


class _StderrFormat(logging.Formatter):
    """Warnings as every command words them; the rest (calls starting and ending) as the
    tap's own lines."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = ("callmonitor: warning: " if record.levelno >= logging.WARNING
                  else "callmonitor tap: ")
        return prefix + super().format(record)


def log_to_stderr() -> None:
    """The tap's log (``callmonitor.tap``) on stderr, one line each."""
    handler = logging.StreamHandler()
    handler.setFormatter(_StderrFormat("%(message)s"))
    logger = logging.getLogger("callmonitor.tap")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


class Tap:
    """A tap server over ``ctx``: ``run`` serves until ``stop`` (from any thread or a signal
    handler), then waits for every call's session to be stored."""

    def __init__(self, ctx: TapContext, listening: list[Listener]) -> None:
        self.calls = Calls(ctx)
        self.server = TapServer(self.calls, ctx.cfg.tap, listening, HANDLERS)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stopping = threading.Event()

    def run(self, ready: Callable[[], None] = lambda: None) -> None:
        asyncio.run(self._serve(ready))
        self.calls.join()

    async def _serve(self, ready: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stopping.is_set():
            self._stop.set()
        await self.server.run(ready, self._stop)

    def stop(self) -> None:
        """Stop listening and end every connection; safe from a signal handler."""
        self._stopping.set()
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    def idle(self, timeout_s: float, accepted: int = 0) -> bool:
        """Wait until ``accepted`` connections were taken, none is open and no call is
        running (for tests and scripts): False if that took longer than ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while (self.server.accepted < accepted or self.server.open_connections()
               or self.calls.running()):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True


__all__ = ["HANDLERS", "Tap", "listeners", "log_to_stderr"]
