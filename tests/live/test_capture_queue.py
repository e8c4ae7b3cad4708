"""A full capture queue (the pipeline fell behind): monitor/sources/live.py counts the blocks it
could not queue as overruns and puts exactly that much silence where they were, so audio time
stays true; the capture callback never waits for room.

Truth: a steady tone played into a real PulseAudio null sink whose monitor is captured. The
tone has no run of exact zeros, so a run of zeros in the captured audio is silence the source
inserted, and where it must be is known: after the blocks that were in the queue.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
import sounddevice

from monitor.config import LiveConfig, load_config
from monitor.devices import DeviceWatch
from monitor.frames import FRAME_SAMPLES, SAMPLE_RATE_HZ
from monitor.pcm import PCM_DTYPE
from monitor.sources.live import DeviceInput, LiveSource
from testkit.pulse import PulseServer
from testkit.signals import tone, write_wav

pytestmark = pytest.mark.usefixtures("pulseaudio")  # a skip without it, an error under $CI

LINE = "call_agent"
QUEUE_BLOCKS = 10  # blocks the queue holds: 0.2 s of 20 ms blocks


@pytest.fixture
def cfg() -> LiveConfig:
    live = load_config().live
    # A small queue so that it fills in a fraction of a second; no device watch meanwhile.
    return dataclasses.replace(live, queue_s=QUEUE_BLOCKS * live.block_ms / 1000, watch_s=3600.0)


@pytest.fixture
def pulse() -> Iterator[PulseServer]:
    with PulseServer(rate=48000, channels=1) as server:
        server.add_call_sinks("spare", LINE)
        server.activate()
        yield server


def block_samples(cfg: LiveConfig) -> int:
    return SAMPLE_RATE_HZ * cfg.block_ms // 1000


def zero_runs(x: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """(start, length) of each run of at least ``min_len`` exact zeros."""
    padded = np.concatenate([[0], (x == 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))  # a run's first sample, then the one after it
    return [(int(s), int(e - s)) for s, e in zip(edges[::2], edges[1::2], strict=True)
            if e - s >= min_len]


def test_a_full_queue_counts_overruns_and_puts_their_silence_where_they_were(
        pulse, cfg, tmp_path):
    block = block_samples(cfg)
    player = pulse.play(write_wav(tmp_path / "tone.wav", tone(523, 3.0, amp=0.5)), LINE,
                        wait=False)
    time.sleep(0.4)  # the tone is flowing before the capture starts
    watch = DeviceWatch([], cfg.watch_s)
    source = LiveSource([DeviceInput(f"pulse:{LINE}.monitor", {"agent": 0})], cfg, watch)
    source.start()  # captures now; nobody reads the queue yet
    deadline = time.monotonic() + 3
    while source.overruns < 10:
        assert time.monotonic() < deadline, f"only {source.overruns} overruns"
        time.sleep(0.01)
    frames = source.frames()
    steps = list(itertools.islice(frames, 60))  # 1.2 s: queued, gap, then live again
    frames.close()
    player.wait(5)
    watch.close()
    agent = np.frombuffer(b"".join(step[0].pcm for step in steps), PCM_DTYPE)
    assert len(agent) == 60 * FRAME_SAMPLES
    # The stream's first block may start with a little silence, before the tone reaches it.
    gaps = [run for run in zero_runs(agent, min_len=32) if run[0] > 0]
    assert gaps == [(QUEUE_BLOCKS * block, source.overruns * block)], source.summary()
    assert source.summary()["overruns"] == source.overruns


def test_the_capture_callback_never_waits_for_a_full_queue(cfg):
    """The callback called as PortAudio calls it, with real blocks, on a queue nobody reads:
    a callback that waited for room would never return."""
    block = block_samples(cfg)
    device = DeviceInput("pulse:nowhere", {"agent": 0})  # never opened: no stream calls it
    source = LiveSource([device], cfg, DeviceWatch([], cfg.watch_s))
    callback = source._capture(0, device)
    blocks = [np.full((block, 1), k / 100, np.float32) for k in range(QUEUE_BLOCKS + 3)]
    done = threading.Thread(target=lambda: [
        callback(b, block, None, sounddevice.CallbackFlags()) for b in blocks])
    done.start()
    done.join(5)
    assert not done.is_alive(), "the capture callback blocked on the full queue"
    assert source.overruns == 3
    assert source._queue.qsize() == QUEUE_BLOCKS
