"""Real-time pacing for a recorded source: frames come out no faster than the audio plays.

Used by ``replay --realtime`` to rehearse the live path (whispers, console) on a recording.
Only the release of frames waits on the wall clock; their times stay audio times.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from monitor.frames import FRAME_S, Frame
from monitor.sources.base import Source


class Paced(Source):
    def __init__(self, inner: Source) -> None:
        self._inner = inner
        self.channels = inner.channels

    def frames(self) -> Iterator[tuple[Frame, ...]]:
        started = time.monotonic()
        for frames in self._inner.frames():
            due = started + frames[0].t + FRAME_S
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            yield frames

    def describe(self) -> str:
        return self._inner.describe() + " (paced in real time)"
