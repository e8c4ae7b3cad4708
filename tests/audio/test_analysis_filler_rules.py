"""The filled-pause detector's rules (``FillerDetector``) on a synthetic filler whose every
property is known: a buzz (11 harmonics of 150 Hz, -20 dBFS), voiced with a level pitch and a
still spectrum, set off by digital silence; white noise stands for speech around it (loud, not
voiced, never steady).

test_fillers.py measures the detector on the clip library; these check the rules its
docstring and ``[fillers]`` in config/default.toml state, at their edges: the length limits,
the pitch span, the pauses before and after and how close they must be, when a filler is
reported, the glitch a run survives, and that times are audio times rounded to the
millisecond (docs/contract.md).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from monitor.analysis.fillers import FillerDetector
from monitor.config import FillerConfig, load_config
from monitor.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE_HZ, Channel, Filler

CFG = load_config().fillers
F0_HZ = 150.0


def buzz(seconds: float, glide_st: float = 0.0, step_st: float = 0.0,
         glitch: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The filler: its pitch glides by ``glide_st`` semitones over its length, or steps by
    ``step_st`` half way through, or jumps by ``glitch[1]`` semitones for ``glitch[0]``
    seconds half way through."""
    t = np.arange(round(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    f0 = F0_HZ * 2 ** (glide_st / 12 * t / seconds) * np.where(t < seconds / 2, 1.0,
                                                                2 ** (step_st / 12))
    f0 *= np.where((t >= seconds / 2) & (t < seconds / 2 + glitch[0]), 2 ** (glitch[1] / 12),
                   1.0)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE_HZ
    wave = sum(np.sin(k * phase) / k for k in range(1, 12))
    return 32768.0 * 0.1 * wave / np.sqrt(np.mean(wave**2))


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE_HZ))


def speech(seconds: float) -> np.ndarray:
    return np.random.default_rng(1).normal(0.0, 3000.0, round(seconds * SAMPLE_RATE_HZ))


