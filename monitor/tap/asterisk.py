"""An Asterisk AudioSocket connection as one leg of a call: reads the wire format
(``monitor.tap.audiosocket``) off the peer and feeds the leg of its listener's side.

How a leg ends decides how its side of the call ends: a hangup (0x00, Asterisk's hangup error)
or the socket closed between messages (which the format allows as the end) is the call's end;
anything else (an error code, a protocol error, a drop mid-message, a stalled peer, the server
stopping) cuts it off, and the session ends as ``interrupted`` with everything received.
"""

from __future__ import annotations

import asyncio
import logging

from monitor.tap.audiosocket import (
    HEADER_BYTES,
    Audio,
    Ended,
    Identified,
    LegReader,
    parse_header,
)
from monitor.tap.calls import Leg
from monitor.tap.server import Peer

PROTOCOL = "audiosocket"
log = logging.getLogger("callmonitor.tap")


async def serve_leg(peer: Peer) -> None:
    """Read the connection to its end; its leg (once the UUID came) ends with it."""
    reader = LegReader()
    leg: Leg | None = None
    end = Ended("error", "the connection broke off")
    try:
        while True:
            header = await peer.read_next(HEADER_BYTES)
            if header is None:
                end = Ended("hangup", "connection closed")
                break
            kind, length = parse_header(header, peer.cfg.max_payload_bytes)
            payload = await peer.read(length) if length else b""
            event = reader.read(kind, payload)
            if isinstance(event, Identified):
                leg = peer.calls.leg(event.call_id, peer.side, PROTOCOL)
            elif isinstance(event, Audio):
                assert leg is not None  # the reader refuses audio before the UUID
                await peer.room(leg)
                leg.push(event.rate_hz, event.pcm)
            elif isinstance(event, Ended):
                end = event
                break
    except asyncio.CancelledError:
        end = Ended("error", "the tap server stopped")
        raise
    except Exception as exc:
        end = Ended("error", str(exc))
        raise
    finally:
        _finish(peer, leg, end)


def _finish(peer: Peer, leg: Leg | None, end: Ended) -> None:
    """End the leg as the connection ended; say so where it was not a hangup."""
    reason = end.detail or end.how
    if leg is None:
        if end.how == "hangup":
            log.warning("%s: closed before it named its call (no UUID)", peer.name)
        return
    leg.end(cut=end.how != "hangup", reason=reason)
    if end.how == "error" and end.detail.startswith("error code"):
        log.warning("%s: call %s: the peer sent an %s; the leg ends", peer.name,
                    leg.call.call_id, end.detail)


__all__ = ["PROTOCOL", "serve_leg"]
