"""The syllable counter's confirmation rules (``SyllableCounter._confirm``) on syllables whose
nuclei are known by construction.

Each synthetic syllable is a vowel-like burst (harmonics at 300 and 600 Hz in the first-formant
band, 1200 and 1800 Hz in the second) under a 160 ms Hann envelope, set off by 120 ms of digital
silence: its envelope has one peak, at the burst's centre, and falls to the floor between
bursts. The clip library checks the counting on real speech (test_syllables.py); these check
the rules its docstrings state, which speech alone leaves untested at their edges: a nucleus
needs the VAD's "voiced", and it must lie within ``max_below_loudest_db`` of the loudest recent
one, whose level falls by ``loudest_decay_db_per_s``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from monitor.analysis.syllables import SyllableCounter
from monitor.config import SyllableConfig, load_config
from monitor.errors import CallmonitorError
from monitor.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE_HZ

CFG = load_config().syllables
SYLLABLE_S = 0.16
GAP_S = 0.12
PERIOD_S = SYLLABLE_S + GAP_S  # 14 frames: every burst meets the frames and hops alike


def syllable(level_dbfs: float) -> np.ndarray:
    """One burst, its peak amplitude set by ``level_dbfs`` (levels in dB scale exactly)."""
    n = round(SYLLABLE_S * SAMPLE_RATE_HZ)
    t = np.arange(n) / SAMPLE_RATE_HZ
    wave = sum(np.sin(2 * np.pi * f * t) for f in (300.0, 600.0, 1200.0, 1800.0)) / 2.0
    return 32768.0 * 10 ** (level_dbfs / 20) * wave * np.hanning(n)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE_HZ))


def voice(levels_dbfs: list[float]) -> tuple[np.ndarray, list[float]]:
    """Bursts at these levels one period apart after a gap, and their centres (the nuclei)."""
    parts = [silence(GAP_S)]
    for level in levels_dbfs:
        parts += [syllable(level), silence(GAP_S)]
    centres = [GAP_S + SYLLABLE_S / 2 + i * PERIOD_S for i in range(len(levels_dbfs))]
    return np.concatenate([*parts, silence(0.5)]), centres


def nuclei(audio: np.ndarray, cfg: SyllableConfig = CFG, voiced: bool = True) -> list[float]:
    """Frame by frame, as the pipeline feeds the counter, every frame judged ``voiced``."""
    counter = SyllableCounter(cfg)
    pcm = np.round(audio)
    return [t for i in range(len(pcm) // FRAME_SAMPLES)
            for t in counter.process(pcm[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES],
                                     i * FRAME_S, voiced)]


def test_each_burst_is_one_nucleus_at_its_centre():
    """The envelope is centred (an odd Hann kernel, each window stamped at its middle), so a
    burst symmetric about a hop's time peaks exactly there."""
    audio, centres = voice([-20.0] * 5)
    assert nuclei(audio) == pytest.approx(centres, abs=1e-6)


def test_a_syllable_at_the_very_start_of_the_audio_is_counted():
    """The envelope before the first frame is silence (the floor, -120 dB): a burst from the
    first sample on is one nucleus at its centre, like any other, and so is a vowel already
    at full level on the first sample (held 0.3 s)."""
    audio, centres = voice([-20.0] * 3)
    start = round(GAP_S * SAMPLE_RATE_HZ)
    assert nuclei(audio[start:]) == pytest.approx([c - GAP_S for c in centres], abs=1e-6)
    held = nuclei(np.concatenate([steady(-20.0, 0.3), silence(0.5)]))
    assert len(held) == 1
    assert 0.0 <= held[0] <= 0.3


@pytest.mark.parametrize(("setting", "lag_s"), [
    ({}, 0.025),  # "25 ms with the defaults"
    ({"window_ms": 30.0}, 0.015 + 0.015),
    ({"window_ms": 40.0}, 0.02 + 0.015),  # 640 samples
    ({"smooth_ms": 5.0}, 0.01),  # smoothed over one hop: not at all
    ({"smooth_ms": 2.0}, 0.01),  # less than a hop: one tap still
    ({"smooth_ms": 40.0, "hop_ms": 10.0}, 0.01 + 0.02),  # 4 hops: 5 taps, an odd number
])
def test_the_lag_is_half_a_window_plus_half_the_smoothing_span(setting, lag_s):
    """``lag_s``: "half an analysis window plus half the smoothing span", the span being an
    odd number of hops (at least one) so that it has a centre."""
    assert SyllableCounter(dataclasses.replace(CFG, **setting)).lag_s == pytest.approx(lag_s)


def test_a_peak_the_vad_does_not_call_voiced_is_no_nucleus():
    """"The peak is a nucleus if the VAD heard speech there": loud vowels the VAD rejects (a
    voice on the line it judged noise) count nothing."""
    audio, _ = voice([-20.0] * 5)
    assert nuclei(audio, voiced=False) == []


def test_a_nucleus_as_loud_as_the_loudest_is_within_any_margin():
    """Within ``max_below_loudest_db`` of the loudest is at most that far below it: with a
    margin of 0 dB a steady voice, every syllable as loud as the loudest, still counts in
    full (the first syllable is the loudest itself)."""
    cfg = dataclasses.replace(CFG, max_below_loudest_db=0.0, loudest_decay_db_per_s=0.0)
    audio, centres = voice([-20.0] * 5)
    assert nuclei(audio, cfg) == pytest.approx(centres, abs=0.011)


