"""Decode speed of each recording format, one core: how many times faster than real time a
recorded call becomes the pipeline's 16 kHz frames (reading, decoding, resampling, framing).

    .venv/bin/python scripts/bench_decode.py [--minutes 5]

The synthesised demo call is repeated to ``--minutes``, written as a 16 kHz stereo WAV, an
8 kHz mu-law WAV and, with FFmpeg's encoders (testkit/encode.py), FLAC, Ogg Vorbis, Ogg Opus
(48 kHz, as Opus always decodes) and MP3; each is read through ``open_recording`` in a process
pinned to one core. The load average is printed with the figures: taken while other work ran
on the machine, they are labelled as such.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from testkit import synth
from testkit.encode import CODECS, encode_wav

REPO_DIR = Path(__file__).resolve().parent.parent


def long_wav(minutes: float, out_dir: Path) -> Path:
    """The demo call repeated to ``minutes``, as 16-bit stereo WAV."""
    demo = synth.synthesize_file(synth.SCENARIOS_DIR / "demo_call.toml", out_dir)
    with wave.open(str(demo.wav), "rb") as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    reps = int(np.ceil(minutes * 60 * rate / len(pcm)))
    path = out_dir / f"call_{minutes:g}min.wav"
    synth.write_pcm_wav(path, np.tile(pcm, (reps, 1))[:int(minutes * 60 * rate)], rate)
    return path


def run_one(path: Path) -> str:
    """Decode ``path`` to frames in this (pinned) process; one result line."""
    from monitor.sources.recording import open_recording

    source = open_recording(path)
    started = time.perf_counter()
    steps = sum(1 for _ in source.frames())
    elapsed = time.perf_counter() - started
    audio_s = steps * 0.02
    return (f"{source.describe():60s} {audio_s / elapsed:8.0f}x real time "
            f"({elapsed:.2f} s for {audio_s:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        print(run_one(args.run), flush=True)
        return
    with tempfile.TemporaryDirectory() as tmp:
        wav = long_wav(args.minutes, Path(tmp))
        mulaw = Path(tmp) / "call_8k_mulaw.wav"
        subprocess.run(["sox", str(wav), "-r", "8000", "-e", "u-law", str(mulaw)], check=True)
        files = [wav, mulaw, *(encode_wav(wav, codec, Path(tmp)) for codec in CODECS)]
        load_before = os.getloadavg()[0]
        for path in files:
            subprocess.run([sys.executable, __file__, "--run", str(path)], check=True,
                           cwd=REPO_DIR)
        load = max(load_before, os.getloadavg()[0])
    cores = os.cpu_count() or 1
    busy = load > 0.5
    print(f"load average {load:.2f} on {cores} cores"
          + (": the machine was LOADED by other work, figures are low" if busy else ""))


if __name__ == "__main__":
    main()
