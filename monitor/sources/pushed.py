"""Audio pushed by the network (a PBX's audio fork), per channel, as frames.

The server's connections put what they receive into the call's bounded ``inbox`` and never
wait; the session's thread takes it out here. Audio time is the count of samples received, so
a burst faster than real time is analysed as fast as it comes and a replay of the same audio
gives the same timeline. Each side's audio is resampled to 16 kHz with the recordings'
``Resampler``, the same way a recording of the call would be.

The sides arrive on separate connections, so one may lag: a step the other side has audio for
waits for it at most ``lag_wait_s`` (wall clock), then the lagging side is padded with silence
(``padded_s`` in the summary) so the other side's alerts are not held back. A side whose leg
has ended is silence from then on; the frames end when every leg has.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE_HZ, Channel, Frame
from monitor.pcm import PCM_DTYPE, float_to_int16, int16_to_float
from monitor.sources.base import Source
from monitor.sources.recorded import Resampler


@dataclass(frozen=True, slots=True)
class Chunk:
    """Audio of one side as it came off the wire: int16 little-endian at ``rate_hz``."""

    channel: Channel
    rate_hz: int
    pcm: bytes


@dataclass(frozen=True, slots=True)
class LegEnd:
    """One side's leg is over: ``cut`` if it broke off (dropped, stalled, a protocol error,
    the server shutting down) rather than hung up; ``reason`` in words, for the summary."""

    channel: Channel
    cut: bool
    reason: str


Pushed = Chunk | LegEnd


@dataclass
class _Side:
    """What one channel has received and not yet made into frames."""

    pending: np.ndarray
    resampler: Resampler | None = None
    rate_hz: int | None = None
    received: int = 0  # samples at rate_hz
    padded: int = 0  # 16 kHz samples of silence put in while it lagged
    end: LegEnd | None = None


class PushedSource(Source):
    """Frames from the chunks in ``inbox``; ``on_cut`` is called after the last frame when a
    leg broke off, so the session ends as ``interrupted`` with everything received."""

    def __init__(self, name: str, channels: tuple[Channel, ...], inbox: queue.Queue[Pushed],
                 lag_wait_s: float, on_cut: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.channels = channels
        self._name = name
        self._inbox = inbox
        self._lag_wait_s = lag_wait_s
        self._on_cut = on_cut
        self._clock = clock
        self._sides = {c: _Side(np.zeros(0, PCM_DTYPE)) for c in channels}
        self._lagging_since: float | None = None
        self._step = 0

    def describe(self) -> str:
        return self._name

    def wait_for_audio(self) -> bool:
        """Take chunks until some audio came (True) or every leg ended without any."""
        while not any(s.received for s in self._sides.values()):
            if self._ended():
                return False
            self._take(None)
        return True

    def frames(self) -> Iterator[tuple[Frame, ...]]:
        while True:
            step = self._ready_step()
            if step is not None:
                yield step
            elif self._ended():
                break
            else:
                self._take(self._wait_s())
        if any(s.end is not None and s.end.cut for s in self._sides.values()):
            self._on_cut()

    def summary(self) -> dict[str, Any]:
        return {"tap": {"channels": {c: self._side_summary(s) for c, s in self._sides.items()}}}

    @staticmethod
    def _side_summary(side: _Side) -> dict[str, Any]:
        rate = side.rate_hz or SAMPLE_RATE_HZ
        return {"rate_hz": side.rate_hz, "received_s": round(side.received / rate, 3),
                "padded_s": round(side.padded / SAMPLE_RATE_HZ, 3),
                "end": side.end.reason if side.end else None}

    def _ended(self) -> bool:
        return all(s.end is not None for s in self._sides.values())

    def _wait_s(self) -> float | None:
        """How long to wait for the next chunk: while a side has a frame the others lack,
        until their wait runs out; else until something comes."""
        if self._lagging_since is None or not self._ahead():
            return None
        return max(0.0, self._lagging_since + self._lag_wait_s - self._clock())

    def _ahead(self) -> bool:
        return any(len(s.pending) >= FRAME_SAMPLES for s in self._sides.values())

    def _take(self, timeout: float | None) -> None:
        """One item from the inbox into its side (or nothing, if the wait ran out)."""
        try:
            item = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return
        side = self._sides[item.channel]
        if isinstance(item, LegEnd):
            side.end = side.end or item
            if side.resampler is not None:
                self._append(side, side.resampler.push(np.zeros(0, np.float32), last=True))
            return
        if side.rate_hz is None:
            side.rate_hz, side.resampler = item.rate_hz, Resampler(item.rate_hz)
        assert side.resampler is not None and item.rate_hz == side.rate_hz
        samples = int16_to_float(np.frombuffer(item.pcm, PCM_DTYPE))
        side.received += len(samples)
        self._append(side, side.resampler.push(samples))

    @staticmethod
    def _append(side: _Side, samples: np.ndarray) -> None:
        side.pending = np.concatenate((side.pending, float_to_int16(samples)))

    def _ready_step(self) -> tuple[Frame, ...] | None:
        """The next step if every side that is still on has a frame for it, or if the sides
        without one have been waited for long enough (they are padded until they are back)."""
        sides = self._sides.values()
        waiting = [s for s in sides if s.end is None and len(s.pending) < FRAME_SAMPLES]
        if not waiting:
            self._lagging_since = None
            return self._cut() if any(len(s.pending) for s in sides) else None
        if not self._ahead():
            return None
        now = self._clock()
        if self._lagging_since is None:
            self._lagging_since = now
        if now - self._lagging_since < self._lag_wait_s:
            return None
        for side in waiting:
            side.padded += FRAME_SAMPLES - len(side.pending)
        return self._cut()

    def _cut(self) -> tuple[Frame, ...]:
        """The next step's frames, each side's short of a frame padded with silence."""
        frames = []
        for channel, side in self._sides.items():
            pcm = side.pending[:FRAME_SAMPLES]
            side.pending = side.pending[FRAME_SAMPLES:]
            if len(pcm) < FRAME_SAMPLES:
                pcm = np.pad(pcm, (0, FRAME_SAMPLES - len(pcm)))
            frames.append(Frame(channel, self._step * FRAME_S, pcm.tobytes()))
        self._step += 1
        return tuple(frames)


__all__ = ["Chunk", "LegEnd", "Pushed", "PushedSource"]
