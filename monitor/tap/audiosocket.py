"""Asterisk AudioSocket, the wire format: pure, no sockets (docs/tap.md says which version).

Every message is a 3-byte header (kind, payload length as a 16-bit big-endian integer) and its
payload. Asterisk opens one TCP connection per ``AudioSocket()`` leg, sends the call's UUID
first (kind 0x01, 16 bytes), then the channel's audio (kind 0x10: signed linear 16-bit
little-endian, 8 kHz, mono; Asterisk 20.x-23.x also define 0x11-0x18 for 12 to 192 kHz), and
ends with a hangup (0x00) or just by closing the socket; 0xff carries an error code (Asterisk's
are bit flags: 0x01 hangup of the calling party, 0x02 frame forwarding, 0x04 memory). DTMF
(0x03, one ASCII digit) is allowed and has no use here.

``LegReader`` checks a connection's messages in order and says what each means for the call;
anything the format does not allow is a ``ProtocolError``, which ends the connection (after
a malformed header the stream cannot be resynchronised).
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

HEADER = struct.Struct(">BH")
HEADER_BYTES = HEADER.size

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_ERROR = 0xFF
SLIN_RATES_HZ: dict[int, int] = {0x10: 8000, 0x11: 12000, 0x12: 16000, 0x13: 24000,
                                 0x14: 32000, 0x15: 44100, 0x16: 48000, 0x17: 96000,
                                 0x18: 192000}
"""Audio kinds and their sample rates: 0x10 (8 kHz) is what ``AudioSocket()`` sends."""
KIND_SLIN_8K = 0x10
UUID_BYTES = 16
ERROR_HANGUP = 0x01
"""Asterisk's error flag for the calling party's hangup: the call ended, not a fault."""


class ProtocolError(ValueError):
    """The peer broke the format; the message says how, for the one log line."""


def parse_header(header: bytes, max_payload: int) -> tuple[int, int]:
    """(kind, payload length) of a 3-byte header; a kind the format has no meaning for, or a
    payload over ``max_payload`` bytes, is refused before the payload is read."""
    kind, length = HEADER.unpack(header)
    if kind not in SLIN_RATES_HZ and kind not in (KIND_HANGUP, KIND_UUID, KIND_DTMF,
                                                   KIND_ERROR):
        raise ProtocolError(f"unknown message kind 0x{kind:02x}")
    if length > max_payload:
        raise ProtocolError(f"payload of {length} bytes over the limit of {max_payload} "
                            "([tap] max_payload_bytes)")
    return kind, length


def encode(kind: int, payload: bytes = b"") -> bytes:
    """One message, as a peer sends it (the test client's and any reply's encoder)."""
    return HEADER.pack(kind, len(payload)) + payload


@dataclass(frozen=True, slots=True)
class Identified:
    """The leg's call: the UUID Asterisk was given (``AudioSocket(uuid,host:port)``)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class Audio:
    """Samples of the leg's side: int16 little-endian mono at ``rate_hz``."""

    rate_hz: int
    pcm: bytes


@dataclass(frozen=True, slots=True)
class Ended:
    """The leg is over: ``hangup`` (0x00, or Asterisk's hangup error) or ``error`` (any other
    error code, which ``detail`` names)."""

    how: str
    detail: str = ""


Event = Identified | Audio | Ended | None
"""What one message means; None: nothing for the call (DTMF)."""


class LegReader:
    """The order a leg's messages must come in: the UUID first and once, audio of one rate
    in whole samples, nothing after the end."""

    def __init__(self) -> None:
        self.call_id: str | None = None
        self.rate_hz: int | None = None

    def read(self, kind: int, payload: bytes) -> Event:
        if kind == KIND_UUID:
            return self._identify(payload)
        if kind == KIND_HANGUP:
            return Ended("hangup")
        if kind == KIND_ERROR:
            code = payload[0] if payload else 0
            if code & ERROR_HANGUP:
                return Ended("hangup", f"error code 0x{code:02x}")
            return Ended("error", f"error code 0x{code:02x}" if payload else "no error code")
        if kind == KIND_DTMF:
            return None
        return self._audio(SLIN_RATES_HZ[kind], payload)

    def _identify(self, payload: bytes) -> Identified:
        if self.call_id is not None:
            raise ProtocolError("a second UUID message")
        if len(payload) != UUID_BYTES:
            raise ProtocolError(f"a UUID of {len(payload)} bytes, not {UUID_BYTES}")
        self.call_id = str(uuid.UUID(bytes=payload))
        return Identified(self.call_id)

    def _audio(self, rate_hz: int, pcm: bytes) -> Audio:
        if self.call_id is None:
            raise ProtocolError("audio before the UUID")
        if len(pcm) % 2:
            raise ProtocolError(f"audio of {len(pcm)} bytes, not whole 16-bit samples")
        if self.rate_hz is not None and rate_hz != self.rate_hz:
            raise ProtocolError(f"audio at {rate_hz} Hz after {self.rate_hz} Hz")
        self.rate_hz = rate_hz
        return Audio(rate_hz, pcm)


__all__ = ["HEADER_BYTES", "KIND_ERROR", "KIND_HANGUP", "KIND_SLIN_8K", "KIND_UUID",
           "SLIN_RATES_HZ", "Audio", "Ended", "Event", "Identified", "LegReader",
           "ProtocolError", "encode", "parse_header"]
