"""Whisper's CER on a whole replayed call against the words its clips say, per window choice.

    .venv/bin/python scripts/cer_replay.py [--minutes 10] [--windows 20:0 10,15,20:5 ...]

The call is ``scripts/bench_replay.py``'s (the demo conversation repeated; its truth file lists
every clip placed, with its exact text). It is replayed through the real pipeline with the
zh-CN profile and faster-whisper (one thread) once per window choice ``W1,W2,...:MARGIN``
(``[asr] whisper_windows_s`` and ``whisper_window_margin_s``): ``20:0`` encodes every phrase
in one 20 s window, as before the windows were chosen per phrase; the default also runs the
profile's own choice. Per choice it prints the CER of each channel and of both
(``monitor.text.error_counts`` of the channel's utterances joined in time order against its
clips' texts joined, so how the pipeline cut the phrases does not count), how many phrases
each window got, and the process CPU seconds of the replay (model loading excluded).
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

from bench_replay import REPO_DIR, long_call

from monitor.asr import load_whisper
from monitor.asr.whisper import WhisperRecognizer
from monitor.config import Config, load_config
from monitor.text import error_counts
from testkit.replay import of_type, replay_records

CHANNELS = ("agent", "customer")


def parse_choice(text: str) -> tuple[tuple[int, ...], float]:
    """``10,15,20:5`` -> ((10, 15, 20), 5.0)."""
    windows, _, margin = text.partition(":")
    return tuple(int(w) for w in windows.split(",")), float(margin or 0.0)


def windows_used(recognizer: WhisperRecognizer) -> collections.Counter[int]:
    """Counts the encoder window of every decode ``recognizer`` makes from now on."""
    used: collections.Counter[int] = collections.Counter()
    window_s = recognizer.window_s

    def counting(audio_s: float) -> int:
        used[window_s(audio_s)] += 1
        return window_s(audio_s)

    recognizer.window_s = counting  # type: ignore[method-assign]
    return used


def measure(cfg: Config, wav: Path, truth: dict[str, list[str]]
            ) -> tuple[dict[str, float], collections.Counter[int], float]:
    """CER per channel and overall, the windows used, CPU seconds of the replay."""
    recognizer = load_whisper(cfg.asr, cfg.language)
    used = windows_used(recognizer)
    started = time.process_time()
    records = replay_records(wav, cfg, recognizer)
    cpu_s = time.process_time() - started
    edits = units = 0
    cer: dict[str, float] = {}
    for channel in CHANNELS:
        said = sorted(of_type(records, "utterance", channel=channel), key=lambda r: r["start"])
        e, n = error_counts("".join(truth[channel]), "".join(r["text"] for r in said),
                            cfg.language)
        cer[channel], edits, units = e / n, edits + e, units + n
    cer["both"] = edits / units
    return cer, used, cpu_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--windows", nargs="+", type=parse_choice,
                        help="window choices W1,W2,...:MARGIN (default: 20:0 and the profile's)")
    args = parser.parse_args()
    out_dir = REPO_DIR / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    wav = long_call(args.minutes, out_dir)
    placed = json.loads(wav.with_suffix(".truth.json").read_text(encoding="utf-8"))
    truth = {c: [u["text"] for u in sorted(placed["utterances"], key=lambda u: u["start"])
                 if u["channel"] == c] for c in CHANNELS}
    base = load_config("zh-CN", {"asr": {"whisper_threads": 1}})
    choices = args.windows or [((20,), 0.0),
                               (base.asr.whisper_windows_s, base.asr.whisper_window_margin_s)]
    print(f"call: {wav} ({placed['duration_s']:.0f} s, two channels), "
          f"{base.asr.whisper_model}, one thread")
    for windows, margin in choices:
        cfg = load_config("zh-CN", {"asr": {"whisper_threads": 1, "whisper_windows_s": list(
            windows), "whisper_window_margin_s": margin}})
        cer, used, cpu_s = measure(cfg, wav, truth)
        label = f"windows {','.join(map(str, windows))} s, margin {margin:g} s"
        counts = " ".join(f"{w}s:{n}" for w, n in sorted(used.items()))
        print(f"{label:<32} CER agent {cer['agent']:6.2%} customer {cer['customer']:6.2%} "
              f"both {cer['both']:6.2%}  decodes {counts}  replay CPU {cpu_s:6.1f} s "
              f"({placed['duration_s'] / cpu_s:.1f}x real time)")


if __name__ == "__main__":
    main()
