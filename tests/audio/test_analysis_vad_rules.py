"""The VAD's smoothing rules (``ChannelVad``) on audio whose every frame's webrtcvad decision
is known: the decisions are taken from webrtcvad itself (the reference the class wraps), so
each test states what the hysteresis must make of them.

The rules, from vad.py and ``[vad]`` in config/default.toml: speech is confirmed when
``onset_frames`` of the last ``onset_window_frames`` frames are voiced; a segment runs from its
first voiced frame to the end of its last; it closes after ``hangover_s`` of unvoiced audio;
its level is the mean power of its voiced frames (docs/contract.md: levels to 0.1 dB, times to
the millisecond); a voiced frame must also be ``energy_margin_db`` above the noise floor and
at least ``min_level_dbfs``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import webrtcvad

from monitor.analysis.vad import ChannelVad
from monitor.config import VadConfig, load_config
from monitor.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE_HZ, DecodedFrame, Frame, Speech

CFG = load_config().vad


def frames_of(samples: np.ndarray, t0: float = 0.0) -> list[DecodedFrame]:
    pcm = np.clip(np.round(samples), -32768, 32767).astype(np.int16)
    return [DecodedFrame.decode(Frame("agent", t0 + i * FRAME_S,
                                      pcm[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES].tobytes()))
            for i in range(len(pcm) // FRAME_SAMPLES)]


def segments(frames: list[DecodedFrame], cfg: VadConfig = CFG,
             masked: frozenset[int] = frozenset()) -> list[Speech]:
    vad = ChannelVad("agent", cfg)
    out = [e for i, d in enumerate(frames) for e in vad.process(d, i in masked)]
    return [e for e in [*out, *vad.flush()] if isinstance(e, Speech)]


def webrtc(frames: list[DecodedFrame], aggressiveness: int) -> list[bool]:
    vad = webrtcvad.Vad(aggressiveness)
    return [vad.is_speech(d.frame.pcm, SAMPLE_RATE_HZ) for d in frames]


def test_the_configured_aggressiveness_judges_the_frames():
    """Hiss at -30 dBFS after silence: webrtcvad at aggressiveness 0 calls nearly all of it
    speech, at the configured 3 only its first few frames (its own onset); the VAD's speech is
    those few frames, not two seconds."""
    rng = np.random.default_rng(3)
    frames = frames_of(np.concatenate([np.zeros(SAMPLE_RATE_HZ // 2),
                                       rng.normal(0.0, 1000.0, 2 * SAMPLE_RATE_HZ)]))
    strict, lenient = webrtc(frames, CFG.aggressiveness), webrtc(frames, 0)
    assert CFG.aggressiveness == 3
    assert sum(lenient) > 80
    assert sum(strict) <= 5
    assert sum(s.end - s.start for s in segments(frames)) <= 5 * FRAME_S + 1e-9


def tone(frames: int, dbfs: float = -24.0, freq_hz: float = 450.0) -> np.ndarray:
    """A tone of RMS ``dbfs`` (webrtcvad calls a steady tone speech), a whole number of cycles
    per frame, so every frame of it has the same level."""
    t = np.arange(frames * FRAME_SAMPLES) / SAMPLE_RATE_HZ
    return 32768.0 * np.sqrt(2.0) * 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq_hz * t)


def gap(frames: int) -> np.ndarray:
    return np.zeros(frames * FRAME_SAMPLES)


def test_a_segment_runs_from_its_first_to_the_end_of_its_last_voiced_frame():
    """A 1 s tone from frame 25, in frames stamped from 7.0123456 s: one segment on the tone,
    times rounded to the millisecond, level the tone's to 0.1 dB (webrtcvad's own hangover
    after the tone is silence under ``min_level_dbfs``, which no frame passes)."""
    t0 = 7.0123456
    frames = frames_of(np.concatenate([gap(25), tone(50), gap(30)]), t0)
    assert webrtc(frames, 3)[24:26] == [False, True]
    level = frames[30].level_dbfs
    assert segments(frames) == [Speech("agent", round(t0 + 0.5, 3), round(t0 + 1.5, 3),
                                       round(level, 1))]
    assert round(level, 1) == -24.0


def buzz(frames: int, dbfs: float, f0_hz: float = 150.0) -> np.ndarray:
    """A voice-like buzz of RMS ``dbfs``: 19 harmonics of ``f0_hz`` falling as 1/k (webrtcvad
    calls it speech at every frame from -30 dBFS up, where it stops calling a tone speech)."""
    t = np.arange(frames * FRAME_SAMPLES) / SAMPLE_RATE_HZ
    wave = sum(np.sin(2 * np.pi * f0_hz * k * t) / k for k in range(1, 20))
    return 32768.0 * 10 ** (dbfs / 20) * wave / np.sqrt(np.mean(wave**2))


@pytest.mark.parametrize(("second_dbfs", "level_dbfs"), [(-30.0, -22.6), (-26.0, -22.0)])
def test_its_level_is_the_mean_power_of_its_voiced_frames(second_dbfs, level_dbfs):
    """Half a second at -20 dBFS, half a second at -30: the mean of the powers, -22.6 dBFS,
    not the mean of the levels (-25); with -26, 10 log10((0.01 + 0.00251) / 2) = -22.04, to
    0.1 dB -22.0."""
    frames = frames_of(np.concatenate([gap(25), buzz(25, -20.0), buzz(25, second_dbfs),
                                       gap(30)]))
    assert all(webrtc(frames, 3)[25:75])
    assert [(s.start, s.end, s.level_dbfs) for s in segments(frames)] == [(0.5, 1.5, level_dbfs)]


def test_a_segment_of_one_voiced_frame_has_that_frame_s_level():
    """With an onset of one frame in one, a click of one voiced frame is a segment; its level
    is that frame's."""
    cfg = dataclasses.replace(CFG, onset_frames=1, onset_window_frames=1)
    frames = frames_of(np.concatenate([gap(25), buzz(1, -20.0), gap(30)]))
    assert webrtc(frames, 3)[25]
    assert [(s.start, s.end, s.level_dbfs) for s in segments(frames, cfg)] == [
        (0.5, 0.52, round(frames[25].level_dbfs, 1))]


