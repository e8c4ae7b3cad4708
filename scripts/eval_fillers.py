"""Filler detection figures: recall, precision and false alarms a minute of filler-free speech.

The set (``testkit/fillers.py``): every filler-free agent clip of the library as it is, and
``--variants`` copies of each with 1-3 of the library's 嗯 / 啊 / 呃 inserted in its pauses,
stretched to 0.3-0.8 s and shifted -3 to +3 semitones (seeded, so every run is the same set).
Three detectors are scored on it: the acoustic one alone (``monitor.analysis.fillers``), the
recogniser alone (Whisper base, the profile's filler tokens in its words) and the two merged
as ``filler.excess`` merges them (overlapping fillers count once). A detection is a hit when
it overlaps a true filler widened by ``--tolerance`` seconds; false alarms a minute are
counted over the clips without inserted fillers. Also prints the acoustic detector's CPU
time per second of audio.

    PYTHONPATH=$PWD .venv/bin/python scripts/eval_fillers.py [--asr none] [--variants 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from monitor.analysis.fillers import FillerDetector
from monitor.asr import load_recognizer
from monitor.asr.base import Recognizer
from monitor.config import Config, load_config
from monitor.engine.phrase_match import PhraseMatcher, family_matcher
from monitor.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE_HZ
from monitor.pcm import PCM_DTYPE
from testkit import fillers as tf
from testkit import synth

Span = tuple[float, float]


def acoustic(cfg: Config, samples: np.ndarray) -> tuple[list[Span], float]:
    """The detector's fillers, fed 20 ms frames as the pipeline does, and its CPU seconds."""
    detector = FillerDetector(cfg.fillers)
    padded = np.concatenate([samples, np.zeros(SAMPLE_RATE_HZ)])  # the call goes on quietly
    found: list[Span] = []
    cpu = time.process_time()
    for i in range(padded.size // FRAME_SAMPLES):
        frame = padded[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES]
        found += [(f.start, f.end) for f in detector.process(frame, i * FRAME_S)]
    return found, time.process_time() - cpu


def recognised(recognizer: Recognizer, matcher: PhraseMatcher, samples: np.ndarray) -> list[Span]:
    """Filler tokens in Whisper's words for the whole sentence (one phrase)."""
    decoder = recognizer.decoder("agent")
    pcm = synth.to_int16(samples).astype(PCM_DTYPE).tobytes()
    decoder.begin(0.0, pcm)
    utterance = decoder.finish(0.0, samples.size / SAMPLE_RATE_HZ)
    return [] if utterance is None else [(m.start, m.end) for m in matcher.find(utterance)]


def merged(heard: list[Span], written: list[Span]) -> list[Span]:
    """As filler.excess counts: a written filler overlapping a heard one is that one."""
    return heard + [w for w in written if not any(overlap(w, h, 0.0) for h in heard)]


def overlap(a: Span, b: Span, tolerance: float) -> bool:
    return a[0] < b[1] + tolerance and b[0] < a[1] + tolerance


def score(rows: list[tuple[list[Span], list[Span], float]], tolerance: float) -> str:
    """Recall, precision and false alarms a minute (of the clips with no fillers)."""
    truth = sum(len(t) for t, _, _ in rows)
    hits = sum(any(overlap(t, f, tolerance) for f in found) for ts, found, _ in rows for t in ts)
    found_n = sum(len(found) for _, found, _ in rows)
    true_found = sum(any(overlap(f, t, tolerance) for t in ts) for ts, found, _ in rows
                     for f in found)
    free_min = sum(s for ts, _, s in rows if not ts) / 60.0
    false_free = sum(len(found) for ts, found, _ in rows if not ts)
    precision = true_found / found_n if found_n else float("nan")
    return (f"recall {hits}/{truth} = {hits / truth:.3f}  precision {true_found}/{found_n} = "
            f"{precision:.3f}  false alarms {false_free} in {free_min:.2f} min of filler-free "
            f"speech = {false_free / free_min:.2f}/min")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asr", choices=("whisper", "none"), default="whisper")
    parser.add_argument("--variants", type=int, default=2, help="filled copies of each clip")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--tolerance", type=float, default=0.15)
    args = parser.parse_args(argv)
    cfg = load_config("zh-CN")
    data = tf.filler_set(args.variants, args.seed)
    recognizer = load_recognizer(cfg.asr, cfg.language, "whisper") if args.asr != "none" else None
    matcher = family_matcher(cfg, "filler")
    rows: dict[str, list[tuple[list[Span], list[Span], float]]] = {"acoustic": []}
    if recognizer is not None:
        rows |= {"asr": [], "merged": []}
    cpu = audio_s = 0.0
    for _, sentence in data:
        truth, seconds = list(sentence.fillers), sentence.samples.size / SAMPLE_RATE_HZ
        heard, spent = acoustic(cfg, sentence.samples)
        cpu, audio_s = cpu + spent, audio_s + seconds
        rows["acoustic"].append((truth, heard, seconds))
        if recognizer is not None:
            written = recognised(recognizer, matcher, sentence.samples)
            rows["asr"].append((truth, written, seconds))
            rows["merged"].append((truth, merged(heard, written), seconds))
    print(f"{len(data)} sentences, {audio_s / 60:.1f} min, "
          f"{sum(len(s.fillers) for _, s in data)} inserted fillers")
    for name, scored in rows.items():
        print(f"{name:9s} {score(scored, args.tolerance)}")
    print(f"acoustic detector CPU: {1000 * cpu / audio_s:.2f} ms per second of audio "
          f"({100 * cpu / audio_s:.2f} % of one core)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
