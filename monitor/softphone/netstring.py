"""Netstring framing (``<length>:<payload>,``), as baresip's ``ctrl_tcp`` module frames every
JSON message it sends and takes.

TCP delivers bytes, not messages: a read may hold half a message or several. The reader keeps
what is left over and hands out whole payloads. A frame that breaks the format (no length, a
leading zero, no colon or comma where they belong, a length over the limit) cannot be told
from the next one, so what is buffered is dropped and framing starts again with the next read:
baresip writes each message in one send, so a read usually starts a message.
"""

from __future__ import annotations

MAX_DIGITS = 9
"""The length field's width in baresip's netstring code (lengths up to 999999999)."""


class NetstringError(ValueError):
    """A frame that breaks the format; its payload is lost."""


def encode(payload: bytes) -> bytes:
    """``payload`` as one netstring."""
    return b"%d:%s," % (len(payload), payload)


class NetstringReader:
    """Whole payloads out of a byte stream read in pieces; ``max_bytes`` bounds one payload
    (and so the memory a peer that never finishes a frame can take)."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes | NetstringError]:
        """The payloads completed by ``data``, in order, with an error in place of each frame
        that broke the format."""
        self._buffer += data
        out: list[bytes | NetstringError] = []
        while self._buffer:
            try:
                payload = self._next()
            except NetstringError as exc:
                self._buffer.clear()
                out.append(exc)
                break
            if payload is None:
                break
            out.append(payload)
        return out

    def _next(self) -> bytes | None:
        """The first whole payload in the buffer (taken out of it), None if it is not all
        there yet."""
        buf = self._buffer
        colon = buf.find(b":", 0, MAX_DIGITS + 1)
        digits = bytes(buf[:colon]) if colon >= 0 else bytes(buf[:MAX_DIGITS + 1])
        if not digits.isdigit() and digits:
            raise NetstringError(f"no length at the start of a frame ({_show(digits)})")
        if colon < 0:
            if len(digits) > MAX_DIGITS:
                raise NetstringError(f"no colon after a length of {MAX_DIGITS} digits")
            return None
        if not digits:
            raise NetstringError("a frame without a length")
        if len(digits) > 1 and digits.startswith(b"0"):
            raise NetstringError(f"a length with a leading zero ({_show(digits)})")
        length = int(digits)
        if length > self._max:
            raise NetstringError(f"a frame of {length} bytes, over the limit of {self._max}")
        end = colon + 1 + length
        if len(buf) <= end:
            return None
        if buf[end] != ord(","):
            raise NetstringError(f"a frame of {length} bytes not ended by a comma")
        payload = bytes(buf[colon + 1:end])
        del buf[:end + 1]
        return payload


def _show(data: bytes) -> str:
    return repr(data[:20])[2:-1]