def test_speech_needs_onset_frames_voiced_of_the_onset_window():
    """A click of three voiced frames is no speech; four frames are."""
    assert (CFG.onset_frames, CFG.onset_window_frames) == (4, 6)
    assert segments(frames_of(np.concatenate([gap(25), tone(3), gap(30)]))) == []
    assert segments(frames_of(np.concatenate([gap(25), tone(4), gap(30)]))) == [
        Speech("agent", 0.5, 0.58, -24.0)]


def test_a_segment_closes_after_hangover_s_of_unvoiced_audio():
    """A pause of 0.28 s stays inside the segment; one of ``hangover_s`` (0.3 s) ends it. The
    same right after the onset's fourth voiced frame, where the silence is counted from the
    end of that frame."""
    assert CFG.hangover_s == 0.3
    short = frames_of(np.concatenate([gap(25), tone(30), gap(14), tone(30), gap(30)]))
    assert [(s.start, s.end) for s in segments(short)] == [(0.5, 1.98)]
    long = frames_of(np.concatenate([gap(25), tone(30), gap(15), tone(30), gap(30)]))
    assert [(s.start, s.end) for s in segments(long)] == [(0.5, 1.1), (1.4, 2.0)]
    onset = frames_of(np.concatenate([gap(25), tone(4), gap(1), tone(30), gap(30)]))
    assert [(s.start, s.end) for s in segments(onset)] == [(0.5, 1.2)]
    onset = frames_of(np.concatenate([gap(25), tone(4), gap(15), tone(30), gap(30)]))
    assert [(s.start, s.end) for s in segments(onset)] == [(0.5, 0.58), (0.88, 1.48)]


def test_masked_frames_count_as_unvoiced():
    """Frames the tone detector masked are no speech, however loud: a tone masked for its
    first 20 frames is speech from its 21st."""
    frames = frames_of(np.concatenate([gap(25), tone(50), gap(30)]))
    assert segments(frames, masked=frozenset(range(25, 75))) == []
    # The onset window of its first voiced frames still holds masked ones: they add no power.
    assert [(s.start, s.end, s.level_dbfs)
            for s in segments(frames, masked=frozenset(range(25, 45)))] == [(0.9, 1.5, -24.0)]


def test_a_frame_must_be_min_level_dbfs_loud():
    """"Frames quieter than this are never speech, however clean the line": after digital
    silence the floor is far down, so ``min_level_dbfs`` alone decides; set to -25 dBFS, a buzz
    at -24 is speech, one at -26 is not (webrtcvad calls both speech). A buzz whose frames are
    all exactly at ``min_level_dbfs`` (200 Hz: four whole periods a frame; the threshold set
    to their level) is loud enough."""
    cfg = dataclasses.replace(CFG, min_level_dbfs=-25.0)
    loud = frames_of(np.concatenate([gap(25), buzz(50, -24.0), gap(30)]))
    quiet = frames_of(np.concatenate([gap(25), buzz(50, -26.0), gap(30)]))
    assert all(webrtc(loud, 3)[25:75]) and all(webrtc(quiet, 3)[25:75])
    assert [(s.start, s.end) for s in segments(loud, cfg)] == [(0.5, 1.5)]
    assert segments(quiet, cfg) == []
    exact = frames_of(np.concatenate([gap(25), buzz(50, -25.0, 200.0), gap(30)]))
    level = exact[25].level_dbfs
    assert {d.level_dbfs for d in exact[25:75]} == {level}
    assert all(webrtc(exact, 3)[25:75])
    at_level = dataclasses.replace(CFG, min_level_dbfs=level)
    assert [(s.start, s.end) for s in segments(exact, at_level)] == [(0.5, 1.5)]


def test_a_frame_must_stand_energy_margin_db_above_the_noise_floor():
    """A hum at -40 dBFS all along (the floor: it follows the quietest frames at once, and the
    hum's level pulls it back after every frame's rise) and a tone added for 0.5 s from 2 s:
    the hum alone is never speech, the tone is when it lifts the level 15 dB above the hum,
    not when 8 dB."""
    def call(tone_dbfs: float) -> list[Speech]:
        hum = tone(150, -40.0, 1000.0)
        added = np.concatenate([gap(100), tone(25, tone_dbfs), gap(25)])
        return segments(frames_of(hum + added))
    # The two tones' powers add: -40 and -32.6 dBFS make -31.9, 8 dB over the hum.
    assert call(-32.6) == []
    assert [(s.start, s.end) for s in call(-25.1)] == [(2.0, 2.5)]


def test_a_frame_is_unmasked_unless_the_caller_says_so():
    """``masked`` defaults to False: frames handed over alone (no tone detector on the
    channel) are judged on their sound."""
    vad = ChannelVad("agent", CFG)
    frames = frames_of(np.concatenate([gap(25), tone(50), gap(30)]))
    events = [e for d in frames for e in vad.process(d)]
    assert [(e.start, e.end) for e in events if isinstance(e, Speech)] == [(0.5, 1.5)]
