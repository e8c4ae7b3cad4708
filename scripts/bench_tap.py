"""How many concurrent calls one ``callmonitor tap`` process holds in real time.

Starts ``callmonitor tap --asr none`` (a process of its own, SQLite store) and plays N calls at
once into it, each as two AudioSocket legs sending 20 ms messages at real-time pace (the demo
call's first ``--seconds``, 8 kHz), starting spread over one second. A call is held when its
backlog does not grow: every leg could send at real-time pace (at most ``MAX_LATE_S`` behind its
schedule, or the tap held it back) and every session was stored complete within
``MAX_END_LAG_S`` of its last message. N doubles from 1 until a run fails, then is bisected;
prints each run, the largest N held, the tap's peak memory and the machine's load (the clients
run on the same machine and take CPU too: on a machine other work loads, the figure drops).

    .venv/bin/python scripts/bench_tap.py [--seconds 40] [--max-calls 256]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))

from monitor.storage.sessions import list_sessions  # noqa: E402
from testkit.audiosocket_client import (  # noqa: E402
    KIND_HANGUP,
    MESSAGE_SAMPLES,
    RATE_HZ,
    audio_messages,
    message,
    uuid_message,
)
from testkit.postgres import free_port  # noqa: E402

MAX_LATE_S = 1.0
MAX_END_LAG_S = 2.0
MESSAGE_S = MESSAGE_SAMPLES / RATE_HZ


def demo_8k(seconds: float, out: Path) -> np.ndarray:
    """The demo call (8 kHz mu-law) as 16-bit stereo samples, with sox (scripts/setup.sh)."""
    subprocess.run(["sox", str(REPO_DIR / "demo" / "demo_call.wav"), "-e", "signed-integer",
                    "-b", "16", str(out), "trim", "0", str(seconds)], check=True)
    with wave.open(str(out), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)


async def leg(port: int, call_id: str, pcm: np.ndarray, start: float) -> float:
    """Send one leg on schedule; how late (s) its sending ended behind real time."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, start - loop.time()))
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(uuid_message(call_id))
    late = 0.0
    for n, data in enumerate(audio_messages(pcm)):
        due = start + n * MESSAGE_S
        await asyncio.sleep(max(0.0, due - loop.time()))
        writer.write(data)
        await writer.drain()  # the tap holding the leg back shows as lateness
        late = max(late, loop.time() - due)
    writer.write(message(KIND_HANGUP))
    await writer.drain()
    writer.close()
    return late


async def play(n: int, ports: tuple[int, int], stereo: np.ndarray) -> tuple[list[str], float]:
    """N calls at once; their ids and the worst lateness of any leg."""
    loop = asyncio.get_running_loop()
    rng = np.random.default_rng(n)
    ids = [str(uuid.uuid4()) for _ in range(n)]
    starts = loop.time() + 0.5 + rng.uniform(0.0, 1.0, n)
    lates = await asyncio.gather(*[leg(ports[side], call_id, stereo[:, side], start)
                                   for call_id, start in zip(ids, starts, strict=True)
                                   for side in (0, 1)])
    return ids, max(lates)


def end_lag(db: str, ids: list[str], timeout_s: float) -> float:
    """Seconds from the end of sending until every call's session was stored complete."""
    sent = time.monotonic()
    while True:
        done = {s.source.split()[1]: s.status for s in list_sessions(db, 100_000)
                if s.source.split()[1] in ids and s.status != "running"}
        if len(done) == len(ids):
            assert set(done.values()) == {"complete"}, done
            return time.monotonic() - sent
        if time.monotonic() - sent > timeout_s:
            return float("inf")
        time.sleep(0.05)


def run(n: int, ports: tuple[int, int], stereo: np.ndarray, db: str) -> bool:
    ids, late = asyncio.run(play(n, ports, stereo))
    lag = end_lag(db, ids, timeout_s=60.0)
    held = late <= MAX_LATE_S and lag <= MAX_END_LAG_S
    print(f"{n:4d} calls: legs at most {late:5.2f} s behind, stored {lag:5.2f} s after the "
          f"last message: {'held' if held else 'NOT held'}  (load {loadavg()})", flush=True)
    return held


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmHWM")


def search(held: Callable[[int], bool], max_calls: int) -> int:
    """The largest N in 1..max_calls for which ``held(N)``: doubling, then bisection."""
    good, n = 0, 1
    while n <= max_calls and held(n):
        good, n = n, n * 2
    bad = min(n, max_calls + 1)
    while bad - good > max(1, good // 8):  # to within an eighth
        mid = (good + bad) // 2
        good, bad = (mid, bad) if held(mid) else (good, mid)
    return good


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each call")
    parser.add_argument("--max-calls", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stereo = demo_8k(args.seconds, Path(tmp) / "demo8k.wav")
        db = str(Path(tmp) / "tap.sqlite3")
        ports = (free_port(), free_port())
        err = Path(tmp) / "tap.err"
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "tap", "--asr", "none", "--db", db,
             "--audiosocket-agent", f"127.0.0.1:{ports[0]}",
             "--audiosocket-customer", f"127.0.0.1:{ports[1]}", "--websocket", ""],
            cwd=REPO_DIR, stderr=err.open("w"))
        try:
            while "listening" not in err.read_text():
                assert proc.poll() is None, err.read_text()
                time.sleep(0.05)
            print(f"{len(stereo) / RATE_HZ:.0f} s calls, --asr none, load before {loadavg()}")
            best = search(lambda n: run(n, ports, stereo, db), args.max_calls)
            print(f"one tap process holds {best} concurrent calls in real time "
                  f"(--asr none; peak memory {peak_rss_mib(proc.pid):.0f} MiB; load "
                  f"{loadavg()})")
        finally:
            proc.terminate()
            proc.wait(60)


if __name__ == "__main__":
    main()
