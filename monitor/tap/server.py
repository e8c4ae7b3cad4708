"""The tap server: asyncio listeners, one task per connection, each handed to its protocol.

A protocol module gives one coroutine, ``handler(peer)``, that reads its wire format from the
``Peer`` and feeds a leg of a call (``monitor.tap.calls``); the server owns what every
protocol shares: which side a listener is, the connection limit, the idle timeout, and one
log line for whatever ends a connection badly. Sessions run on their own threads, so no
connection ever waits for the analysis; the server never stops for a peer's fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from monitor.config import TapConfig
from monitor.errors import CallmonitorError
from monitor.frames import Channel
from monitor.tap.calls import Calls, Leg

log = logging.getLogger("callmonitor.tap")
_ROOM_POLL_S = 0.01  # how often a connection held back looks for room in its call's inbox


class PeerGone(Exception):
    """The connection ended other than at a message boundary: dropped mid-message, reset, or
    silent for longer than ``[tap] idle_timeout_s``."""


@dataclass
class Peer:
    """One connection: where it came from, which side its listener takes, and reads that
    give up on a peer that goes quiet."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    protocol: str
    channel: Channel | None
    """The side its listener takes; None where the protocol says (a WebSocket fork)."""
    calls: Calls
    cfg: TapConfig

    @property
    def name(self) -> str:
        host, port, *_ = self.writer.get_extra_info("peername") or ("?", 0)
        what = f"{self.channel} leg" if self.channel else "connection"
        return f"{self.protocol} {what} from {host}:{port}"

    @property
    def side(self) -> Channel:
        """The side of a listener that takes one (AudioSocket's ports)."""
        assert self.channel is not None, self.protocol
        return self.channel

    async def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes of a message already begun."""
        data = await self.read_next(n)
        if data is None:
            raise PeerGone(f"dropped mid-message (0 of {n} bytes)")
        return data

    async def read_next(self, n: int) -> bytes | None:
        """Exactly ``n`` bytes starting a message; a clean end of stream before them is None
        (the peer closed between messages)."""
        try:
            return await self._within_timeout(self.reader.readexactly(n))
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                return None
            raise PeerGone(f"dropped mid-message ({len(exc.partial)} of {n} bytes)") from None

    async def read_some(self, limit: int) -> bytes:
        """What has come, up to ``limit`` bytes, for a protocol that parses a stream itself
        (WebSocket); b"" at the end of the stream."""
        return await self._within_timeout(self.reader.read(limit))

    async def _within_timeout(self, read: Awaitable[bytes]) -> bytes:
        """A read that gives up on a peer silent for ``[tap] idle_timeout_s`` or gone."""
        try:
            return await asyncio.wait_for(read, self.cfg.idle_timeout_s)
        except TimeoutError:
            raise PeerGone(f"nothing for {self.cfg.idle_timeout_s:g} s "
                           "([tap] idle_timeout_s)") from None
        except ConnectionError as exc:
            raise PeerGone(f"connection lost ({exc.strerror or exc})") from None

    async def room(self, leg: Leg) -> None:
        """Wait (this connection only) until the leg's call can take more audio."""
        while leg.full():
            await asyncio.sleep(_ROOM_POLL_S)


Handler = Callable[[Peer], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Listener:
    """A port to listen on: its protocol and the side of the call its legs carry (None: the
    protocol's connections say, as a WebSocket fork's metadata does)."""

    protocol: str
    channel: Channel | None
    host: str
    port: int

    @property
    def carries(self) -> str:
        """What connects here, in words."""
        return (f"{self.protocol} {self.channel} legs" if self.channel
                else f"{self.protocol} calls")


class TapServer:
    """Listens on every ``Listener`` until ``stop``; then ends every connection (their legs
    as cut: the calls end as interrupted with everything received)."""

    def __init__(self, calls: Calls, cfg: TapConfig, listeners: list[Listener],
                 handlers: dict[str, Handler]) -> None:
        self._calls = calls
        self._cfg = cfg
        self._listeners = listeners
        self._handlers = handlers
        self._tasks: set[asyncio.Task[None]] = set()
        self.accepted = 0
        """Connections taken so far (refused ones too)."""
        self.refused = 0
        """Connections closed at once because ``max_connections`` were open."""
        self.ports: list[int] = []
        """The ports listened on, in ``listeners`` order (port 0 asks the system for one)."""

    async def run(self, ready: Callable[[], None], stop: asyncio.Event) -> None:
        servers = await self._listen()
        ready()
        await stop.wait()
        for server in servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in servers:
            await server.wait_closed()

    async def _listen(self) -> list[asyncio.Server]:
        """Open every listener (all or none: a port taken is one line, exit status 2)."""
        servers: list[asyncio.Server] = []
        for listener in self._listeners:
            try:
                # A PBX may open many legs at once: the backlog takes as many as are allowed.
                server = await asyncio.start_server(partial(self._accept, listener),
                                                    listener.host, listener.port,
                                                    backlog=self._cfg.max_connections)
            except OSError as exc:
                for opened in servers:
                    opened.close()
                raise CallmonitorError(
                    f"cannot listen on {listener.host}:{listener.port} for the "
                    f"{listener.carries} "
                    f"({os.strerror(exc.errno) if exc.errno else exc})",
                    "give a free port and an address of this machine") from None
            servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])
        log.info("listening: %s", "; ".join(
            f"{lst.carries} on {lst.host}:{port}"
            for lst, port in zip(self._listeners, self.ports, strict=True)))
        return servers

    def open_connections(self) -> int:
        return len(self._tasks)

    async def _accept(self, listener: Listener, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        peer = Peer(reader, writer, listener.protocol, listener.channel, self._calls, self._cfg)
        if len(self._tasks) >= self._cfg.max_connections:
            self.refused += 1
            log.warning("%s: refused, %d connections are open ([tap] max_connections)",
                        peer.name, len(self._tasks))
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handlers[listener.protocol](peer)
        except PeerGone as exc:
            log.warning("%s: %s; connection closed", peer.name, exc)
        except ValueError as exc:  # the protocol's own errors (a ProtocolError)
            log.warning("%s: %s; connection closed", peer.name, exc)
        except asyncio.CancelledError:  # the server stops: the handler ended its leg
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


__all__ = ["Handler", "Listener", "Peer", "PeerGone", "TapServer"]
