"""Agent sentences with filled pauses at known times, built from the clip library.

The library's filler clips say 嗯, 啊 and 呃 as words of their own, set off by pauses
(a_filler1: 嗯，那个，就是说，您的套餐，啊，已经办好了。). Each such filler is cut out at its
speech island, stretched with sox ``tempo`` to the length asked (pitch kept) and shifted in
pitch with sox ``pitch`` if asked, then inserted into another agent sentence in the middle of
one of its pauses, with ``gap_s`` of silence either side. The truth is each inserted filler's
speech island in the result, in seconds: computed from the samples written, never guessed.
"""

from __future__ import annotations

import itertools
import random
import subprocess
from dataclasses import dataclass

import numpy as np

from testkit import synth

RATE_HZ = 16000
SOURCES = {  # name: (clip, index of the filler's speech island in the clip)
    "en_a": ("a_filler1", 0), "a": ("a_filler1", 4), "e": ("a_filler2", 0),
    "en_b": ("a_filler2", 3), "en_c": ("a_bc_en", 0)}
"""Every stand-alone filler of the clip library (en = 嗯, a = 啊, e = 呃)."""
FILLER_CLIPS = ("a_filler1", "a_filler2", "a_bc_en")
"""Clips that hold fillers: every other agent clip is filler-free."""
MARGIN_S = 0.03
"""Kept around a filler's island when it is cut out, so its onset and decay survive."""
MIN_PAUSE_S = 0.3
"""A gap between a sentence's islands at least this long is a pause a filler can go in."""


@dataclass(frozen=True)
class Insert:
    """One filler to insert: which, how long its speech, its pitch shift, after which pause."""

    source: str
    length_s: float
    semitones: float = 0.0
    pause: int = 0


@dataclass(frozen=True)
class FilledSentence:
    samples: np.ndarray
    fillers: tuple[tuple[float, float], ...]
    """(start, end) of each inserted filler's speech, in seconds of ``samples``."""


def islands(samples: np.ndarray) -> list[list[float]]:
    return synth.speech_islands(samples, RATE_HZ)


def clip(name: str) -> np.ndarray:
    return synth.load_clip(name, RATE_HZ).samples


def pauses(samples: np.ndarray) -> list[float]:
    """The middle of every pause between a sentence's speech islands, in seconds."""
    isl = islands(samples)
    return [(a[1] + b[0]) / 2 for a, b in itertools.pairwise(isl)
            if b[0] - a[1] >= MIN_PAUSE_S]


def filler(source: str, length_s: float, semitones: float = 0.0) -> np.ndarray:
    """The filler ``source`` stretched to ``length_s`` of speech, shifted ``semitones``."""
    name, index = SOURCES[source]
    samples = clip(name)
    start, end = islands(samples)[index]
    cut = samples[round((start - MARGIN_S) * RATE_HZ):round((end + MARGIN_S) * RATE_HZ)]
    out = synth.stretch(cut, RATE_HZ, (end - start) / length_s)
    if semitones:
        out = _shift(out, semitones)
    return out


def _shift(samples: np.ndarray, semitones: float) -> np.ndarray:
    raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-r", str(RATE_HZ), "-c", "1"]
    out = subprocess.run(["sox", *raw, "-", *raw, "-", "pitch", f"{semitones * 100:g}"],
                         input=(samples / synth.FULL_SCALE).astype("<f4").tobytes(),
                         check=True, capture_output=True).stdout
    return np.rint(np.frombuffer(out, dtype="<f4").astype(np.float64) * synth.FULL_SCALE)


def fill(sentence: str, inserts: list[Insert], gap_s: float = 0.15) -> FilledSentence:
    """``sentence`` (a clip name) with ``inserts`` placed in its pauses, and their times."""
    samples = clip(sentence)
    cuts = pauses(samples)
    gap = np.zeros(round(gap_s * RATE_HZ))
    parts, fillers, at, pos = [], [], 0, 0
    for ins in sorted(inserts, key=lambda i: i.pause):
        cut = round(cuts[ins.pause] * RATE_HZ)
        parts.append(samples[at:cut])
        pos += cut - at
        audio = filler(ins.source, ins.length_s, ins.semitones)
        speech = islands(audio)
        start = pos + gap.size
        fillers.append((round(start / RATE_HZ + speech[0][0], 3),
                        round(start / RATE_HZ + speech[-1][1], 3)))
        parts += [gap, audio, gap]
        pos += 2 * gap.size + audio.size
        at = cut
    parts.append(samples[at:])
    return FilledSentence(np.concatenate(parts), tuple(fillers))


def filler_set(variants: int, seed: int) -> list[tuple[str, FilledSentence]]:
    """Each filler-free agent clip plain, and ``variants`` filled copies of those with pauses:
    1-3 fillers each, of 0.3-0.8 s, shifted -3 to +3 semitones (seeded: the same set always)."""
    rng = random.Random(seed)
    manifest = synth._manifest(synth.ZH_CLIPS_DIR)
    names = [n for n, e in manifest.items() if e["role"] == "agent" and n not in FILLER_CLIPS]
    out = [(n, FilledSentence(clip(n), ())) for n in names]
    for name in names:
        n_pauses = len(pauses(clip(name)))
        for _ in range(variants if n_pauses else 0):
            where = rng.sample(range(n_pauses), k=min(n_pauses, rng.randint(1, 3)))
            inserts = [Insert(rng.choice(sorted(SOURCES)), rng.uniform(0.3, 0.8),
                              rng.uniform(-3.0, 3.0), p) for p in where]
            out.append((f"{name}+{len(inserts)}", fill(name, inserts)))
    return out
