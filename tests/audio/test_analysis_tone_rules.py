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


def burst(n: int, freq_hz: float = 450.0) -> np.ndarray:
    """``n`` frames of loud tone between 20 frames of the same tone 34 dB quieter (under
    ``min_level_dbfs``): the window is all tone when the loud frames begin, and a frame of
    them is tonal by its loudness alone."""
    quiet = tone(freq_hz, 20, 40.0)
    return np.concatenate([quiet, tone(freq_hz, n), quiet])


def judged(frames: list[DecodedFrame], cfg: ToneConfig = CFG) -> tuple[list[bool], list[Ring]]:
    """Each frame's "is this frame tone?", and the rings, frame by frame."""
    detector = ToneDetector(cfg)
    flags, out = [], []
    for d in frames:
        is_tone, ended = detector.process(d)
        flags.append(is_tone)
        out += ended
    return flags, out + detector.flush()


def test_a_ring_is_a_tone_run_at_least_min_ring_s_long():
    """"A burst shorter than this is not a ring": runs of tonal frames from 11 to 17 frames
    (0.22-0.34 s) around ``min_ring_s`` 0.3 s; those of 15 frames or more ring, exactly as long
    as the run."""
    assert CFG.min_ring_s == 0.3
    lengths = []
    for n in range(12, 19):
        flags, found = judged(decoded(burst(n)))
        run = sum(flags)
        lengths.append(run)
        assert flags[20 + n:] == [False] * 20  # the run ends with the loud frames
        if run * FRAME_S >= CFG.min_ring_s - 1e-9:
            assert len(found) == 1
            assert found[0].end - found[0].start == pytest.approx(run * FRAME_S, abs=1e-9)
        else:
            assert found == []
    assert min(lengths) < 15 <= max(lengths)


def test_a_ring_is_stamped_in_audio_time_to_the_millisecond():
    """docs/contract.md: times to the millisecond. Frames stamped from 12.3456789 s (a stream
    that began mid-recording): the ring ends where the loud tone ends, rounded, and starts on a
    frame's start, rounded."""
    t0 = 12.3456789
    frames = decoded(burst(25), t0)
    flags, found = judged(frames)
    first = flags.index(True)
    assert found == [Ring(round(t0 + first * FRAME_S, 3), round(t0 + 45 * FRAME_S, 3), 450.0)]
    assert first in (20, 21)  # on the loud tone's first frame, or its second


def test_a_ring_has_the_frequency_it_holds_most():
    """A ring that steps from 440 Hz (0.4 s) to 450 Hz (0.6 s) is a 450 Hz ring: the
    frequency it holds most, one of ``freqs_hz``, not a frequency between the two."""
    silence = np.zeros(10 * FRAME_SAMPLES)
    found = rings(decoded(np.concatenate([silence, tone(440.0, 20), tone(450.0, 30), silence])))
    assert [r.freq_hz for r in found] == [450.0]


def test_one_block_handed_over_part_way_into_the_audio_changes_nothing():
    """``prepare`` only batches the judging: the first 10 frames judged one by one, then the
    rest handed over in one block, give every frame the flag and the rings that judging them
    one by one gives (each frame takes its own row of the block)."""
    silence = np.zeros(10 * FRAME_SAMPLES)
    frames = decoded(np.concatenate([silence, burst(25), silence, burst(40, 400.0), silence]))
    alone = judged(frames)
    detector = ToneDetector(CFG)
    flags, found = [], []
    for i, d in enumerate(frames):
        if i == 10:
            rest = frames[10:]
            detector.prepare(np.array([r.samples for r in rest]), [r.level_dbfs for r in rest])
        is_tone, ended = detector.process(d)
        flags.append(is_tone)
        found += ended
    assert (flags, found + detector.flush()) == alone
    assert len(alone[1]) == 2


@pytest.mark.parametrize("block", [1, 50])
def test_a_window_without_power_is_no_tone(block):
    """A click on the last sample of a frame after silence: the frame is loud (-26 dBFS), but
    the window's taper is zero there, so the window holds no power at all, and no power is no
    tone."""
    samples = np.zeros(30 * FRAME_SAMPLES)
    samples[20 * FRAME_SAMPLES - 1] = 30000.0
    frames = decoded(samples)
    assert frames[19].level_dbfs > CFG.min_level_dbfs
    detector = ToneDetector(CFG)
    if block > 1:
        detector.prepare(np.array([d.samples for d in frames]), [d.level_dbfs for d in frames])
    assert [detector.process(d)[0] for d in frames] == [False] * 30
