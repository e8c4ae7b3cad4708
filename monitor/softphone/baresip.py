"""What baresip 1.0.0's ``ctrl_tcp`` messages mean for a call, as observed from the real
program (docs in the README, shapes in tests/softphone/test_baresip.py):

* events: ``{"event": true, "class": "call", "type": "CALL_INCOMING", "direction":
  "incoming", "peeruri": ..., "id": ..., "param": ...}``; ``CALL_ESTABLISHED`` is the answer,
  ``CALL_CLOSED`` the end, its ``param`` saying who ended it: "Connection reset by peer" (the
  caller's BYE or CANCEL) or "Connection reset by user" (hung up here);
* there is no hold or resume event. A hold's re-INVITE shows as ``CALL_REMOTE_SDP`` (class
  "other") when the far end answers it, and the call's line in the ``listcalls`` command's
  answer says ``(on hold)``; so every SDP event is answered with a ``listcalls`` query;
* responses: ``{"response": true, "ok": true, "data": "...", "token": ...}``.

Only incoming calls are monitored: events of outgoing calls are passed over.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from monitor.frames import Channel
from monitor.softphone.netstring import encode

PhoneEventKind = Literal["incoming", "answered", "closed", "media", "listed"]

LISTCALLS_TOKEN = "callmonitor-listcalls"
"""The token of our own ``listcalls`` queries, to know their answers among others'."""

HANGUP_SIDES: dict[str, Channel] = {"Connection reset by peer": "customer",
                                    "Connection reset by user": "agent"}
"""CALL_CLOSED's ``param`` for a hang-up by either side (other reasons: a failure, unknown)."""

IGNORED = frozenset({
    "REGISTERING", "REGISTER_OK", "REGISTER_FAIL", "UNREGISTERING", "MWI_NOTIFY", "SHUTDOWN",
    "EXIT", "CALL_RINGING", "CALL_PROGRESS", "TRANSFER", "TRANSFER_FAILED", "CALL_DTMF_START",
    "CALL_DTMF_END", "CALL_RTPESTAB", "CALL_RTCP", "CALL_MENC", "VU_TX_REPORT", "VU_RX_REPORT",
    "AUDIO_ERROR"})
"""Events baresip 1.0.0 sends that say nothing about an incoming call's progress."""

_CALL_LINE = re.compile(r"\[line (\d+)\]\s+\S+\s+([A-Z]+)\s+(\(on hold\))?\s*(\S+)\s*$")


class BaresipMessageError(ValueError):
    """A message that is not what ctrl_tcp sends: bad JSON, or a required key missing."""


@dataclass(frozen=True, slots=True)
class CallLine:
    """One call as ``listcalls`` lists it."""

    peer: str
    state: str
    on_hold: bool


@dataclass(frozen=True, slots=True)
class PhoneEvent:
    """What the softphone said, without time: the session stamps it when it reaches it.

    ``media``: the call's media were negotiated again (a hold or resume, perhaps), so its
    state is asked for; ``listed``: the answer, every call baresip has (``lines``).
    """

    kind: PhoneEventKind
    call: str = ""
    peer: str = ""
    by: Channel | None = None
    reason: str = ""
    lines: tuple[CallLine, ...] = ()


LISTCALLS = encode(json.dumps({"command": "listcalls", "token": LISTCALLS_TOKEN}).encode())
"""The query for the calls' states, framed for the wire."""


def translate(payload: bytes) -> PhoneEvent | None:
    """One ctrl_tcp message as a ``PhoneEvent``; None for what says nothing about an incoming
    call. Raises ``BaresipMessageError`` for what ctrl_tcp does not send; unknown event types
    raise it too, naming the type."""
    try:
        obj: Any = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BaresipMessageError(f"a message that is not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise BaresipMessageError("a message that is not a JSON object")
    if obj.get("event") is True:
        return _event(obj)
    if obj.get("response") is True:
        if obj.get("token") != LISTCALLS_TOKEN:
            return None
        data = obj.get("data")
        if not isinstance(data, str):
            raise BaresipMessageError('a listcalls answer without its "data" text')
        return PhoneEvent("listed", lines=parse_calls(data))
    raise BaresipMessageError('a message that is neither an event nor a response')


def _event(obj: dict[str, Any]) -> PhoneEvent | None:
    kind, call = obj.get("type"), obj.get("id")
    if not isinstance(kind, str):
        raise BaresipMessageError('an event without its "type"')
    if kind in IGNORED:
        return None
    if kind not in ("CALL_INCOMING", "CALL_ESTABLISHED", "CALL_CLOSED", "CALL_LOCAL_SDP",
                    "CALL_REMOTE_SDP"):
        raise BaresipMessageError(f"an unknown event type {kind!r}")
    if not isinstance(call, str) or not call:
        raise BaresipMessageError(f'a {kind} event without the call\'s "id"')
    if obj.get("direction") == "outgoing":
        return None
    peer = str(obj.get("peeruri", ""))
    if kind == "CALL_INCOMING":
        return PhoneEvent("incoming", call, peer)
    if kind == "CALL_ESTABLISHED":
        return PhoneEvent("answered", call, peer)
    if kind == "CALL_CLOSED":
        reason = str(obj.get("param", ""))
        return PhoneEvent("closed", call, peer, by=HANGUP_SIDES.get(reason), reason=reason)
    return PhoneEvent("media", call, peer)


def parse_calls(text: str) -> tuple[CallLine, ...]:
    """The calls of a ``listcalls`` answer: lines such as
    ``> [line 1]  0:00:02  ESTABLISHED  (on hold)  sip:customer@127.0.0.1:15070``."""
    lines = []
    for row in text.splitlines():
        match = _CALL_LINE.search(row)
        if match:
            lines.append(CallLine(match[4], match[2], match[3] is not None))
    return tuple(lines)
