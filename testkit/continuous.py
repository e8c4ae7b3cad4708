"""Sound that never pauses, with known words at known times: the Mandarin library's agent clips
cut to their speech and joined end to end, their own pauses shortened below the VAD's
hangover, so the VAD hears one segment from the first clip to the last (issue #11: an hour of
music, or a caller who never stops, on one channel).

The file is written clip by clip, so an hour of it never has to fit in memory; what was
placed where is the truth the tests and ``scripts/bench_memory.py`` compare with.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from testkit.synth import load_clip, to_int16

RATE_HZ = 16000
FRAME = RATE_HZ // 50  # 20 ms, the VAD's frame
LEAD_S = 1.0
"""Silence before the sound and after it: the segment's start and end are then the sound's."""

CLIPS = ("a_greet_ok", "a_explain_fee", "a_advice", "a_sms", "a_confirm", "a_hold_announce",
         "a_alt_dunno", "a_transfer", "a_close_thanks", "a_interrupt", "a_greet_apology")
"""Long agent clips with many characters: each one is several seconds of words to check."""


@dataclass(frozen=True, slots=True)
class PlacedClip:
    """One clip in the continuous sound: its speech from ``start`` to ``end`` (seconds)."""

    name: str
    start: float
    end: float
    text: str


def tight_clip(name: str, max_pause_s: float, quiet_db: float = 35.0) -> np.ndarray:
    """A clip's speech as int16, every run of frames more than ``quiet_db`` under its
    loudest frame that lasts longer than ``max_pause_s`` shortened to that."""
    line = load_clip(name, RATE_HZ)
    speech = line.samples[line.speech_start:line.speech_end]
    n = len(speech) // FRAME
    frames = speech[:n * FRAME].reshape(n, FRAME)
    level = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-9)
    quiet = level < level.max() - quiet_db
    keep, run = [], 0
    for i in range(n):
        run = run + 1 if quiet[i] else 0
        if run * FRAME <= max_pause_s * RATE_HZ:
            keep.append(frames[i])
    return to_int16(np.concatenate(keep))


def write_continuous(path: Path, seconds: float, clips: tuple[str, ...] = CLIPS,
                     max_pause_s: float = 0.1) -> list[PlacedClip]:
    """Write a mono 16 kHz WAV of ``LEAD_S`` silence, clips (in turn, from the first again)
    until they last at least ``seconds``, and ``LEAD_S`` silence; return where each went."""
    silence = np.zeros(round(LEAD_S * RATE_HZ), dtype=np.int16)
    placed: list[PlacedClip] = []
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE_HZ)
        out.writeframes(silence.tobytes())
        t = LEAD_S
        while t < LEAD_S + seconds:
            name = clips[len(placed) % len(clips)]
            audio = tight_clip(name, max_pause_s)
            out.writeframes(audio.tobytes())
            placed.append(PlacedClip(name, t, t + len(audio) / RATE_HZ,
                                     load_clip(name, RATE_HZ).text))
            t += len(audio) / RATE_HZ
        out.writeframes(silence.tobytes())
    return placed
