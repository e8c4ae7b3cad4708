"""WebSocket audio fork clients written from the published wire formats (docs/tap.md), as
FreeSWITCH's ``mod_audio_fork`` and jambonz's ``listen`` verb behave: open a WebSocket with
their subprotocol, send one text frame of metadata, then binary frames of 16-bit PCM
(interleaved left/right for stereo), and end with a close or, as mod_audio_fork's
``graceful-shutdown`` does, an empty binary frame after which they read the server's last
messages until it closes. The tests play synthesised calls into ``callmonitor tap`` with them;
faults (audio first, odd frames, a drop) go through ``send`` and ``drop``.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

DRACHTIO = "audio.drachtio.org"
JAMBONZ = "audio.jambonz.org"


def mod_audio_fork_metadata(call_id: str, rate_hz: int, mix: str, **extra: Any) -> dict[str, Any]:
    """The JSON a site's dialplan gives ``uuid_audio_fork <uuid> start <url> <mix> <rate>``:
    the module sends it as is, so it carries the keys the tap reads."""
    return {"callSid": call_id, "sampleRate": rate_hz, "mixType": mix, **extra}


def jambonz_metadata(call_id: str, rate_hz: int, mix: str, **extra: Any) -> dict[str, Any]:
    """What jambonz's listen verb sends first: sampleRate and mixType, the call's attributes
    (as on its webhooks), then the verb's own ``metadata`` keys (``extra``)."""
    return {"sampleRate": rate_hz, "mixType": mix, "callSid": call_id, "direction": "inbound",
            "from": "+8613800000000", "to": "+8610950000", "callId": f"{call_id}@sip",
            "callStatus": "in-progress", "sipStatus": 200, "accountSid": "a1",
            "applicationSid": "b2", **extra}


class Fork:
    """One fork: a WebSocket to the tap with its metadata sent (``metadata`` None: none)."""

    def __init__(self, port: int, metadata: dict[str, Any] | str | None,
                 subprotocol: str = DRACHTIO) -> None:
        self.ws: ClientConnection = connect(f"ws://127.0.0.1:{port}/", open_timeout=10,
                                            subprotocols=[subprotocol],  # type: ignore[list-item]
                                            max_size=None, ping_interval=None, legacy=True)
        if metadata is not None:
            self.ws.send(metadata if isinstance(metadata, str) else json.dumps(metadata))

    def send(self, data: bytes | str | dict[str, Any]) -> None:
        """One frame: bytes a binary one, text (a dict as JSON) a text one."""
        self.ws.send(json.dumps(data) if isinstance(data, dict) else data)

    def audio(self, pcm: np.ndarray, rate_hz: int, frame_s: float = 0.02) -> None:
        """(samples, channels) int16 as binary frames of ``frame_s`` each, channels
        interleaved, as fast as the socket takes them."""
        step = round(rate_hz * frame_s)
        data = np.ascontiguousarray(pcm, "<i2")
        for at in range(0, len(data), step):
            self.ws.send(data[at:at + step].tobytes())

    def received(self, timeout_s: float = 60) -> list[dict[str, Any]]:
        """The server's text frames (JSON) until it closes."""
        out = []
        try:
            while True:
                out.append(json.loads(self.ws.recv(timeout_s)))
        except ConnectionClosed:
            return out

    def graceful_shutdown(self, timeout_s: float = 60) -> list[dict[str, Any]]:
        """mod_audio_fork's end that waits for the server: an empty binary frame, then what
        the server sends until it closes."""
        self.ws.send(b"")
        return self.received(timeout_s)

    def close(self) -> None:
        self.ws.close()

    def drop(self) -> None:
        """End the TCP connection without a WebSocket close, as the system does for a media
        server that crashed (what was sent is still delivered)."""
        self.ws.socket.shutdown(socket.SHUT_RDWR)
        self.ws.close_socket()
