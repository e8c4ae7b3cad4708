"""WebSocket audio forks, the wire format: FreeSWITCH ``mod_audio_fork`` and jambonz ``listen``
(pure, no sockets; docs/tap.md says which versions it was read from).

The PBX opens one WebSocket a call (subprotocol ``audio.drachtio.org``, or
``audio.jambonz.org`` as jambonz names it). Its first message is a text frame of metadata, a
JSON object: jambonz sends the call's attributes (``callSid``, ``from``, ``to``,
``direction`` ...) with ``sampleRate`` and ``mixType``; mod_audio_fork sends whatever text
the dialplan gave, so a site writes the same keys there. Then binary frames of 16-bit linear
PCM (little-endian, the media server's own order) at that rate: ``mono`` one channel (the
forked channel's own party), ``mixed`` one channel of both parties, ``stereo`` two channels
interleaved, the forked channel's party left and what it hears right. Later text frames
(DTMF, ``send_text``) carry nothing the tap uses; an empty binary frame is mod_audio_fork's
graceful shutdown (the end of the audio; the server answers what is left, then closes).

What goes back is a text frame of JSON with a ``type`` both forks know: ``json`` (the module
hands the whole message to the dialplan as a ``mod_audio_fork::json`` event; jambonz leaves it
to the application), so a PBX script can whisper an alert's ``say``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor.frames import Channel
from monitor.pcm import PCM_DTYPE
from monitor.tap.calls import CallSetup

SUBPROTOCOLS = ("audio.drachtio.org", "audio.jambonz.org")
"""mod_audio_fork's default subprotocol name, and the one jambonz's listen verb asks for."""
RATES_HZ = (8000, 16000)
MIX_TYPES = ("mono", "mixed", "stereo")
SIDES = ("left", "right")
PIECE_S = 0.02
"""Audio is queued for the session in 20 ms pieces, whatever the size of the fork's frames
(mod_audio_fork sends what it buffered, up to 5 s), so ``[tap] queue_messages`` keeps its
meaning: 20 ms each."""

CLOSE_UNSUPPORTED = 1003
"""RFC 6455's close codes the tap answers with: data of a kind it cannot take (a sample rate
or mix type it does not serve) ..."""
CLOSE_INVALID = 1007
"""... data that breaks its own type (metadata not JSON, audio not whole samples) ..."""
CLOSE_POLICY = 1008
"""... and the format's order broken (audio before the metadata, no call id)."""


class ForkError(ValueError):
    """The peer broke the format; the message says how (the one log line) and ``code`` is
    the WebSocket close code to answer with."""

    def __init__(self, problem: str, code: int) -> None:
        super().__init__(problem)
        self.code = code


@dataclass(frozen=True, slots=True)
class ForkCall:
    """What the metadata says of the call: its id, rate, mix type, and the call's channels in
    the order of the frames' interleaved columns (one for mono and mixed)."""

    call_id: str
    rate_hz: int
    mix: str
    columns: tuple[Channel, ...]
    setup: CallSetup


def parse_metadata(text: str, agent_channel: str) -> ForkCall:
    """The call a fork's first text frame describes; ``agent_channel`` ("left" or "right",
    ``[tap] fork_agent_channel``) unless the metadata's ``agentChannel`` says otherwise."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ForkError("metadata that is not JSON", CLOSE_INVALID) from None
    if not isinstance(data, dict):
        raise ForkError("metadata that is not a JSON object", CLOSE_INVALID)
    call_id = data.get("callSid")
    if not isinstance(call_id, str) or not call_id:
        raise ForkError('metadata without a "callSid" (the call id)', CLOSE_POLICY)
    rate = data.get("sampleRate")
    if type(rate) is not int or rate not in RATES_HZ:
        raise ForkError(f"sampleRate {rate!r}: only 8000 or 16000 are served", CLOSE_UNSUPPORTED)
    mix = data.get("mixType")
    if mix not in MIX_TYPES:
        raise ForkError(f"mixType {mix!r}: mono, mixed or stereo", CLOSE_UNSUPPORTED)
    agent = data.get("agentChannel", agent_channel)
    if agent not in SIDES:
        raise ForkError(f"agentChannel {agent!r}: left or right", CLOSE_UNSUPPORTED)
    sides: tuple[Channel, Channel] = (("agent", "customer") if agent == "left"
                                      else ("customer", "agent"))
    columns = {"stereo": sides, "mono": sides[:1], "mixed": ("agent",)}[mix]
    setup = CallSetup(agent_name=_name(data, "agentName"), company=_name(data, "company"),
                      mixed=mix == "mixed")
    return ForkCall(call_id, rate, mix, columns, setup)


def _name(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ForkError(f"{key} {value!r} is not a string", CLOSE_INVALID)
    return value or None


def pieces(frame: bytes, call: ForkCall) -> Iterator[tuple[bytes, ...]]:
    """A binary frame's audio in 20 ms pieces, one ``bytes`` per column (the last piece may be
    short); a frame that is not whole samples of every column is refused."""
    width = 2 * len(call.columns)
    if len(frame) % width:
        raise ForkError(f"a binary frame of {len(frame)} bytes, not whole 16-bit "
                        f"{call.mix} samples", CLOSE_INVALID)
    samples = np.frombuffer(frame, PCM_DTYPE).reshape(-1, len(call.columns))
    step = round(call.rate_hz * PIECE_S)
    for at in range(0, len(samples), step):
        piece = samples[at:at + step]
        yield tuple(piece[:, column].tobytes() for column in range(len(call.columns)))


def alert_message(call_id: str, alert: dict[str, Any]) -> str:
    """An alert record as the text frame sent back: ``type`` ``json``, the alert in ``data``
    (its rule, audio time ``t``, severity, the supervisor's ``message`` and the agent's
    ``say``)."""
    data = {"event": "callmonitor.alert", "callSid": call_id,
            **{key: alert[key] for key in ("rule", "t", "severity", "message", "say")}}
    return json.dumps({"type": "json", "data": data}, ensure_ascii=False)


__all__ = ["CLOSE_INVALID", "CLOSE_POLICY", "CLOSE_UNSUPPORTED", "MIX_TYPES", "RATES_HZ",
           "SUBPROTOCOLS", "ForkCall", "ForkError", "alert_message", "parse_metadata",
           "pieces"]
