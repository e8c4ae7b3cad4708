"""Ringback detection: the four cadences are found with their timing, speech never is."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from monitor.config import load_config
from monitor.frames import FRAME_SAMPLES, SAMPLE_RATE_HZ, DecodedFrame, Frame
from monitor.tones import ToneDetector

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "audio" / "zh"
CADENCES = {  # frequencies, then (on, off) bursts of one cadence
    "CN": ((450.0,), [(1.0, 4.0)]),
    "US": ((440.0, 480.0), [(2.0, 4.0)]),
    "EU": ((425.0,), [(1.0, 4.0)]),
    "UK": ((400.0, 450.0), [(0.4, 0.2), (0.4, 2.0)]),
}


def detect(samples: np.ndarray):
    detector = ToneDetector(load_config().tones)
    rings, tonal = [], 0
    for i in range(len(samples) // FRAME_SAMPLES):
        pcm = samples[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES].astype(np.int16).tobytes()
        is_tone, ended = detector.process(DecodedFrame.decode(Frame("customer", i * 0.02, pcm)))
        rings += ended
        tonal += is_tone
    return rings + detector.flush(), tonal


@pytest.mark.parametrize("country", CADENCES)
def test_each_cadence_is_found_burst_by_burst(country):
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
    rings, _ = detect(audio)
    assert len(rings) == len(expected)
    for ring, (start, end) in zip(rings, expected, strict=True):
        assert ring.start == pytest.approx(start, abs=0.05)
        assert ring.end == pytest.approx(end, abs=0.05)
        assert min(abs(ring.freq_hz - f) for f in (*freqs, sum(freqs) / len(freqs))) <= 15


def test_no_speech_clip_is_ever_a_ring():
    manifest = json.loads((CLIPS / "manifest.json").read_text())
    for name in manifest:
        with wave.open(str(CLIPS / f"{name}.wav")) as w:
            samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        rings, tonal = detect(samples.astype(np.float64))
        assert rings == [], name
        assert tonal < 0.1 * len(samples) / FRAME_SAMPLES, name
