"""``SyllableCounter.prepare`` only batches the work: whatever frames the counter is handed
ahead, and whichever of them it is then fed, it reports the nuclei it reports frame by frame
("each value comes out as alone").

test_syllables.py checks this on a clip fed in its voiced frames. Here the audio is synthetic
bursts (test_analysis_syllable_rules.py's), so the cuts can be put where the counter's memory
matters most: in the middle of a burst, where the levels before the cut rise or fall by decibels
from hop to hop and the envelope after it is smoothed over them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from monitor.analysis.syllables import SyllableCounter
from monitor.config import SyllableConfig, load_config
from monitor.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE_HZ

CFG = load_config().syllables


def bursts() -> np.ndarray:
    """Vowel-like bursts of 160 ms every 280 ms for 4 s, at levels falling and rising, as
    frames (rows of int16 values)."""
    n = round(0.16 * SAMPLE_RATE_HZ)
    t = np.arange(n) / SAMPLE_RATE_HZ
    wave = sum(np.sin(2 * np.pi * f * t) for f in (300.0, 600.0, 1200.0, 1800.0)) / 2.0
    gap = np.zeros(round(0.12 * SAMPLE_RATE_HZ))
    levels = [-20.0, -26.0, -18.0, -30.0, -22.0, -24.0, -19.0, -28.0, -21.0, -25.0, -20.0,
              -23.0, -27.0, -18.0]
    parts = [gap]
    for level in levels:
        parts += [32768.0 * 10 ** (level / 20) * wave * np.hanning(n), gap]
    audio = np.round(np.concatenate(parts))
    return audio[: audio.size // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)


def feed(frames: np.ndarray, taken: list[int], blocks: list[tuple[int, int]],
         cfg: SyllableConfig = CFG) -> list[float]:
    """The nuclei of the frames ``taken`` (indices, rising), with ``blocks`` (first, stop) of
    frames prepared when the first of a block is reached."""
    counter = SyllableCounter(cfg)
    starts = dict(blocks)
    out = []
    for i in range(len(frames)):
        if i in starts:
            counter.prepare(frames[i:starts[i]], i * FRAME_S)
        if i in taken:
            out += counter.process(frames[i], i * FRAME_S, True)
    return out


def every(frames: np.ndarray, block: int) -> list[tuple[int, int]]:
    return [(i, min(i + block, len(frames))) for i in range(0, len(frames), block)]


@pytest.mark.parametrize("setting", [
    {},
    {"smooth_ms": 50.0},  # 11 taps of 5 ms: the envelope reaches three frames back
    {"hop_ms": 20.0, "window_ms": 40.0, "smooth_ms": 60.0},  # 3 taps of a frame: two back
])
@pytest.mark.parametrize("block", [1, 3, 7, 50])
def test_frames_skipped_mid_burst_change_no_nucleus(block, setting):
    """Frames left out in runs of 1 to 4, each cut a few frames into a burst or its fall; with
    the shipped smoothing, and with smoothings that reach further back (a frame after a gap
    can then take its row only once the frames its envelope reaches were all fed)."""
    cfg = dataclasses.replace(CFG, **setting)
    frames = bursts()
    skipped = {f for first in range(9, len(frames), 23)
               for f in range(first, first + 1 + first % 4)}
    taken = [i for i in range(len(frames)) if i not in skipped]
    alone = feed(frames, taken, [], cfg)
    assert len(alone) >= 10
    assert feed(frames, taken, every(frames, block), cfg) == alone


@pytest.mark.parametrize("block", [3, 10])
def test_a_block_that_does_not_follow_the_last_one_changes_no_nucleus(block):
    """Blocks handed over with some in between never handed (fed frame by frame instead): a
    block then does not follow the audio the last one ended with."""
    frames = bursts()
    taken = list(range(len(frames)))
    handed = [b for n, b in enumerate(every(frames, block)) if n % 3 != 1]
    alone = feed(frames, taken, [])
    assert feed(frames, taken, handed) == alone


def test_one_block_handed_over_part_way_into_the_audio_changes_no_nucleus():
    """The first 10 frames fed one by one, then the rest handed over in one block from 0.2 s
    on: each frame takes its own row of the block."""
    frames = bursts()
    taken = list(range(len(frames)))
    alone = feed(frames, taken, [])
    assert feed(frames, taken, [(10, len(frames))]) == alone
