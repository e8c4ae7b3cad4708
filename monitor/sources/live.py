"""Live audio: the agent's microphone and the customer's side, from sound devices, as frames.

Audio time is the count of samples captured, so the rules see the same clock as on a replay.
Each device is captured by a sounddevice callback that must never block: it hands its block
to a bounded queue, and a full queue (the pipeline fell behind) is counted as an overrun and
the lost samples are replaced by silence, so the two channels stay aligned.

A device that disappears mid-call (a headset unplugged, a softphone restarted) ends nothing:
its channel is silence while it is gone, a ``device`` record marks the gap, and the device is
reopened when it comes back. A device is gone when PulseAudio no longer lists it or when it
has delivered nothing for ``device_timeout_s``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor import devices
from monitor.config import LiveConfig
from monitor.errors import CallmonitorError
from monitor.frames import (
    FRAME_S,
    FRAME_SAMPLES,
    SAMPLE_RATE_HZ,
    Channel,
    DeviceNotice,
    Frame,
)
from monitor.pcm import PCM_DTYPE, float_to_int16
from monitor.sources.base import Source


@dataclass
class DeviceInput:
    """One capture device and which channel each of its channels carries."""

    name: str
    channels: dict[Channel, int]  # call channel -> device channel index
    stream: Any = None
    last_block: float = 0.0  # wall clock of the last block received
    lost_at: float | None = None  # audio time the device went missing
    dropped: int = 0  # samples lost to overruns since the last block queued (callback's own)


class LiveSource(Source):
    """Frames from one device per channel, or from one stereo device."""

    def __init__(self, inputs: list[DeviceInput], cfg: LiveConfig,
                 watch: devices.DeviceWatch) -> None:
        self.channels = tuple(c for i in inputs for c in i.channels)
        self._inputs = inputs
        self._cfg = cfg
        self._watch_devices = watch
        self._block = SAMPLE_RATE_HZ * cfg.block_ms // 1000
        # (device index, samples lost just before the block, the block)
        self._queue: queue.Queue[tuple[int, int, np.ndarray]] = queue.Queue(
            maxsize=max(1, round(cfg.queue_s * 1000 / cfg.block_ms)) * len(inputs))
        self._buffers: dict[Channel, list[np.ndarray]] = {c: [] for c in self.channels}
        self._buffered: dict[Channel, int] = {c: 0 for c in self.channels}
        self._notices: list[DeviceNotice] = []
        self._gaps: list[dict[str, Any]] = []
        self.overruns = 0
        """Blocks the pipeline could not take in time (their audio became silence)."""
        self.device_overflows = 0
        """Times the device itself dropped audio before it reached us (PortAudio's input
        overflow: the machine was too busy to read it); that audio is lost, and with it a
        little of the alignment between the two sides."""
        self._t = 0.0
        self._clock: float | None = None  # wall clock of the last look for frames
        self._stop = threading.Event()

    def describe(self) -> str:
        return "live: " + "; ".join(
            f"{'+'.join(i.channels)} from {i.name}" for i in self._inputs)

    def start(self) -> None:
        """Open every device now, so a wrong name fails before a session is stored; audio
        time starts here (the queue holds what comes before the first frame is asked for)."""
        for index, device in enumerate(self._inputs):
            if device.stream is None:
                self._open(index, device)

    def stop(self) -> None:
        """End the session at the next frame, as Ctrl-C does (safe from a signal handler).

        The CLI's Ctrl-C handler calls this instead of letting Python raise KeyboardInterrupt
        wherever the main thread happens to be: raised inside a finaliser (a stream or buffer
        being freed), the exception is swallowed and the session runs on (seen once in some
        thirty runs of the live bench).
        """
        self._stop.set()

    def frames(self) -> Iterator[tuple[Frame, ...]]:
        self.start()
        last_watch = time.monotonic()
        try:
            while True:
                if self._stop.is_set():
                    raise KeyboardInterrupt
                self._receive()
                now = time.monotonic()
                if now - last_watch >= self._cfg.watch_s:
                    last_watch = now
                    self._watch(now)
                yield from self._ready_frames(now)
        finally:
            self.close()

    def close(self) -> None:
        """Close every device: after the frames, or a source opened only to check that its
        devices open (``live --softphone`` at start-up, long before the first call)."""
        for device in self._inputs:
            self._close(device)

    def notices(self) -> list[DeviceNotice]:
        out, self._notices = self._notices, []
        return out

    def summary(self) -> dict[str, Any]:
        return {"overruns": self.overruns, "device_overflows": self.device_overflows,
                "device_gaps": self._gaps}

    # -- capture (the callback runs on PortAudio's thread) --------------------------------

    def _open(self, index: int, device: DeviceInput) -> None:
        width = max(device.channels.values()) + 1
        device.dropped = 0  # a gap before a stream's loss is covered by the lost device's silence
        device.stream = devices.open_stream(device.name, "input", SAMPLE_RATE_HZ, width,
                                            self._block, self._capture(index, device))
        device.last_block = time.monotonic()

    def _capture(self, index: int, device: DeviceInput) -> Callable[..., None]:
        """The stream's callback: it never waits (``put_nowait``). A block that finds the queue
        full is dropped and counted, and the next block that gets in carries how many samples
        were lost just before it, so the silence that replaces them takes their place in time,
        after the blocks already queued."""

        def callback(indata: np.ndarray, frames: int, _time: Any, status: Any) -> None:
            if status.input_overflow:
                self.device_overflows += 1
            try:
                self._queue.put_nowait((index, device.dropped, indata.copy()))
            except queue.Full:
                device.dropped += frames
                self.overruns += 1
            else:
                device.dropped = 0

        return callback

    def _close(self, device: DeviceInput) -> None:
        if device.stream is not None:
            stream, device.stream = device.stream, None
            devices.close_stream(stream)

    # -- assembling frames ------------------------------------------------------------------

    def _receive(self) -> None:
        """Wait briefly for a block, then take every block that is there."""
        try:
            item: tuple[int, int, np.ndarray] | None = self._queue.get(timeout=FRAME_S)
        except queue.Empty:
            return
        while item is not None:
            index, silence, block = item
            device = self._inputs[index]
            device.last_block = time.monotonic()
            if device.lost_at is None:
                for channel, column in device.channels.items():
                    if silence:
                        self._append(channel, np.zeros(silence, dtype=PCM_DTYPE))
                    self._append(channel, float_to_int16(block[:, column]))
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                item = None

    def _append(self, channel: Channel, samples: np.ndarray) -> None:
        self._buffers[channel].append(samples)
        self._buffered[channel] += len(samples)

    def _ready_frames(self, now: float) -> Iterator[tuple[Frame, ...]]:
        """Frames every channel has audio for; a gone device's channels are padded with
        silence up to the others, or to the wall clock when every device is gone."""
        live = [c for d in self._inputs if d.lost_at is None for c in d.channels]
        target = max((self._buffered[c] for c in live), default=None)
        if target is None:
            since = now - (self._clock or now)
            target = min(self._buffered.values()) + round(since * SAMPLE_RATE_HZ)
        self._clock = now
        for device in self._inputs:
            if device.lost_at is not None:
                for c in device.channels:
                    if self._buffered[c] < target:
                        self._append(c, np.zeros(target - self._buffered[c], dtype=PCM_DTYPE))
        while all(n >= FRAME_SAMPLES for n in self._buffered.values()):
            t = round(self._t, 6)
            yield tuple(Frame(c, t, self._take(c)) for c in self.channels)
            self._t += FRAME_S

    def _take(self, channel: Channel) -> bytes:
        parts = self._buffers[channel]
        joined = np.concatenate(parts) if len(parts) > 1 else parts[0]
        rest = joined[FRAME_SAMPLES:]
        self._buffers[channel] = [rest] if len(rest) else []
        self._buffered[channel] = len(rest)
        return joined[:FRAME_SAMPLES].tobytes()

    # -- devices coming and going -----------------------------------------------------------

    def _watch(self, now: float) -> None:
        for index, device in enumerate(self._inputs):
            there = self._watch_devices.present(device.name)
            if device.lost_at is None:
                silent = now - device.last_block > self._cfg.device_timeout_s
                if there is False or silent:
                    self._lost(device, "removed" if there is False else "no audio")
            elif there is not False:
                self._reopen(index, device)

    def _lost(self, device: DeviceInput, why: str) -> None:
        self._close(device)
        device.lost_at = self._t
        self._notices.append(DeviceNotice(self._t, device.name, tuple(device.channels), "lost",
                                          why))

    def _reopen(self, index: int, device: DeviceInput) -> None:
        try:
            self._open(index, device)
        except CallmonitorError:
            return  # still gone; looked for again on the next watch
        assert device.lost_at is not None
        self._gaps.append({"device": device.name, "channels": list(device.channels),
                           "start": round(device.lost_at, 3), "end": round(self._t, 3)})
        self._notices.append(DeviceNotice(self._t, device.name, tuple(device.channels), "back",
                                          f"after {self._t - device.lost_at:.1f} s"))
        device.lost_at = None
