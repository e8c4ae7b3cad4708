"""Ringback detection: the four cadences are found with their timing, speech never is."""

from __future__ import annotations

import dataclasses
import json
import wave

import numpy as np
import pytest

from monitor.analysis.tones import ToneDetector
from monitor.config import load_config
from monitor.frames import FRAME_SAMPLES, SAMPLE_RATE_HZ, DecodedFrame, Frame
from testkit import synth

CLIPS = synth.SHARED_DIR / "audio" / "zh"
CADENCES = {  # frequencies, then (on, off) bursts of one cadence
    "CN": ((450.0,), [(1.0, 4.0)]),
    "US": ((440.0, 480.0), [(2.0, 4.0)]),
    "EU": ((425.0,), [(1.0, 4.0)]),
    "UK": ((400.0, 450.0), [(0.4, 0.2), (0.4, 2.0)]),
}


def detect(samples: np.ndarray, window_s: float | None = None, block: int = 1):
    """The rings and the number of tonal frames: frame by frame as live, or with ``block``
    frames prepared at a time as a recording is."""
    cfg = load_config().tones
    detector = ToneDetector(dataclasses.replace(cfg, window_s=window_s or cfg.window_s))
    frames = [Frame("customer", i * 0.02, samples[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES]
                    .astype(np.int16).tobytes()) for i in range(len(samples) // FRAME_SAMPLES)]
    rings, tonal = [], 0
    for first in range(0, len(frames), block):
        rows, decoded = DecodedFrame.decode_all(frames[first:first + block])
        if block > 1:
            detector.prepare(rows, [d.level_dbfs for d in decoded])
        for d in decoded:
            is_tone, ended = detector.process(d)
            rings += ended
            tonal += is_tone
    return rings + detector.flush(), tonal


@pytest.mark.parametrize("block", [1, 50])
@pytest.mark.parametrize("country", CADENCES)
def test_each_cadence_is_found_burst_by_burst(country, block):
    freqs, bursts = CADENCES[country]
    rng = np.random.default_rng(1)
    audio = rng.normal(0.0, 30.0, SAMPLE_RATE_HZ * 14)  # line noise, about -60 dBFS
    t, expected = 0.5, []
    while t < 12.0:
        for on_s, off_s in bursts:
            n0, n1 = int(t * SAMPLE_RATE_HZ), int((t + on_s) * SAMPLE_RATE_HZ)
            tt = np.arange(n1 - n0) / SAMPLE_RATE_HZ
            audio[n0:n1] += sum(2000.0 * np.sin(2 * np.pi * f * tt) for f in freqs)
            expected.append((t, t + on_s))
            t += on_s + off_s
    rings, _ = detect(audio, block=block)
    assert len(rings) == len(expected)
    for ring, (start, end) in zip(rings, expected, strict=True):
        assert ring.start == pytest.approx(start, abs=0.05)
        assert ring.end == pytest.approx(end, abs=0.05)
        assert min(abs(ring.freq_hz - f) for f in (*freqs, sum(freqs) / len(freqs))) <= 15


@pytest.mark.parametrize("block", [1, 50])
@pytest.mark.parametrize("window_s", [0.05, 0.07])
def test_a_window_of_part_frames_finds_the_rings_too(window_s, block):
    """The detector keeps whole frames; a window that ends part way into one still works."""
    rng = np.random.default_rng(1)
    audio = rng.normal(0.0, 30.0, SAMPLE_RATE_HZ * 12)
    tt = np.arange(SAMPLE_RATE_HZ) / SAMPLE_RATE_HZ
    for start in (0.5, 5.5):
        n0 = int(start * SAMPLE_RATE_HZ)
        audio[n0:n0 + SAMPLE_RATE_HZ] += 2000.0 * np.sin(2 * np.pi * 450.0 * tt)
    rings, _ = detect(audio, window_s, block)
    bounds = [t for r in rings for t in (r.start, r.end)]
    assert bounds == pytest.approx([0.5, 1.5, 5.5, 6.5], abs=0.05)
    assert all(abs(r.freq_hz - 450.0) <= 15 for r in rings)


def test_no_speech_clip_is_ever_a_ring():
    manifest = json.loads((CLIPS / "manifest.json").read_text())
    for name in manifest:
        with wave.open(str(CLIPS / f"{name}.wav")) as w:
            samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        rings, tonal = detect(samples.astype(np.float64))
        assert rings == [], name
        assert tonal < 0.1 * len(samples) / FRAME_SAMPLES, name
