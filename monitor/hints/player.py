"""Plays hints on the agent's headset through one output stream kept open for the session.

Opening a stream per hint would add its start-up time to every hint, and closing one drops
what is still buffered (the end of the hint). So the stream stays open, its callback plays the
current hint or silence, and a new hint replaces the current one.

If the headset disappears, PulseAudio would move the stream to the default device, which may
be the call line: a hint must never reach the customer. So a ``pulse:`` headset is played
through a stream PulseAudio may not move (monitor/hints/pulse_stream.py): the server ends it
the moment the sink goes, before any sample reaches another sink. The hint sink checks the
player at every step: a stream that has ended, or whose headset the device watch misses, is
closed, hints are dropped (and counted) while the headset is gone, and the stream is reopened
when it is back. Other (PortAudio) devices are played through sounddevice.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import numpy as np

from monitor import devices
from monitor.errors import CallmonitorError
from monitor.hints.pulse_stream import PulsePlayback

OUTPUT_RATE_HZ = 48000


class HeadsetPlayer:
    """One hint at a time on ``device``; ``play`` returns at once."""

    def __init__(self, device: str, latency_s: float, watch: devices.DeviceWatch) -> None:
        self.device = device
        self._latency_s = latency_s
        self._watch = watch
        self._lock = threading.Lock()
        self._samples: np.ndarray | None = None
        self._pos = 0
        self._stream: Any = None
        self.started_at: float | None = None
        """Wall clock (time.monotonic) when the current hint's first sample went out."""
        self.missed = 0
        """Hints not played because the headset was gone."""
        self._retry_at = 0.0  # time.monotonic() of the next try to reopen
        self._open()

    def play(self, samples: np.ndarray) -> bool:
        """Start ``samples`` (float32 at OUTPUT_RATE_HZ) now; False if the headset is gone."""
        self.check()
        if self._stream is None:
            self.missed += 1
            return False
        with self._lock:
            self._samples, self._pos, self.started_at = samples, 0, None
        return True

    def check(self) -> None:
        """Close the stream when it has ended or the headset is gone; reopen it when it is back.

        A stream ends before the device watch misses its headset (PulseAudio kills it with
        the sink), so reopening is tried at most once per look of the watch, not every step."""
        there = self._watch.present(self.device)
        if self._stream is not None and (there is False or not self._stream.active):
            self._close()
        elif there is not False and self._stream is None and time.monotonic() >= self._retry_at:
            self._retry_at = time.monotonic() + self._watch.interval_s
            with contextlib.suppress(CallmonitorError):  # still gone: tried again later
                self._open()

    def close(self) -> None:
        # Let the hint that is playing finish, up to its remaining length.
        with self._lock:
            left = 0.0 if self._samples is None else (len(self._samples) - self._pos)
        time.sleep(min(left / OUTPUT_RATE_HZ + self._latency_s, 3.0))
        self._close()

    def _open(self) -> None:
        if self.device.startswith(devices.PULSE_PREFIX):
            self._stream = PulsePlayback(self.device[len(devices.PULSE_PREFIX):], OUTPUT_RATE_HZ,
                                         self._latency_s, self._callback)
        else:
            self._stream = devices.open_stream(self.device, "output", OUTPUT_RATE_HZ, 1, 0,
                                               self._callback, latency=self._latency_s)

    def _close(self) -> None:
        """Close the stream; the hint it was playing is dropped, not resumed elsewhere."""
        stream, self._stream = self._stream, None
        with self._lock:
            self._samples = None
        if stream is not None:
            devices.close_stream(stream)

    def _callback(self, outdata: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        with self._lock:
            samples = self._samples
            if samples is None:
                outdata.fill(0.0)
                return
            if self._pos == 0:
                self.started_at = time.monotonic()
            chunk = samples[self._pos:self._pos + frames]
            self._pos += len(chunk)
            if self._pos >= len(samples):
                self._samples = None
        outdata[:len(chunk), 0] = chunk
        outdata[len(chunk):].fill(0.0)
