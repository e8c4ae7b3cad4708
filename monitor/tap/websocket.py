"""A WebSocket audio fork (FreeSWITCH mod_audio_fork, jambonz listen) as one call: reads the
wire format (``monitor.tap.wsfork``) through the ``websockets`` package's sans-I/O protocol
over the server's ``Peer`` (so the server's connection limit, idle timeout and log lines hold
for it as for AudioSocket), feeds a leg per channel, and sends the call's alerts back.

How the connection ends decides how the call ends: a WebSocket close from the PBX, or an empty
binary frame (mod_audio_fork's graceful shutdown: the tap answers the last alerts, then
closes), is the call's end; anything else (a drop without a close, a protocol error, a
stalled peer, the server stopping) cuts it off, and the session ends as ``interrupted`` with
everything received.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from monitor.tap.calls import Leg
from monitor.tap.server import Peer, PeerGone
from monitor.tap.wsfork import (
    CLOSE_POLICY,
    SUBPROTOCOLS,
    ForkCall,
    ForkError,
    alert_message,
    parse_metadata,
    pieces,
)

PROTOCOL = "websocket"
log = logging.getLogger("callmonitor.tap")
_READ_BYTES = 65536
_END_POLL_S = 0.02  # how often a fork that flushed looks whether its call is stored


def _subprotocol(_ws: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """The fork's subprotocol if it offers one of ours; a client that offers none (or others)
    is served without one."""
    return next((s for s in offered if s in SUBPROTOCOLS), None)


class _Socket:
    """One WebSocket over a ``Peer``: whole messages in (fragments joined, pings answered by
    the protocol), text frames out, from the event loop only."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.ws = ServerProtocol(select_subprotocol=_subprotocol,
                                 max_size=peer.cfg.websocket_max_message_bytes)
        self._frames: deque[Frame] = deque()
        self._parts: list[bytes] = []
        self._kind = Opcode.BINARY

    async def handshake(self) -> None:
        """Read the HTTP upgrade and answer it; a request that is not a WebSocket upgrade is
        answered with its HTTP error and refused."""
        while not self._frames:
            await self._receive()
            if self.ws.handshake_exc is not None:
                self._flush()
                raise ForkError(f"not a WebSocket handshake ({self.ws.handshake_exc})", 0)
        request = self._frames.popleft()
        assert isinstance(request, Request)
        response = self.ws.accept(request)
        self.ws.send_response(response)
        self._flush()
        if response.status_code != 101:
            raise ForkError(f"not a WebSocket handshake ({self.ws.handshake_exc})", 0)

    async def message(self) -> tuple[Opcode, bytes] | None:
        """The next whole text or binary message; None when the peer closed the WebSocket."""
        while True:
            while self._frames:
                frame = self._frames.popleft()
                if frame.opcode is Opcode.CLOSE:
                    return None
                whole = self._join(frame)
                if whole is not None:
                    return whole
            if self.ws.parser_exc is not None:
                raise self._broken(self.ws.parser_exc)
            await self._receive()

    def _join(self, frame: Frame) -> tuple[Opcode, bytes] | None:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self._kind, self._parts = frame.opcode, []
        elif frame.opcode is not Opcode.CONT:
            return None  # a ping or pong: the protocol has answered it
        self._parts.append(bytes(frame.data))
        return (self._kind, b"".join(self._parts)) if frame.fin else None

    @staticmethod
    def _broken(exc: Exception) -> Exception:
        """What a failed parse means: a drop without a close, or a frame the protocol
        refused (it has sent its close code: 1002, 1007, 1009)."""
        if isinstance(exc, EOFError):
            return PeerGone("dropped without a WebSocket close")
        return ForkError(f"a bad WebSocket frame ({exc})", 0)

    async def _receive(self) -> None:
        data = await self.peer.read_some(_READ_BYTES)
        if data:
            self.ws.receive_data(data)
        else:
            self.ws.receive_eof()
        self._frames.extend(self.ws.events_received())  # type: ignore[arg-type]
        self._flush()

    def _flush(self) -> None:
        for data in self.ws.data_to_send():
            if data:
                self.peer.writer.write(data)

    def send_text(self, text: str) -> None:
        if self.ws.state is State.OPEN:
            self.ws.send_text(text.encode())
            self._flush()

    def close(self, code: int, reason: str) -> None:
        """Close with ``code`` (0: the protocol already did, or there is no WebSocket)."""
        if code and self.ws.state is State.OPEN:
            self.ws.send_close(code, reason[:120])
            self._flush()


