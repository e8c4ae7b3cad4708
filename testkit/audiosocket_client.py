"""An Asterisk AudioSocket client written from the published wire format (docs/tap.md), as
Asterisk's ``AudioSocket(uuid,host:port)`` behaves: it connects, sends the call's UUID, then
the channel's audio as 20 ms messages of 16-bit 8 kHz PCM, and hangs up. The tests and
``scripts/bench_tap.py`` play calls into ``callmonitor tap`` with it; its faults (a bad
header, a drop mid-message ...) are made with ``raw``.
"""

from __future__ import annotations

import socket
import struct
import time
import uuid
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

KIND_HANGUP, KIND_UUID, KIND_SLIN_8K = 0x00, 0x01, 0x10
RATE_HZ = 8000
MESSAGE_SAMPLES = 160  # 20 ms at 8 kHz: what Asterisk sends a message


def message(kind: int, payload: bytes = b"") -> bytes:
    """Kind (1 byte), payload length (16-bit big-endian), payload."""
    return struct.pack(">BH", kind, len(payload)) + payload


def uuid_message(call_id: str) -> bytes:
    return message(KIND_UUID, uuid.UUID(call_id).bytes)


def audio_messages(pcm: np.ndarray, samples: int = MESSAGE_SAMPLES) -> Iterator[bytes]:
    """int16 mono samples as audio messages of ``samples`` each (the last may be short)."""
    data = pcm.astype("<i2").tobytes()
    step = 2 * samples
    for at in range(0, len(data), step):
        yield message(KIND_SLIN_8K, data[at:at + step])


def read_stereo_8k(path: Path) -> np.ndarray:
    """An 8 kHz 16-bit WAV as (samples, channels) int16."""
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == RATE_HZ and w.getsampwidth() == 2, path
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        return pcm.reshape(-1, w.getnchannels())


class Leg:
    """One AudioSocket connection (one side of a call)."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=10)

    def raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self, reset: bool = False) -> None:
        """Close the socket; ``reset`` drops it with a TCP reset, as a crashed peer may."""
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def play_call(agent_port: int, customer_port: int, stereo: np.ndarray, call_id: str,
              pace: float | None = None, hangup: bool = True) -> None:
    """Both legs of one call, agent (column 0) and customer (column 1), their messages
    interleaved as Asterisk's two channels would send them; ``pace`` 1.0 is real time,
    None as fast as the sockets take it."""
    legs = [Leg(agent_port), Leg(customer_port)]
    for leg in legs:
        leg.raw(uuid_message(call_id))
    streams = [list(audio_messages(stereo[:, i])) for i in range(2)]
    start = time.monotonic()
    for n, pair in enumerate(zip(*streams, strict=True)):
        if pace is not None:
            time.sleep(max(0.0, start + n * MESSAGE_SAMPLES / RATE_HZ / pace - time.monotonic()))
        for leg, data in zip(legs, pair, strict=True):
            leg.raw(data)
    for leg in legs:
        if hangup:
            leg.raw(message(KIND_HANGUP))
        leg.close()