def test_a_loud_peak_is_forgotten_at_the_decay_rate():
    """A cough 28 dB above the voice: the syllables after it are more than 25 dB below the
    loudest and are not counted until its reference has fallen by 3 dB, at 3 dB a second,
    i.e. 1 s after it; from then on they count (bursts every 0.28 s: the third after it,
    0.84 s on, is the last one left out)."""
    audio, centres = voice([-10.0] + [-38.0] * 12)
    decay, below = CFG.loudest_decay_db_per_s, CFG.max_below_loudest_db
    assert (decay, below) == (3.0, 25.0)  # the figures above
    expected = [centres[0], *centres[4:]]
    assert centres[3] - centres[0] < (28.0 - below) / decay < centres[4] - centres[0]
    assert nuclei(audio) == pytest.approx(expected, abs=0.011)


def steady(level_dbfs: float, seconds: float) -> np.ndarray:
    """A held vowel of known band levels: 400 Hz in the first-formant band, 1000 and 2000 Hz in
    the second, each band's RMS ``level_dbfs`` below full scale. Every period divides the 5 ms
    hop, so each hop's window holds the same samples and the envelope's top is flat."""
    t = np.arange(round(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    rms = 32768.0 * 10 ** (level_dbfs / 20)
    low = rms * np.sqrt(2.0) * np.sin(2 * np.pi * 400.0 * t)
    high = rms * (np.sin(2 * np.pi * 1000.0 * t) + np.sin(2 * np.pi * 2000.0 * t))
    return low + high


@pytest.mark.parametrize("level_dbfs", [-30.0, -50.0])
def test_the_envelope_reads_the_bands_level_in_dbfs(level_dbfs):
    """"A band holding audio of RMS FULL_SCALE reads 0 dB" (``_band_matrix``), and the envelope
    is their weighted mean: a vowel whose bands are both at L dBFS peaks at L, so it is a
    nucleus when ``min_level_dbfs`` is half a decibel under L and none when half a decibel
    over."""
    audio = np.concatenate([silence(0.2), steady(level_dbfs, 0.3), silence(0.5)])
    under = dataclasses.replace(CFG, min_level_dbfs=level_dbfs - 0.5)
    over = dataclasses.replace(CFG, min_level_dbfs=level_dbfs + 0.5)
    assert len(nuclei(audio, under)) == 1
    assert nuclei(audio, over) == []


def test_a_window_longer_than_a_frame_and_a_hop_counts_the_same():
    """With a 30 ms window a hop's window reaches back more than a whole frame (into the two
    frames before the newest): the bursts are still one nucleus each, at their centres."""
    cfg = dataclasses.replace(CFG, window_ms=30.0)
    audio, centres = voice([-20.0] * 5)
    assert nuclei(audio, cfg) == pytest.approx(centres, abs=0.011)


def test_audio_above_the_high_band_is_not_counted():
    """The second-formant band ends at ``band_high_hz``: a loud whistle at 3050 Hz all along
    (faded in and out over 0.15 s, so it has no onset to splash into the band), with the band
    ending at 2975 Hz, leaves the vowel's level as it was."""
    cfg = dataclasses.replace(CFG, band_high_hz=2975.0)
    audio = np.concatenate([silence(0.4), steady(-40.0, 0.3), silence(0.7)])
    t = np.arange(audio.size) / SAMPLE_RATE_HZ
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.15)
    audio += 32768.0 * 0.1 * np.sqrt(2.0) * np.sin(2 * np.pi * 3050.0 * t) * fade  # -20 dBFS
    assert len(nuclei(audio, dataclasses.replace(cfg, min_level_dbfs=-40.5))) == 1
    assert nuclei(audio, dataclasses.replace(cfg, min_level_dbfs=-39.5)) == []


@pytest.mark.parametrize(("setting", "problem"), [
    ({"hop_ms": 0.01}, "do not fit 20 ms frames"),  # rounds to no sample at all
    ({"hop_ms": 5.0, "window_ms": 4.0}, "do not fit 20 ms frames"),
    ({"band_low_hz": 800.0}, "the bands must rise"),  # low = split
    ({"band_high_hz": 800.0}, "the bands must rise"),  # split = high
    ({"band_high_hz": 8001.0}, "the bands must rise"),  # above the Nyquist frequency
])
def test_settings_the_analysis_cannot_honour_are_refused_with_their_fix(setting, problem):
    with pytest.raises(CallmonitorError) as refused:
        SyllableCounter(dataclasses.replace(CFG, **setting))
    assert refused.value.problem.startswith("[syllables] ")  # names the section to fix
    assert problem in refused.value.problem
    assert refused.value.fix == ("use a hop that divides 20 ms and a window at least one hop long"
                                 if "frames" in problem else "fix the band edges")


@pytest.mark.parametrize("setting", [
    {"hop_ms": 1000.0 / SAMPLE_RATE_HZ},  # a hop of one sample
    {"hop_ms": 20.0, "window_ms": 20.0},  # a window exactly one hop long
    {"band_low_hz": 0.0},  # from 0 Hz
    {"band_high_hz": 8000.0},  # up to the Nyquist frequency
])
def test_settings_at_the_edges_of_what_it_can_honour_are_taken(setting):
    SyllableCounter(dataclasses.replace(CFG, **setting))