class _Answers:
    """The call's records as they are made (on its thread): alerts go back on the socket as
    text frames, and the summary says the call is stored. Handed to the event loop in the
    order they were made, so the last alert is sent before the socket is closed."""

    def __init__(self, sock: _Socket, call_id: str) -> None:
        self._sock = sock
        self._call_id = call_id
        self._loop = asyncio.get_running_loop()
        self.stored = asyncio.Event()

    def __call__(self, record: dict[str, Any]) -> None:
        if record["type"] in ("alert", "summary"):
            # RuntimeError: the server's loop is gone, nobody to answer.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._answer, record)

    def _answer(self, record: dict[str, Any]) -> None:
        if record["type"] == "summary":
            self.stored.set()
        else:
            self._sock.send_text(alert_message(self._call_id, record))


async def serve_fork(peer: Peer) -> None:
    """Serve one fork from its handshake to its end; its call (once the metadata came) ends
    with it."""
    sock = _Socket(peer)
    try:
        await sock.handshake()
        call = await _metadata(sock, peer)
        if call is None:
            return
        answers = _Answers(sock, call.call_id)
        legs = peer.calls.call(call.call_id, call.columns, PROTOCOL, call.setup, answers)
        await _serve_call(sock, peer, call, legs, answers)
    except ForkError as exc:
        sock.close(exc.code, str(exc))
        raise
    except asyncio.CancelledError:
        sock.close(CloseCode.GOING_AWAY, "the tap server stopped")
        raise
    except PeerGone:
        sock.close(CLOSE_POLICY, "idle or broken")
        raise


async def _metadata(sock: _Socket, peer: Peer) -> ForkCall | None:
    """The fork's call from its first message, which must be the metadata (text); None if the
    fork closed before it."""
    message = await sock.message()
    if message is None:
        log.warning("%s: closed before its metadata", peer.name)
        return None
    kind, data = message
    if kind is not Opcode.TEXT:
        raise ForkError("audio before the metadata (a JSON text frame must come first)",
                        CLOSE_POLICY)
    return parse_metadata(data.decode(), peer.cfg.fork_agent_channel)


async def _serve_call(sock: _Socket, peer: Peer, call: ForkCall, legs: list[Leg],
                      answers: _Answers) -> None:
    """Feed the legs until the fork ends, end them as it ended; after a graceful shutdown,
    answer the call's last alerts and close."""
    cut, reason = True, "the connection broke off"
    try:
        reason = await _stream(sock, peer, call, legs)
        cut = False
    except asyncio.CancelledError:
        reason = "the tap server stopped"
        raise
    except Exception as exc:
        reason = str(exc)
        raise
    finally:
        for leg in legs:
            leg.end(cut=cut, reason=reason)
    if reason == "graceful shutdown":
        owner = legs[0].call
        while not answers.stored.is_set() and not owner.finished:
            await asyncio.sleep(_END_POLL_S)
        sock.close(CloseCode.NORMAL_CLOSURE, "call stored")


async def _stream(sock: _Socket, peer: Peer, call: ForkCall, legs: list[Leg]) -> str:
    """Push every binary frame's audio to the legs, 20 ms at a time (held back while the
    call's inbox is full); how the fork ended."""
    while True:
        message = await sock.message()
        if message is None:
            return "WebSocket closed"
        kind, data = message
        if kind is Opcode.TEXT:
            continue  # DTMF, send_text, playDone: nothing the tap uses
        if not data:
            return "graceful shutdown"
        for piece in pieces(data, call):
            await peer.room(legs[0])
            for leg, pcm in zip(legs, piece, strict=True):
                leg.push(call.rate_hz, pcm)


__all__ = ["PROTOCOL", "serve_fork"]
