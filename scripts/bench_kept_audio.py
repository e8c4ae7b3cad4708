"""What kept audio costs, per format: megabytes per minute of call on disk, and CPU seconds
spent keeping (collecting, encoding, writing) per minute of audio.

    .venv/bin/python scripts/bench_kept_audio.py [--minutes 5] [--bitrate 24]

The synthesised demo call (two sides of speech, rings, silences), repeated to ``--minutes``,
is read into the pipeline's frames first; then each format's ``AudioKeeper`` takes every step
as a session hands them over and is closed. CPU time is the process's (the keeper's writer
thread included), so it is measured one format at a time; the load average is printed beside
it. The files are decoded again to check that each holds the whole call.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from monitor.frames import Frame
from monitor.sinks.audio import AudioKeeper
from monitor.sinks.audio_formats import SUFFIX, AudioFormat
from monitor.sources.wavfile import WavSource
from testkit.kept import decoded_s

FORMATS: tuple[AudioFormat, ...] = ("wav", "flac", "opus")


def measure(steps: list[tuple[Frame, ...]], audio_format: AudioFormat, bitrate: int,
            out: Path) -> tuple[float, float]:
    """(bytes per audio minute, CPU seconds per audio minute) of keeping ``steps``."""
    started = time.process_time()
    keeper = AudioKeeper(out, audio_format, bitrate)
    for frames in steps:
        keeper.frames(frames)
    keeper.close("complete")
    cpu = time.process_time() - started
    minutes = len(steps) * 0.02 / 60
    if abs(decoded_s(out) - minutes * 60) > 0.05:
        raise SystemExit(f"{out}: decodes to {decoded_s(out):.2f} s, not {minutes * 60:.2f} s")
    return out.stat().st_size / minutes, cpu / minutes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--bitrate", type=int, default=24, help="Opus kbit/s")
    args = parser.parse_args()
    import bench_decode  # the long call of the decode benchmark, beside this script

    with tempfile.TemporaryDirectory() as tmp:
        steps = list(WavSource(bench_decode.long_wav(args.minutes, Path(tmp))).frames())
        load_before = os.getloadavg()[0]
        print(f"{args.minutes:g} minutes of the demo call, 16 kHz stereo (agent, customer)")
        for audio_format in FORMATS:
            size, cpu = measure(steps, audio_format, args.bitrate,
                                Path(tmp) / f"kept{SUFFIX[audio_format]}")
            label = f"{audio_format} {args.bitrate} kbit/s" if audio_format == "opus" else \
                audio_format
            print(f"{label:18s} {size / 1e6:6.2f} MB per minute   "
                  f"{cpu:6.3f} CPU s per audio minute")
        load = max(load_before, os.getloadavg()[0])
    print(f"load average {load:.2f} on {os.cpu_count() or 1} cores"
          + (": the machine was LOADED by other work, CPU figures are high" if load > 0.5
             else ""))


if __name__ == "__main__":
    main()
