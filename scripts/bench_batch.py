"""Throughput of ``callmonitor batch --asr none`` on a corpus of short synthesised calls.

Prints, per engine and worker count: wall time (process start to exit, worker start-up and
the table merge included), calls per second, times real time (audio seconds / wall seconds),
the workers' CPU time (from run.json: each call's CPU time in its worker, summed) as times
real time per CPU second, the share of the workers' busy wall time (analysis and part files)
that was CPU time (below 100 %: they waited, for a core on a loaded machine or for the disk),
the wall time outside the workers' calls (start-up, the parent's per-call work, the merge)
and the peak resident memory of each worker (from run.json: every worker reports its own
``getrusage`` peak, so the figure is the pipeline's, not this script's or the synthesiser's).

    .venv/bin/python scripts/bench_batch.py [--calls 1000] [--jobs 1 2] [--engine local ray]
        [--address HEAD_IP:PORT]

``ray`` starts Ray on this machine for each run (in a temporary folder, removed after; its
start, about 5 s, is in the wall time), or joins the cluster at ``--address`` (its token, if
any, in ``RAY_AUTH_TOKEN``); its workers' peak memory is theirs as for ``local`` (Ray's own
processes, its GCS and raylet, are not counted).

The corpus is synthesised once into var/bench_batch/calls-N (each call a greeting, a question,
a hold and a return: about 24 s of two-channel audio, every call with its own noise seed) and
reused by later runs. An engine is a list of extra ``batch`` arguments (``ENGINES``), so
another engine is one more entry.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from testkit import synth

REPO_DIR = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_DIR / "var" / "bench_batch"

ENGINES: dict[str, list[str]] = {"local": [], "ray": ["--engine", "ray"]}
"""Per engine, what ``callmonitor batch`` is given besides the corpus, --out and --jobs."""

CALL = {
    "name": "bench", "language": "zh", "seed": 0, "noise_dbfs": -60.0, "tail_s": 0.5,
    "events": [
        {"channel": "agent", "clip": "a_greet_ok", "at": 0.3},
        {"channel": "customer", "clip": "c_query_bill", "after": 0.5},
        {"channel": "agent", "clip": "a_hold_short", "after": 0.5},
        {"channel": "agent", "clip": "a_hold_sorry", "after": 2.5},
    ],
}


def corpus(n: int) -> Path:
    """``n`` calls, synthesised once (a folder that holds them all is reused)."""
    folder = CACHE_DIR / f"calls-{n}"
    if folder.is_dir() and len(list(folder.glob("*.wav"))) == n:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    with tempfile.TemporaryDirectory() as build:
        for i in range(n):
            made = synth.synthesize({**CALL, "name": f"call{i:05d}", "seed": i}, Path(build))
            folder.mkdir(parents=True, exist_ok=True)
            made.wav.replace(folder / made.wav.name)
    return folder


def run(engine: str, jobs: int, calls: Path, extra: list[str]) -> dict[str, Any]:
    """One batch run in a process of its own: its figures."""
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        env = {**os.environ, "RAY_TMPDIR": tmp}  # a Ray started for the run keeps its files here
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "monitor", "batch", str(calls), "--out",
                               str(out), "--asr", "none", "--jobs", str(jobs),
                               *ENGINES[engine], *extra], capture_output=True, text=True,
                              cwd=REPO_DIR, env=env)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"batch failed ({done.returncode}): {done.stderr}")
        info = json.loads((out / "run.json").read_text(encoding="utf-8"))
        durations = pq.read_table(out / "calls.parquet", columns=["duration_s"]).column(0)
        audio_s = sum(d for d in durations.to_pylist() if d is not None)
    return {"engine": engine, "jobs": jobs, "calls": info["inputs"],
            "status": info["status_counts"], "wall_s": wall, "audio_s": audio_s,
            "workers": info["workers"], "cpu_s": sum(w["cpu_s"] for w in info["workers"]),
            "busy_s": sum(w["busy_s"] for w in info["workers"])}


def report(fig: dict[str, Any]) -> str:
    peaks = ", ".join(f"{w['host']}:{w['pid']} {w['peak_rss_mib']:.0f}" for w in fig["workers"])
    return (f"{fig['engine']:<6} --jobs {fig['jobs']}: {fig['calls']} calls "
            f"({fig['audio_s'] / 3600:.2f} h of audio, {fig['status']}) in {fig['wall_s']:.1f} s"
            f" = {fig['calls'] / fig['wall_s']:.1f} calls/s, "
            f"{fig['audio_s'] / fig['wall_s']:.0f}x real time; workers' CPU {fig['cpu_s']:.1f} s"
            f" = {fig['audio_s'] / fig['cpu_s']:.0f}x real time per CPU second, "
            f"{fig['cpu_s'] / fig['busy_s']:.0%} of their busy time CPU; "
            f"outside calls {fig['wall_s'] - fig['busy_s'] / fig['jobs']:.1f} s; "
            f"peak RSS per worker: {peaks} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--engine", choices=sorted(ENGINES), nargs="+", default=["local"])
    parser.add_argument("--address", default=None,
                        help="ray: the head of a running cluster (default: Ray started here)")
    args = parser.parse_args()
    started = time.perf_counter()
    calls = corpus(args.calls)
    print(f"corpus: {args.calls} calls in {calls} (ready in "
          f"{time.perf_counter() - started:.0f} s); {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    figures = []
    for engine in args.engine:
        for jobs in args.jobs:
            extra = ["--address", args.address] if engine == "ray" and args.address else []
            figures.append(run(engine, jobs, calls, extra))
            print(report(figures[-1]), flush=True)
    if len(figures) > 1:
        base = figures[0]["wall_s"]
        print("speed-up over the first: " + ", ".join(
            f"{f['engine']} --jobs {f['jobs']} {base / f['wall_s']:.2f}x" for f in figures))
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
