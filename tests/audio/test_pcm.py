"""Live capture and replay turn the same float audio into the same frames, bit for bit.

Devices deliver float32 blocks; a float WAV holds the same numbers. Both go through their
source's real path to frames. The only stand-in is the PortAudio stream: the test puts a
block on the live source's queue, as the stream's callback does on PortAudio's thread.
"""

from __future__ import annotations

import dataclasses
import itertools
import struct
from pathlib import Path

import numpy as np

from monitor.config import load_config
from monitor.devices import DeviceWatch
from monitor.frames import FRAME_SAMPLES, SAMPLE_RATE_HZ, Frame
from monitor.pcm import FULL_SCALE, PCM_DTYPE, float_to_int16, int16_to_float
from monitor.sources.live import DeviceInput, LiveSource
from monitor.sources.wavfile import WavSource

N_FRAMES = 8


def _block() -> np.ndarray:
    """Two channels of float32 audio with the values where conversions part ways: exact
    halves of a step (round half to even), 0.75 (where scaling by 32767 truncates to another
    value), full scale and beyond it (clipped), then noise over the whole range."""
    k = np.arange(-40, 40, dtype=np.float32)
    special = np.concatenate([(k + 0.5) / np.float32(FULL_SCALE), [0.75, -0.75, 1.0, -1.0],
                              [1.0 - 1.0 / 65536, -1.0 + 1.0 / 65536, 0.0, 1e-6]])
    n = N_FRAMES * FRAME_SAMPLES
    rng = np.random.default_rng(7)
    agent = np.concatenate([special, rng.uniform(-1.0, 1.0, n - len(special))])
    customer = rng.uniform(-1.0, 1.0, n)
    return np.stack([agent, customer], axis=1).astype(np.float32)


def _write_float_wav(path: Path, x: np.ndarray) -> Path:
    channels = x.shape[1]
    fmt = struct.pack("<HHIIHHH", 3, channels, SAMPLE_RATE_HZ, SAMPLE_RATE_HZ * 4 * channels,
                      4 * channels, 32, 0)
    data = x.astype("<f4").tobytes()
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


class _OpenStream:
    """A capture stream that is already running; closing it has nothing to release."""

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass


def _live_frames(block: np.ndarray) -> list[tuple[Frame, ...]]:
    device = DeviceInput("test", {"agent": 0, "customer": 1}, stream=_OpenStream())
    cfg = dataclasses.replace(load_config().live, watch_s=3600.0)
    source = LiveSource([device], cfg, DeviceWatch([], cfg.watch_s))
    source._queue.put_nowait((0, 0, block))
    frames = source.frames()
    try:
        return list(itertools.islice(frames, N_FRAMES))
    finally:
        frames.close()


def _samples(steps: list[tuple[Frame, ...]], channel: str) -> np.ndarray:
    return np.frombuffer(b"".join(f.pcm for step in steps for f in step if f.channel == channel),
                         PCM_DTYPE)


def test_the_same_float_audio_gives_the_same_frames_live_and_replayed(tmp_path: Path) -> None:
    block = _block()
    replayed = list(WavSource(_write_float_wav(tmp_path / "call.wav", block)).frames())
    live = _live_frames(block)

    assert [[(f.channel, f.t) for f in step] for step in live] == [
        [(f.channel, f.t) for f in step] for step in replayed]
    assert [[f.pcm for f in step] for step in live] == [[f.pcm for f in step] for step in replayed]
    agent = _samples(live, "agent")
    assert list(agent[40:44]) == [0, 2, 2, 4]  # 0.5, 1.5, 2.5, 3.5 steps: halves to even
    assert list(agent[80:84]) == [24576, -24576, 32767, -32768]
    assert len(agent) == len(_samples(live, "customer")) == N_FRAMES * FRAME_SAMPLES


def test_int16_survives_a_round_trip_through_float() -> None:
    every = np.arange(-32768, 32768).astype(PCM_DTYPE)
    assert np.array_equal(float_to_int16(int16_to_float(every)), every)
