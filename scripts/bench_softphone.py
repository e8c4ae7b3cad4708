"""How exact ``live --softphone`` counts rings and times the pickup, over several real calls.

    .venv/bin/python scripts/bench_softphone.py [--calls 8] [--seed 1]

A private PulseAudio server, baresip 1.0.0 on loopback (testkit/softphone.py) and one
``callmonitor live --softphone ... --asr none`` process following it. sipp places ``--calls``
calls one after the other; each is answered (baresip's ``a`` key) after a delay drawn
uniformly between a quarter ring and two and a half ring cycles of the profile's cadence (zh-CN:
CN, a ring every 5 s), then hung up at the desk a second later. The truth is external: sipp's
message trace says when it sent the INVITE, this process when it pressed the key; the truth's
rings are the cycles begun before the key (the rule the README states). Printed per call and
in sum: rings counted against the truth, the pickup time's error (live's ``pickup`` minus the
key's time after the INVITE), and how busy the machine was (the figures depend on it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.config import load_config  # noqa: E402
from testkit.pulse import PulseServer  # noqa: E402
from testkit.softphone import Baresip, Caller, connected_to  # noqa: E402

PHONE_OUT, AGENT_MIC, SPARE = "softphone_out", "agent_mic", "spare"


def start_live(pulse: PulseServer, phone: Baresip, folder: Path) -> subprocess.Popen:
    env = {**os.environ, **pulse.client_env(), "XDG_CACHE_HOME": str(folder / "cache"),
           "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "live", "--softphone",
         f"baresip:127.0.0.1:{phone.ctrl_port}", "--agent-device", f"pulse:{AGENT_MIC}.monitor",
         "--customer-device", f"pulse:{PHONE_OUT}.monitor", "--asr", "none", "--json",
         "--no-whisper", "--db", str(folder / "calls.sqlite3")],
        env=env, stdout=(folder / "out.jsonl").open("w"), stderr=(folder / "err.txt").open("w"))
    deadline = time.monotonic() + 30
    while not connected_to(phone.ctrl_port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"live did not connect:\n{(folder / 'err.txt').read_text()}")
        time.sleep(0.05)
    return proc


def one_call(phone: Baresip, folder: Path, answer_after_s: float) -> float:
    """A call answered ``answer_after_s`` after sipp started; returns the truth's answer time
    after the INVITE."""
    caller = Caller(folder, np.zeros(8000), hold=False)
    started = caller.start(phone.sip_port)
    time.sleep(max(0.0, started + answer_after_s - time.time()))
    accept = phone.key("a")
    time.sleep(1.0)
    phone.key("b")
    if caller.wait() != 0:
        raise SystemExit((folder / "sipp.log").read_text())
    [invite] = caller.sent("INVITE")
    return accept - invite


def summaries(path: Path) -> list[dict]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    pickups = iter(r for r in records if r["type"] == "pickup")
    return [{**r, "pickup": next(pickups)} for r in records if r["type"] == "summary"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    period = load_config("zh-CN").softphone.ring_period_s
    delays = np.random.default_rng(args.seed).uniform(0.25 * period, 2.5 * period, args.calls)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, PulseServer(rate=8000) as pulse:
        folder = Path(tmp)
        pulse.add_call_sinks(SPARE, PHONE_OUT, AGENT_MIC)
        with Baresip(pulse, player=PHONE_OUT, source=f"{AGENT_MIC}.monitor",
                     alert=SPARE) as phone:
            live = start_live(pulse, phone, folder)
            truths = [one_call(phone, folder / f"call{i}", d) for i, d in enumerate(delays)]
            time.sleep(0.5)
            live.send_signal(signal.SIGTERM)
            live.wait(20)
        got = summaries(folder / "out.jsonl")
    report(truths, got, period, load_before)


def report(truths: list[float], got: list[dict], period: float, load_before: float) -> None:
    exact, errors = 0, []
    print(f"{'answered (s)':>12}  {'rings':>5}  {'truth':>5}  {'pickup (s)':>10}  {'error (s)':>9}")
    for truth, summary in zip(truths, got, strict=True):
        truth_rings = math.ceil(truth / period)
        rings, pickup = summary["rings_before_pickup"], summary["pickup"]["t"]
        exact += rings == truth_rings
        errors.append(pickup - truth)
        print(f"{truth:12.3f}  {rings:5d}  {truth_rings:5d}  {pickup:10.3f}  "
              f"{pickup - truth:+9.3f}")
    print(f"rings exact: {exact}/{len(truths)}; pickup error: mean "
          f"{statistics.mean(errors):+.3f} s, max |error| {max(map(abs, errors)):.3f} s "
          "(limit 0.3 s)")
    print(f"machine load (1-min average): {load_before:.2f} before, {os.getloadavg()[0]:.2f} "
          f"after, on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
