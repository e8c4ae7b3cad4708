"""What the softphone or PBX says about the call: rings, answer, hold, resume, hang-up.

Audio alone has to guess these (ringback cadence, an announced silence); a softphone knows
them. They arrive as JSON lines, one event per line, stamped in the call's audio time (seconds
from the start of the recording or of the live session):

    {"t": 2.0, "event": "ring"}
    {"t": 14.1, "event": "answer"}
    {"t": 40.2, "event": "hold", "transfer": false}
    {"t": 61.0, "event": "resume"}
    {"t": 95.3, "event": "hangup", "by": "customer"}

A PBX log of another shape is converted to this one by a line of jq, not by new code here.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, cast, get_args, runtime_checkable

from monitor.errors import CallmonitorError
from monitor.frames import CHANNELS, CallEvent, CallEventKind

_FIX = ('write one JSON object per line, e.g. {"t": 2.0, "event": "ring"}; events: '
        + ", ".join(get_args(CallEventKind)))


@runtime_checkable
class CallEventFeed(Protocol):
    """Where a session takes the softphone's events from, polled at every 20 ms step: a file
    known in advance (replay) or a softphone reporting as the call goes (live). Every event
    comes stamped in audio time."""

    @property
    def ended(self) -> bool:
        """The call is over (the softphone said so): the session ends after this step."""
        ...

    def poll(self, t: float) -> list[CallEvent]:
        """The events due before audio time ``t`` (the end of the step), in time order."""
        ...

    def rest(self, t: float) -> list[CallEvent]:
        """Everything still to come when the audio ended at ``t``."""
        ...

    def summary(self) -> dict[str, Any]:
        """What the feed adds to the session's summary (live: who ended the call)."""
        ...


class EventList:
    """Events known in advance (a ``--call-events`` file): each is due at its own time."""

    ended = False

    def __init__(self, events: Iterable[CallEvent]) -> None:
        self._events = deque(sorted(events, key=lambda ev: ev.t))

    def poll(self, t: float) -> list[CallEvent]:
        due = []
        while self._events and self._events[0].t < t:
            due.append(self._events.popleft())
        return due

    def rest(self, t: float) -> list[CallEvent]:
        """Those after the recording's end too: a hang-up logged after the audio stopped."""
        left, self._events = list(self._events), deque()
        return left

    def summary(self) -> dict[str, Any]:
        return {}


def read_call_events(path: Path) -> list[CallEvent]:
    """Every event of a JSON-lines file, in time order."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CallmonitorError(f"call events file {path} not found",
                               "check the path given to --call-events") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CallmonitorError(f"cannot read call events file {path} ({exc})", _FIX) from None
    return parse_call_events(text.splitlines(), str(path))


def parse_call_events(lines: Iterable[str], origin: str) -> list[CallEvent]:
    """Parse JSON lines (blank lines skipped); ``origin`` names them in errors."""
    events = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            events.append(_parse(line, f"{origin} line {number}"))
    return sorted(events, key=lambda ev: ev.t)


def _parse(line: str, where: str) -> CallEvent:
    try:
        obj: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CallmonitorError(f"{where} is not JSON ({exc.msg})", _FIX) from None
    if not isinstance(obj, dict):
        raise CallmonitorError(f"{where} is not a JSON object", _FIX)
    t, kind, by, transfer = obj.get("t"), obj.get("event"), obj.get("by"), obj.get("transfer")
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
        raise CallmonitorError(f"{where} has no valid time \"t\" (seconds >= 0)", _FIX)
    if kind not in get_args(CallEventKind):
        raise CallmonitorError(f"{where} has an unknown event {kind!r}", _FIX)
    if by is not None and (kind != "hangup" or by not in CHANNELS):
        raise CallmonitorError(f'{where}: "by" is for hangup only, and is agent or customer',
                               _FIX)
    if transfer is not None and (kind != "hold" or not isinstance(transfer, bool)):
        raise CallmonitorError(f'{where}: "transfer" is for hold only, and is true or false',
                               _FIX)
    return CallEvent(float(t), cast(CallEventKind, kind), by=by, transfer=bool(transfer))
