"""The ringback detector's rules on tones of known frequency, level and timing.

test_tones.py finds the four cadences within 50 ms on line noise; these pin what the
docstrings and docs/contract.md state exactly: a frame "must be this loud" (``min_level_dbfs``,
reached counts), a burst shorter than ``min_ring_s`` is no ring (one as long is), a ring's times
are rounded to the millisecond and its frequency is the tone's.

Each tone here is a whole number of cycles in a 20 ms frame (a multiple of 50 Hz), so every
frame of it holds the same samples and has the same level, and it starts and stops on frame
boundaries after digital silence.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from monitor.analysis.tones import ToneDetector
from monitor.config import ToneConfig, load_config
from monitor.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE_HZ, DecodedFrame, Frame, Ring

CFG = load_config().tones


def tone(freq_hz: float, frames: int, amplitude: float = 2000.0) -> np.ndarray:
    t = np.arange(frames * FRAME_SAMPLES) / SAMPLE_RATE_HZ
    return np.round(amplitude * np.sin(2 * np.pi * freq_hz * t))


def decoded(samples: np.ndarray, t0: float = 0.0) -> list[DecodedFrame]:
    pcm = samples.astype(np.int16)
    return [DecodedFrame.decode(Frame("customer", t0 + i * FRAME_S,
                                      pcm[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES].tobytes()))
            for i in range(len(pcm) // FRAME_SAMPLES)]


def rings(frames: list[DecodedFrame], cfg: ToneConfig = CFG, block: int = 1) -> list[Ring]:
    """Frame by frame as live (``block`` 1), or ``block`` frames prepared at a time."""
    detector = ToneDetector(cfg)
    out: list[Ring] = []
    for first in range(0, len(frames), block):
        part = frames[first:first + block]
        if block > 1:
            detector.prepare(np.array([d.samples for d in part]), [d.level_dbfs for d in part])
        for d in part:
            out += detector.process(d)[1]
    return out + detector.flush()


@pytest.mark.parametrize("block", [1, 50])
def test_a_frame_exactly_as_loud_as_required_is_loud_enough(block):
    """"The current 20 ms frame must be this loud": a tone whose every frame is exactly at
    ``min_level_dbfs`` (the threshold set to the frames' own level) rings; a hair above the
    frames' level it does not."""
    frames = decoded(np.concatenate([np.zeros(10 * FRAME_SAMPLES), tone(450.0, 50),
                                     np.zeros(10 * FRAME_SAMPLES)]))
    level = frames[20].level_dbfs
    assert {d.level_dbfs for d in frames[10:60]} == {level}
    assert len(rings(frames, dataclasses.replace(CFG, min_level_dbfs=level), block)) == 1
    assert rings(frames, dataclasses.replace(CFG, min_level_dbfs=level + 0.01), block) == []
