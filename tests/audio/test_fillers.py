"""The acoustic filled-pause detector on the clip library: agent sentences with the library's
嗯 / 啊 / 呃 inserted at known times (stretched to 0.3-0.8 s, shifted in pitch), and every
filler-free agent clip. Fed 20 ms frames one at a time, as the pipeline feeds it.

The figures over the whole set come from ``scripts/eval_fillers.py``; here a smaller seeded
set checks the measured behaviour holds: most fillers found, on time, none in plain speech.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from monitor.analysis.fillers import FillerDetector
from monitor.config import load_config
from monitor.errors import CallmonitorError
from monitor.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE_HZ
from testkit import fillers as tf

TOLERANCE_S = 0.15


def detect(samples: np.ndarray) -> list[tuple[float, float]]:
    detector = FillerDetector(load_config().fillers)
    padded = np.concatenate([samples, np.zeros(SAMPLE_RATE_HZ)])
    return [(f.start, f.end) for i in range(padded.size // FRAME_SAMPLES)
            for f in detector.process(padded[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES],
                                      i * FRAME_S)]


@cache
def results() -> list[tuple[tuple[tuple[float, float], ...], list[tuple[float, float]]]]:
    return [(s.fillers, detect(s.samples)) for _, s in tf.filler_set(variants=1, seed=5)]


def test_inserted_fillers_are_found_within_the_tolerance():
    filled = [(truth, found) for truth, found in results() if truth]
    pairs = [(t, [f for f in found if abs(f[0] - t[0]) <= TOLERANCE_S
                  and abs(f[1] - t[1]) <= TOLERANCE_S]) for truth, found in filled for t in truth]
    recall = sum(bool(m) for _, m in pairs) / len(pairs)
    print(f"recall {recall:.3f} of {len(pairs)} fillers")
    assert len(pairs) >= 30
    # Measured: 0.81 of 31 here (both ends within 0.15 s); eval_fillers.py: 0.89 (overlap).
    assert recall >= 0.75
    # Little else fires in the filled sentences: measured one, a steady syllable that an
    # inserted filler's pause set off.
    extra = [f for truth, found in filled for f in found
             if not any(f[0] < t[1] + TOLERANCE_S and t[0] < f[1] + TOLERANCE_S for t in truth)]
    assert len(extra) <= 1


def test_filler_free_speech_fires_nothing():
    plain = [found for truth, found in results() if not truth]
    assert len(plain) >= 30
    assert [f for found in plain for f in found] == []


def test_a_sustained_tone_is_not_a_filler():
    # A 1.8 s 220 Hz tone between pauses: voiced, level and still, but longer than max_s.
    t = np.arange(round(1.8 * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    tone = 3000.0 * np.sin(2 * np.pi * 220.0 * t)
    silence = np.zeros(SAMPLE_RATE_HZ // 2)
    assert detect(np.concatenate([silence, tone, silence])) == []
    # The same tone for 0.5 s is found: the length limit, not the tone, kept the long one out.
    short = tone[:SAMPLE_RATE_HZ // 2]
    assert len(detect(np.concatenate([silence, short, silence]))) == 1


def test_the_settings_are_checked_at_load(tmp_path):
    site = tmp_path / "site.toml"
    site.write_text("[fillers]\nmin_s = 2.0\n", encoding="utf-8")
    with pytest.raises(CallmonitorError, match="min_s"):
        load_config(site=site)


@pytest.mark.parametrize("block", [1, 7, 50])
def test_frames_known_ahead_change_no_filler(block):
    """``prepare`` (a recording's frames handed over a block ahead) only batches the analysis:
    every sentence gives the fillers it gives frame by frame."""
    checked = 0
    for (_, found), (_, sentence) in zip(results(), tf.filler_set(variants=1, seed=5),
                                         strict=True):
        padded = np.concatenate([sentence.samples, np.zeros(SAMPLE_RATE_HZ)])
        rows = padded[: padded.size // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
        detector = FillerDetector(load_config().fillers)
        ahead = []
        for i, row in enumerate(rows):
            if i % block == 0:
                detector.prepare(rows[i:i + block])
            ahead += [(f.start, f.end) for f in detector.process(row, i * FRAME_S)]
        assert ahead == found
        checked += len(found)
    assert checked >= 20  # the sentences do have fillers to agree on