def fed(audio: np.ndarray, cfg: FillerConfig = CFG, t0: float = 0.0,
        channel: Channel = "agent") -> list[tuple[float, Filler]]:
    """Each filler with the time of the frame that reported it, frame by frame (a second of
    silence added at the end)."""
    detector = FillerDetector(cfg, channel)
    pcm = np.round(np.concatenate([audio, silence(1.0)]))
    return [(t0 + i * FRAME_S, f) for i in range(pcm.size // FRAME_SAMPLES)
            for f in detector.process(pcm[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES],
                                      t0 + i * FRAME_S)]


def fillers(audio: np.ndarray, cfg: FillerConfig = CFG) -> list[tuple[float, float]]:
    return [(f.start, f.end) for _, f in fed(audio, cfg)]


def test_a_filler_is_found_on_the_buzz_in_audio_time_to_the_millisecond():
    """A buzz from 0.5 to 1.0 s in frames stamped from 3.1234567 s, on the customer's
    channel: one filler within 20 ms of the buzz's ends, its times rounded to the ms."""
    t0 = 3.1234567
    found = [f for _, f in fed(np.concatenate([silence(0.5), buzz(0.5), silence(0.5)]),
                               t0=t0, channel="customer")]
    assert len(found) == 1
    filler = found[0]
    assert filler.channel == "customer"
    assert (filler.start, filler.end) == (round(filler.start, 3), round(filler.end, 3))
    assert t0 + 0.5 <= filler.start <= t0 + 0.52
    assert t0 + 0.98 <= filler.end <= t0 + 1.0


def test_a_filler_is_reported_once_the_pause_after_it_is_confirmed():
    """"At most pause_within_s + min_pause_s after its end", and not before ``min_pause_s`` of
    pause has followed it."""
    [(reported, filler)] = fed(np.concatenate([silence(0.5), buzz(0.5), silence(0.5)]))
    assert filler.end + CFG.min_pause_s - FRAME_S <= reported
    assert reported <= filler.end + CFG.pause_within_s + CFG.min_pause_s


def test_a_filler_may_be_as_long_as_max_s_and_no_longer():
    """A buzz of 1.52 s makes a filler of exactly ``max_s`` (1.5 s), which counts ("at most
    max_s"); one of 1.6 s is a held tone, not a filler."""
    assert CFG.max_s == 1.5
    [(start, end)] = fillers(np.concatenate([silence(0.5), buzz(1.52), silence(0.5)]))
    assert end - start == pytest.approx(CFG.max_s)
    assert fillers(np.concatenate([silence(0.5), buzz(1.6), silence(0.5)])) == []


def test_a_filler_may_not_be_shorter_than_min_s():
    assert CFG.min_s == 0.25
    assert fillers(np.concatenate([silence(0.5), buzz(0.24), silence(0.5)])) == []
    [(start, end)] = fillers(np.concatenate([silence(0.5), buzz(0.3), silence(0.5)]))
    assert end - start >= CFG.min_s


def test_a_pitch_that_moves_too_far_over_the_filler_is_speech():
    """``max_pitch_range_st`` (6.5): a buzz gliding 4 semitones is a filler, one gliding 9
    (in steps of a third of a semitone a frame, each small enough to be steady) is not."""
    assert fillers(np.concatenate([silence(0.5), buzz(0.5, glide_st=4.0), silence(0.5)]))
    assert fillers(np.concatenate([silence(0.5), buzz(0.5, glide_st=9.0), silence(0.5)])) == []


@pytest.mark.parametrize(("unsteady", "found"), [(2, True), (1, False), (0, False)])
def test_a_run_survives_max_unsteady_frames(unsteady, found):
    """A pitch step of 2.5 semitones on a frame boundary, half way through a 1 s buzz, makes
    two frames unsteady (the window straddling the step differs from the one before it, and
    the one after from it): one filler over the whole buzz where two unsteady frames are
    tolerated; where fewer, two halves, the first with no pause after it and the second with
    none before it, so no filler."""
    cfg = dataclasses.replace(CFG, max_unsteady_frames=unsteady)
    audio = np.concatenate([silence(0.5), buzz(1.0, step_st=2.5), silence(0.5)])
    assert len(fillers(audio, cfg)) == (1 if found else 0)


def test_the_pause_before_must_last_min_pause_s():
    """Speech, then a pause, then the buzz: a pause of 0.18 s does not set it off, one of
    0.22 s (over ``min_pause_s``, 0.2) does."""
    assert CFG.min_pause_s == 0.2
    short = np.concatenate([speech(0.5), silence(0.18), buzz(0.5), silence(0.5)])
    long = np.concatenate([speech(0.5), silence(0.22), buzz(0.5), silence(0.5)])
    assert fillers(short) == []
    assert len(fillers(long)) == 1
    # The same at the start of the audio, where the pause is the silence from its first frame.
    assert fillers(np.concatenate([silence(0.18), buzz(0.5), silence(0.5)])) == []
    assert len(fillers(np.concatenate([silence(0.22), buzz(0.5), silence(0.5)]))) == 1


@pytest.mark.parametrize("after", [False, True])
def test_the_pauses_must_be_within_pause_within_s_of_the_filler(after):
    """0.1 or 0.16 s of speech between the buzz and its pause leaves the pause close enough
    (``pause_within_s`` 0.2), and so does 0.18 s before it; 0.3 s does not. (After the buzz,
    0.18 s is measured as 0.2 exactly, from the window centres 10 ms inside the buzz and the
    pause: the edge itself, left out.)"""
    def around(gap_s: float) -> np.ndarray:
        parts = [silence(0.5), speech(gap_s), buzz(0.5), silence(0.5)]
        if after:
            parts = [silence(0.5), buzz(0.5), speech(gap_s), silence(0.5)]
        return np.concatenate(parts)

    assert CFG.pause_within_s == 0.2
    close = (0.1, 0.16) if after else (0.1, 0.16, 0.18)
    assert [len(fillers(around(gap_s))) for gap_s in close] == [1] * len(close)
    assert fillers(around(0.3)) == []


def test_a_steady_run_before_any_pause_is_no_filler():
    """With ``max_unsteady_frames`` spanning a whole pause (10 frames, 0.2 s) every loud frame
    is analysed, also before the first pause: a buzz at the very start, then speech, has no
    pause before it and is no filler; the same buzz after a pause is one."""
    cfg = dataclasses.replace(CFG, max_unsteady_frames=10)
    assert fillers(np.concatenate([buzz(0.5), speech(0.5), silence(0.5)]), cfg) == []
    assert len(fillers(np.concatenate([silence(0.5), buzz(0.5), silence(0.5)]), cfg)) == 1


def test_a_detector_hears_the_agent_unless_told_otherwise():
    """The detector is for the agent's audio: without a channel its fillers are the agent's."""
    detector = FillerDetector(CFG)
    pcm = np.round(np.concatenate([silence(0.5), buzz(0.5), silence(1.0)]))
    found = [f for i in range(pcm.size // FRAME_SAMPLES)
             for f in detector.process(pcm[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES], i * FRAME_S)]
    assert [f.channel for f in found] == ["agent"]


def test_one_block_handed_over_part_way_into_the_audio_changes_no_filler():
    """``prepare`` only batches the analysis: the first 10 frames fed one by one, then the rest
    handed over in one block, give the fillers of feeding them all one by one."""
    audio = np.concatenate([silence(0.5), buzz(0.5), silence(0.5), buzz(0.4), silence(1.0)])
    rows = np.round(audio).reshape(-1, FRAME_SAMPLES)
    alone = fillers(audio[: len(rows) * FRAME_SAMPLES - SAMPLE_RATE_HZ])
    detector = FillerDetector(CFG)
    found = []
    for i, row in enumerate(rows):
        if i == 10:
            detector.prepare(rows[10:])
        found += [(f.start, f.end) for f in detector.process(row, i * FRAME_S)]
    assert len(alone) == 2
    assert found == alone


def test_a_quiet_filler_over_quiet_dbfs_is_found_and_one_under_it_is_pause():
    """``quiet_dbfs`` (-40): the buzz at -38 dBFS is a filler, found as the loud one is
    (within 20 ms of its ends); at -42 dBFS it is pause."""
    assert CFG.quiet_dbfs == -40.0

    def at(dbfs: float) -> list[tuple[float, float]]:
        quiet = buzz(0.5) * 10 ** ((dbfs + 20.0) / 20)
        return fillers(np.concatenate([silence(0.5), quiet, silence(0.5)]))

    [(start, end)] = at(-38.0)
    assert 0.5 <= start <= 0.52
    assert 0.98 <= end <= 1.0
    assert at(-42.0) == []


def test_the_pitch_of_a_glitch_inside_a_run_is_not_its_pitch_span():
    """A glitch the run survives ("a pitch-tracking glitch", ``max_unsteady_frames``) is not
    the filler's pitch: 40 ms at 8 semitones up in a level 1 s buzz, with four unsteady frames
    tolerated, leaves one filler over the whole buzz."""
    cfg = dataclasses.replace(CFG, max_unsteady_frames=4)
    audio = np.concatenate([silence(0.5), buzz(1.0, glitch=(0.04, 8.0)), silence(0.5)])
    [(start, end)] = fillers(audio, cfg)
    assert (0.5 <= start <= 0.52, 1.48 <= end <= 1.5) == (True, True)


def test_a_pause_after_of_exactly_min_pause_s_confirms_the_filler():
    """A pause after the buzz that lasts ``min_pause_s`` (ten quiet windows, 0.22 s of
    silence) and is followed by speech confirms the filler; a shorter one (0.16 s) does not."""
    def then(pause_s: float) -> list[tuple[float, float]]:
        return fillers(np.concatenate([silence(0.5), buzz(0.5), silence(pause_s), speech(0.5)]))

    assert len(then(0.22)) == 1
    assert then(0.16) == []


def test_a_pitch_floor_under_the_window_s_reach_is_searched_to_half_the_window():
    """``pitch_min_hz`` 40 Hz asks for lags past half the 40 ms window (320 samples, 50 Hz):
    the search stops there, and the buzz is still a filler."""
    cfg = dataclasses.replace(CFG, pitch_min_hz=40.0)
    assert len(fillers(np.concatenate([silence(0.5), buzz(0.5), silence(0.5)]), cfg)) == 1
