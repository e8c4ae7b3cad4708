"""How soon the agent hears a hint, and what ``callmonitor live`` costs, on real PulseAudio.

    .venv/bin/python scripts/bench_live.py [--blocks 6] [--runs none,whisper]

A synthesised call (a block of the situations below, repeated ``--blocks`` times, about 45 s
each) is played in real time into null sinks standing in for the agent's microphone and the
softphone's output; ``callmonitor live`` listens to their monitors and whispers into a third
sink, the headset. Printed per run (``--asr none``, then ``--asr whisper``):

* for each rule, the delay from the moment its condition became true in the audio to the
  first sample of the hint on the headset: p50, p95, max and n. Timing rules (interruption,
  dead air, a hold too long) are due at the call's ``[[expect]]`` times; a forbidden phrase is
  due when the agent has said it (the end of that speech island). Beside them, the median
  part of the delay that passed in audio time before live decided (the rule's own wait: a
  VAD hangover, a phrase gap, a backchannel's length); the rest is processing and playback;
* CPU (percent of one core, the process's own utime + stime over the call, start-up
  excluded; child processes such as ``pactl`` apart) and peak memory (VmHWM);
* how busy the machine was meanwhile (other processes distort every figure here).

The measurement is external, so the delays rest on nothing the product says about itself:
this process records the customer sink's, the agent sink's and the headset's monitors with
its own capture streams, all stamped with one clock. Each expectation is timed from its own
speech island as heard on its sink (a player starved of CPU underruns, and the rest of the
call then plays that much later than its truth says); a hint is the onset of a sound burst on
the headset. The live process's ``hint`` records only say which alert each burst was for and
when live decided to say it (which splits a delay into the rule's wait and the rest).
``--keep DIR`` keeps the call, live's output and the three recordings.

Before each run the call is replayed once (``callmonitor replay --asr RUN``) and any
expectation the replay does not confirm is printed, so a wrong truth is not mistaken for a
slow monitor. Goals printed beside the figures: timing rules p95 < 300 ms, phrase rules
p95 <= 1.0 s with whisper (issue #12), < 25 % of one core without ASR, <= 100 % with Whisper.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from monitor.devices import close_stream, open_stream
from monitor.frames import CHANNELS
from monitor.pcm import float_to_int16
from testkit import synth
from testkit.pulse import PulseServer  # the tests' private PulseAudio daemon

REPO_DIR = Path(__file__).resolve().parent.parent

CLI = [sys.executable, "-m", "monitor"]
AGENT, CUSTOMER, HEADSET, SPARE = "call_agent", "call_customer", "headset", "spare"
RATE_HZ = 16000
CAPTURE_BLOCK = 160  # 10 ms per callback
ONSET_FRAME_S = 0.005
SPEECH_DBFS = synth.ISLAND_THRESHOLD_DBFS  # the truth's islands use the same level
HINT_DBFS = -50.0  # the headset carries nothing but hints: any sound is one
BURST_BRIDGE_S = 0.3  # pauses inside one spoken hint are shorter
MATCH_WINDOW_S = 1.0  # a hint's alert and its expectation
TRACK_S = 0.25  # how far an island may be heard from where the one before it predicts
REPLAY_TOLERANCE_S = 0.15
STOP_TIMEOUT_S = 60.0
CATCH_UP_S = 60.0
HINT_TAIL_S = 3.0  # the longest hint said once the call is over
TIMING_GOAL_MS = 300.0
PHRASE_GOAL_MS = 1000.0
CPU_GOAL_PCT = 25.0
ASR_CPU_GOAL_PCT = 100.0  # issue #12: live with Whisper within one core
RUNS = ("none", "whisper")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- the call


@dataclass(frozen=True)
class Expectation:
    """One ``[[expect]]`` of a block: ``rule`` due ``offset_s`` after the ``at`` of the block's
    event ``event``; ``runs`` are the ASR modes in which it holds (a hold is recognised only
    from the words of its announcement: without ASR the same silence is dead air)."""

    label: str
    rule: str
    at: str
    event: int
    offset_s: float
    runs: tuple[str, ...]
    severity: str | None = None


BLOCK_EXPECT = (
    Expectation("interruption", "interruption", "start", 1, 0.5, RUNS),
    Expectation("dead_air", "dead_air", "end", 2, 5.0, RUNS),
    Expectation("forbidden_phrase", "forbidden_phrase", "end", 4, 0.0, ("whisper",)),
    Expectation("dead_air", "dead_air", "end", 6, 5.0, ("none",)),
    Expectation("hold.too_long warn", "hold.too_long", "end", 6, 5.0, ("whisper",), "warn"),
    Expectation("hold.too_long violation", "hold.too_long", "end", 6, 10.0, ("whisper",),
                "violation"),
)
PHRASE_RULES = ("forbidden_phrase",)


def short_customer_clip() -> str:
    """``c_oh`` (哦，是这样), or the shortest customer clip if the library lacks it."""
    manifest = synth._manifest(synth.ZH_CLIPS_DIR)
    if "c_oh" in manifest:
        return "c_oh"
    return min((k for k, v in manifest.items() if v["role"] == "customer"),
               key=lambda k: manifest[k]["duration"])


def block_events(first: bool) -> list[dict[str, Any]]:
    """One block: an interruption, dead air, a forbidden phrase, then an announced transfer
    hold that runs past its 10 s limit (warned at 5 s) before the agent thanks the caller."""
    return [
        {"channel": "customer", "clip": "c_long_distance", **({"at": 0.5} if first
                                                              else {"after": 1.5})},
        {"channel": "agent", "clip": "a_interrupt", "after": -1.0},  # 1.0 s before it ends
        {"channel": "customer", "clip": "c_last_week", "after": 0.5},
        {"channel": "agent", "clip": "a_bc_haode", "after": 6.5},  # dead air in between
        {"channel": "agent", "clip": "a_forbid_notmine", "after": 0.8},  # 这不关我的事
        {"channel": "customer", "clip": short_customer_clip(), "after": 0.5},
        {"channel": "agent", "clip": "a_transfer", "after": 0.5},  # 我帮您转接到 ... 请您稍等
        {"channel": "agent", "clip": "a_hold_thanks", "after": 11.0},
    ]


def build_call(blocks: int, out_dir: Path) -> tuple[synth.SynthResult,
                                                     list[Expectation]]:
    """The bench call, and each truth ``expect`` entry's block expectation (same order)."""
    events: list[dict[str, Any]] = []
    expect: list[dict[str, Any]] = []
    kinds: list[Expectation] = []
    for b in range(blocks):
        base = len(events)
        events += block_events(first=b == 0)
        for e in BLOCK_EXPECT:
            expect.append({"rule": e.rule, "at": e.at, "at_event": base + e.event,
                           "offset_s": e.offset_s, "severity": e.severity})
            kinds.append(e)
    scenario = {"name": f"bench_live_{blocks}", "language": "zh", "seed": 7,
                "noise_dbfs": -60.0, "tail_s": 1.0, "events": events, "expect": expect}
    return synth.synthesize(synth.validate_scenario(scenario), out_dir), kinds


@dataclass(frozen=True)
class Due:
    """When one expectation falls due: call seconds ``t``, the side whose speech anchors it,
    and where that speech island starts (the call plays late wherever its player underran,
    so a due moment is timed from its own island as heard, not from the start of the call)."""

    label: str
    rule: str
    t: float
    channel: str
    anchor_start: float


def due_times(truth: dict[str, Any], kinds: list[Expectation], run: str) -> list[Due]:
    """The expectations of ``run``, each at its truth time. A phrase is due at the end of the
    agent's speech island where the clip ends (its last audible sample), not at the clip's
    nominal end."""
    per_block = len(block_events(first=False))
    out = []
    for index, (exp, kind) in enumerate(zip(truth["expect"], kinds, strict=True)):
        if run not in kind.runs:
            continue
        # Every event is speech, so events and truth utterances correspond one to one.
        said = truth["utterances"][index // len(BLOCK_EXPECT) * per_block + kind.event]
        islands = np.array(truth["islands"][said["channel"]])
        if kind.at == "start":
            island = islands[np.argmin(np.abs(islands[:, 0] - said["start"]))]
        else:
            island = islands[np.argmin(np.abs(islands[:, 1] - said["end"]))]
        t = float(island[1]) if kind.rule in PHRASE_RULES else exp["t"]
        out.append(Due(kind.label, kind.rule, t, said["channel"], float(island[0])))
    return out


def write_sides(stereo_wav: Path, out_dir: Path) -> dict[str, Path]:
    """The call's two sides as mono files to play (left agent, right customer)."""
    with wave.open(str(stereo_wav), "rb") as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    sides = {}
    for index, side in enumerate(CHANNELS):
        path = out_dir / f"{side}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(np.ascontiguousarray(pcm[:, index]).tobytes())
        sides[side] = path
    return sides


def write_wav(path: Path, samples: np.ndarray) -> None:
    """A float capture as 16-bit mono at RATE_HZ, for listening to what was heard."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE_HZ)
        w.writeframes(float_to_int16(samples).tobytes())


def bench_config(out_dir: Path) -> Path:
    """A copy of ``config/`` whose [hints] cooldown_s is 0, so every alert is whispered and
    each hint measures one alert; everything else stays as configured."""
    target = out_dir / "config"
    shutil.copytree(REPO_DIR / "config", target)
    default = target / "default.toml"
    text = default.read_text(encoding="utf-8")
    section = re.search(r"^\[hints\]\n(?:(?!^\[).*\n?)*", text, flags=re.MULTILINE)
    if section is None or not re.search(r"^cooldown_s\s*=", section.group(0), re.MULTILINE):
        raise SystemExit(f"no [hints] cooldown_s in {REPO_DIR / 'config' / 'default.toml'}")
    edited = re.sub(r"^cooldown_s\s*=.*$", "cooldown_s = 0.0", section.group(0), count=1,
                    flags=re.MULTILINE)
    default.write_text(text[:section.start()] + edited + text[section.end():], encoding="utf-8")
    return target


def check_replay(wav: Path, due: list[Due], run: str, env: dict[str, str],
                 out_dir: Path) -> None:
    """Replay the call once and print every expectation the replay does not confirm, so a
    wrong truth is not mistaken for a slow monitor."""
    done = subprocess.run([*CLI, "replay", str(wav), "--asr", run, "--json",
                           "--db", str(out_dir / f"replay_{run}.sqlite3")],
                          env=env, capture_output=True, text=True, check=True)
    alerts = [r for r in map(json.loads, done.stdout.splitlines()) if r["type"] == "alert"]
    used: set[int] = set()
    bad = 0
    for d in due:
        near = [(abs(a["t"] - d.t), i) for i, a in enumerate(alerts)
                if a["rule"] == d.rule and i not in used]
        if near and min(near)[0] <= REPLAY_TOLERANCE_S:
            used.add(min(near)[1])
            continue
        bad += 1
        found = f"nearest at {alerts[min(near)[1]]['t']:.2f} s" if near else "none fired"
        print(f"  replay MISMATCH: {d.label} due at {d.t:.2f} s: {found}")
    measured = {d.rule for d in due}
    extra = [a for i, a in enumerate(alerts) if i not in used and a["rule"] in measured]
    for a in extra:
        print(f"  replay MISMATCH: unexpected {a['rule']} at {a['t']:.2f} s")
    others = sorted({a["rule"] for a in alerts if a["rule"] not in measured})
    print(f"  replay --asr {run}: {len(due) - bad}/{len(due)} expectations confirmed"
          + (f"; also fired (not measured): {', '.join(others)}" if others else ""))


# --------------------------------------------------------------------------- measuring


@dataclass
class Capture:
    """One capture stream of this process: its blocks with the monotonic time each arrived."""

    blocks: list[tuple[float, np.ndarray]] = field(default_factory=list)
    overflows: int = 0

    def callback(self, indata: np.ndarray, _frames: int, _time: Any, status: Any) -> None:
        self.blocks.append((time.monotonic(), indata[:, 0].copy()))
        self.overflows += bool(status.input_overflow)

    def samples(self) -> np.ndarray:
        return np.concatenate([b for _, b in self.blocks])

    def wall_of_sample_0(self) -> float:
        """Monotonic time of the first sample. A block arrives some time after its last sample
        was captured, never before: the least late block places the whole stream (the null
        sinks run on the system clock, so sample counts are exact seconds)."""
        ends = np.cumsum([len(b) for _, b in self.blocks])
        return float(np.min(np.array([t for t, _ in self.blocks]) - ends / RATE_HZ))


def frame_dbfs(samples: np.ndarray) -> np.ndarray:
    hop = round(ONSET_FRAME_S * RATE_HZ)
    n = len(samples) // hop
    rms = np.sqrt(np.mean(samples[:n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-10))


def burst_onsets(samples: np.ndarray, dbfs: float, bridge_s: float) -> list[float]:
    """Seconds into the recording where sound starts after more than ``bridge_s`` of quiet."""
    loud = np.flatnonzero(frame_dbfs(samples) > dbfs)
    onsets, last = [], None
    for i in loud.tolist():
        if last is None or (i - last) * ONSET_FRAME_S > bridge_s:
            onsets.append(i * ONSET_FRAME_S)
        last = i
    return onsets


def proc_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of the process itself (all threads) and of its waited-for children."""
    fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields_[11:15])
    return (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK


def proc_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def machine_cpu() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine, all cores (/proc/stat)."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(values[:8])
    return (total - values[3] - values[4]) / CLK_TCK, total / CLK_TCK


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def own_source_outputs(pulse: PulseServer, pid: int) -> int:
    return sum(o.get("properties", {}).get("application.process.id") == str(pid)
               for o in pulse.query("source-outputs"))


def wait_started(pulse: PulseServer, proc: subprocess.Popen, err: Path) -> float:
    """Wait until live has opened both inputs and then gone quiet (model and hint voices
    loaded, the audio queued meanwhile drained); returns the seconds that took. Playing
    earlier would measure the start-up, not the monitor."""
    started = time.monotonic()
    deadline = started + 180
    while own_source_outputs(pulse, proc.pid) < 2:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"live did not open its devices:\n{err.read_text()}")
        time.sleep(0.05)
    if not wait_quiet(proc, deadline):
        raise RuntimeError(f"live did not settle:\n{err.read_text()}")
    return time.monotonic() - started


def wait_quiet(proc: subprocess.Popen, deadline: float) -> bool:
    """Wait until the process has used under half a core for a second (it is waiting for
    audio, not loading); False if it is still busy at ``deadline``."""
    window: list[tuple[float, float]] = []
    while proc.poll() is None and time.monotonic() < deadline:
        window = [*window, (time.monotonic(), proc_cpu(proc.pid)[0])][-5:]
        (t0, c0), (t1, c1) = window[0], window[-1]
        if len(window) == 5 and (c1 - c0) / (t1 - t0) < 0.5:
            return True
        time.sleep(0.25)
    return False


def wait_heard_to_end(proc: subprocess.Popen, out: Path, span_s: float) -> bool:
    """Wait until live's records reach the call's last speech, ``span_s`` after its first
    customer speech starts (a segment's record comes when it ends): then live has processed
    the whole call. False after CATCH_UP_S."""
    deadline = time.monotonic() + CATCH_UP_S
    while proc.poll() is None and time.monotonic() < deadline:
        lines = out.read_text().split("\n")[:-1]  # the last one may be half written
        speech = [r for r in map(json.loads, lines) if r["type"] == "speech"]
        first = next((r for r in speech if r["channel"] == "customer"), None)
        if first is not None and max(r["end"] for r in speech) - first["start"] >= span_s - 0.2:
            return True
        time.sleep(0.25)
    return False


@dataclass
class LiveRun:
    """What one live session left behind."""

    records: list[dict[str, Any]]
    captures: dict[str, Capture]
    startup_s: float
    call_s: float
    cpu_s: float
    child_cpu_s: float
    hwm_mib: float
    machine_busy_cores: float
    load: tuple[str, str]
    exit_problem: str | None


def run_live(run: str, sides: dict[str, Path], span_s: float, env: dict[str, str],
             out_dir: Path) -> LiveRun:
    """Play the call once through ``callmonitor live --asr RUN`` and record what is heard;
    ``span_s``: from the call's first customer speech to its last speech's end."""
    captures = {name: Capture() for name in (AGENT, CUSTOMER, HEADSET)}
    streams = []
    out, err = out_dir / f"live_{run}.jsonl", out_dir / f"live_{run}.err"
    proc: subprocess.Popen | None = None
    with PulseServer() as pulse:
        pulse.add_call_sinks(SPARE, AGENT, CUSTOMER, HEADSET)
        live_env = {**env, **pulse.client_env(), "PYTHONFAULTHANDLER": "1"}
        pulse.activate()
        try:
            for name, capture in captures.items():
                streams.append(open_stream(f"pulse:{name}.monitor", "input", RATE_HZ, 1,
                                           CAPTURE_BLOCK, capture.callback))
            with out.open("w") as stdout, err.open("w") as stderr:
                proc = subprocess.Popen(
                    [*CLI, "live", "--agent-device", f"pulse:{AGENT}.monitor",
                     "--customer-device", f"pulse:{CUSTOMER}.monitor",
                     "--headset-device", f"pulse:{HEADSET}", "--asr", run, "--json",
                     "--db", str(out_dir / f"live_{run}.sqlite3")],
                    env=live_env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
            startup_s = wait_started(pulse, proc, err)
            load_before = loadavg()
            busy0, total0 = machine_cpu()
            cpu0, child0 = proc_cpu(proc.pid)
            t0 = time.monotonic()
            players = [pulse.play(sides["agent"], AGENT, wait=False),
                       pulse.play(sides["customer"], CUSTOMER, wait=False)]
            for player in players:
                if player.wait() != 0:
                    raise RuntimeError(f"paplay failed ({player.returncode})")
            # Live may lag behind the audio (a busy machine): ending the session before it
            # has heard the call's end, and said the hints due by then, would cut them off.
            caught_up = wait_heard_to_end(proc, out, span_s)
            time.sleep(HINT_TAIL_S)
            if proc.poll() is not None:
                raise RuntimeError(f"live ended by itself, with {proc.returncode}, during the "
                                   f"call:\n{err.read_text(errors='replace')[-4000:]}")
            cpu1, child1 = proc_cpu(proc.pid)
            busy1, total1 = machine_cpu()
            hwm = proc_hwm_mib(proc.pid)
            call_s = time.monotonic() - t0
            load_after = loadavg()
            exit_problem = stop_live(proc, err)
            if not caught_up:
                exit_problem = (f"live had not heard the end of the call {CATCH_UP_S:.0f} s "
                                f"after it was played\n{exit_problem or ''}").strip()
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in streams:
                close_stream(stream)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    cores = len(os.sched_getaffinity(0))
    return LiveRun(records, captures, startup_s, call_s, cpu1 - cpu0, child1 - child0, hwm,
                   (busy1 - busy0) / (total1 - total0) * cores, (load_before, load_after),
                   exit_problem)


def stop_live(proc: subprocess.Popen, err: Path) -> str | None:
    """Ctrl-C, as a person ends a session; what went wrong, if anything. A session that does
    not end is dumped (faulthandler, on SIGABRT) so the report can say where it hung; the
    records it wrote before still hold every hint, so the figures are kept."""
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        proc.wait(10)
        dump = err.read_text(errors="replace")
        dump = dump[dump.find("Fatal Python error"):] if "Fatal Python error" in dump else dump
        return (f"live did not end within {STOP_TIMEOUT_S:.0f} s of SIGINT; its threads "
                f"(faulthandler):\n{dump[-8000:]}")
    if code != 128 + signal.SIGINT:  # the shell's status for a process ended by Ctrl-C
        return f"live exited with {code}:\n{err.read_text(errors='replace')[-4000:]}"
    return None


# --------------------------------------------------------------------------- analysis


@dataclass
class Delay:
    due: Due
    wall_s: float  # condition in the audio -> first hint sample on the headset
    decided_s: float  # condition -> the audio moment at which live decided to say the hint


def heard_islands(capture: Capture, islands: list[list[float]]) -> np.ndarray:
    """Monotonic time at which each truth island's start was heard on its sink (NaN where it
    was not). Followed island by island, so a player that underruns (its sink fills the gap
    with silence, and the rest of the call plays that much later) is followed as it drifts."""
    wall_0 = capture.wall_of_sample_0()
    onsets = np.array(burst_onsets(capture.samples(), SPEECH_DBFS,
                                   synth.ISLAND_MIN_GAP_S)) + wall_0
    if not len(onsets):
        raise RuntimeError("no speech was heard on a call sink")
    late = onsets[0] - islands[0][0]
    out = np.full(len(islands), np.nan)
    for i, (start, _) in enumerate(islands):
        nearest = onsets[np.argmin(np.abs(onsets - late - start))]
        if abs(nearest - late - start) <= TRACK_S:
            out[i], late = nearest, nearest - start
    return out


@dataclass
class Timeline:
    """The call as it was heard: each side's island starts (truth) and when each was heard,
    and ``live_0``, the monotonic time of live's audio time 0 (live counts the samples its
    sinks render, so its audio time runs with the wall clock even where the player lagged)."""

    starts: dict[str, np.ndarray]
    heard: dict[str, np.ndarray]
    live_0: float

    def due_wall(self, d: Due) -> float:
        heard = self.heard[d.channel][np.argmin(np.abs(self.starts[d.channel] - d.anchor_start))]
        return float(heard + d.t - d.anchor_start)


def timeline(live: LiveRun, truth: dict[str, Any]) -> Timeline:
    islands = truth["islands"]
    heard = {side: heard_islands(live.captures[sink], islands[side])
             for side, sink in (("agent", AGENT), ("customer", CUSTOMER))}
    first = next(r for r in live.records if r["type"] == "speech" and r["channel"] == "customer")
    return Timeline({side: np.array([s for s, _ in islands[side]]) for side in islands}, heard,
                    float(heard["customer"][0]) - first["start"])


def analyse(live: LiveRun, line: Timeline, due: list[Due]) -> tuple[list[Delay], list[str]]:
    """Pair each heard burst with the hint record it was, and that with its expectation."""
    problems: list[str] = []
    headset = live.captures[HEADSET]
    heard = [headset.wall_of_sample_0() + t
             for t in burst_onsets(headset.samples(), HINT_DBFS, BURST_BRIDGE_S)]
    hints = [r for r in live.records if r["type"] == "hint" and r["played"]]
    if len(heard) != len(hints):
        problems.append(f"{len(heard)} sound bursts on the headset, {len(hints)} hint records "
                        "played")
    due_walls = [line.due_wall(d) for d in due]
    delays: list[Delay] = []
    taken: set[int] = set()
    paired: set[int] = set()
    for hint in hints:
        decided = line.live_0 + hint["t"]
        # The first burst not before the moment live decided: a burst missing mid-way must
        # not shift every later pair.
        burst = next((i for i, t in enumerate(heard) if i not in taken and t >= decided - 0.1),
                     None)
        if burst is None:
            problems.append(f"hint {hint['rule']} at live time {hint['t']:.2f} s was never heard")
            continue
        taken.add(burst)
        alerted = line.live_0 + hint["alert_t"]
        near = [(abs(w - alerted), i) for i, (d, w) in enumerate(zip(due, due_walls, strict=True))
                if d.rule == hint["rule"] and i not in paired]
        if not near or min(near)[0] > MATCH_WINDOW_S:
            if any(d.rule == hint["rule"] for d in due):
                problems.append(f"hint {hint['rule']} for the alert at live time "
                                f"{hint['alert_t']:.2f} s matches no expectation")
            continue
        paired.add(min(near)[1])
        d, due_wall = due[min(near)[1]], due_walls[min(near)[1]]
        delays.append(Delay(d, heard[burst] - due_wall, decided - due_wall))
    for i, d in enumerate(due):
        if i not in paired:
            problems.append(f"{d.label} due at {d.t:.2f} s: no hint heard; "
                            + _why_unheard(live.records, d, due_walls[i] - line.live_0))
    for name, capture in live.captures.items():
        if capture.overflows:
            problems.append(f"this process's capture of {name} overflowed {capture.overflows} "
                            "times: its times are unreliable")
    return delays, problems


def _why_unheard(records: list[dict[str, Any]], d: Due, live_t: float) -> str:
    """Whether live raised the alert at all (near live time ``live_t``, when it was due), and
    for a phrase what it heard the agent say."""
    alerts = [r for r in records if r["type"] == "alert" and r["rule"] == d.rule
              and abs(r["t"] - live_t) <= MATCH_WINDOW_S]
    if alerts:
        return f"live raised it at live time {alerts[0]['t']:.2f} s"
    said = [r for r in records if r["type"] == "utterance" and r["channel"] == "agent"
            and abs(r["end"] - live_t) <= MATCH_WINDOW_S]
    heard = f"; it heard the agent say {said[0]['text']!r}" if said else ""
    return f"live raised no {d.rule} alert{heard}"


def report(run: str, live: LiveRun, due: list[Due], delays: list[Delay],
           problems: list[str]) -> None:
    summary = live.records[-1] if live.records and live.records[-1]["type"] == "summary" else {}
    print(f"\n--asr {run}: call {live.call_s:.0f} s played after a {live.startup_s:.1f} s "
          f"start-up; load average {live.load[0]} -> {live.load[1]}, machine busy "
          f"{live.machine_busy_cores:.2f} of {len(os.sched_getaffinity(0))} cores during the call; "
          f"live overruns {summary.get('overruns', '?')}")
    print(f"  {'rule':<26}{'n':>3}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}"
          f"{'in audio p50':>14}  goal")
    labels = list(dict.fromkeys(d.label for d in due))
    for label in labels:
        wanted = sum(d.label == label for d in due)
        got = np.array([x.wall_s for x in delays if x.due.label == label]) * 1000
        decided = np.array([x.decided_s for x in delays if x.due.label == label]) * 1000
        phrase = any(d.rule in PHRASE_RULES for d in due if d.label == label)
        goal = PHRASE_GOAL_MS if phrase else TIMING_GOAL_MS
        if not len(got):
            print(f"  {label:<26}{0:>3}/{wanted}  no hint heard")
            continue
        p50, p95, top = np.percentile(got, 50), np.percentile(got, 95), got.max()
        verdict = "met" if p95 <= goal else "MISSED"
        count = f"{len(got)}" if len(got) == wanted else f"{len(got)}/{wanted}"
        print(f"  {label:<26}{count:>3}{p50:>8.0f}{p95:>8.0f}{top:>8.0f}"
              f"{np.percentile(decided, 50):>14.0f}  p95 <= {goal:.0f} ms: {verdict}")
        print(f"  {'':<26}   each: {' '.join(f'{x:.0f}' for x in got)}")
    if delays:
        work = np.array([x.wall_s - x.decided_s for x in delays]) * 1000
        print(f"  processing + playback (delay less its audio part), all rules: p50 "
              f"{np.percentile(work, 50):.0f} ms, p95 {np.percentile(work, 95):.0f} ms, "
              f"max {work.max():.0f} ms")
    others = [r["rule"] for r in live.records if r["type"] == "hint"
              and r["rule"] not in {d.rule for d in due}]
    if others:
        print(f"  also whispered (not measured): {', '.join(others)}")
    pct = live.cpu_s / live.call_s * 100
    limit = CPU_GOAL_PCT if run == "none" else ASR_CPU_GOAL_PCT
    goal = f"goal < {limit:.0f} %: {'met' if pct < limit else 'MISSED'}"
    print(f"  CPU {pct:.1f} % of one core ({goal}); child processes (pactl ...) "
          f"{live.child_cpu_s / live.call_s * 100:.1f} % more; peak memory (VmHWM) "
          f"{live.hwm_mib:.0f} MiB")
    for problem in [*problems, *([live.exit_problem] if live.exit_problem else [])]:
        print(f"  ! {problem}")


def print_alignment(live: LiveRun, line: Timeline, blocks: int) -> None:
    """Per block (medians, ms), how late each side's speech played against the truth (a
    player that underran: the measurement follows it), and where live heard each speech start
    against where this process heard it (live's channels drifting apart would show here)."""
    speech = [r for r in live.records if r["type"] == "speech"]
    block_s = max(float(s[-1]) for s in line.starts.values()) / blocks
    for side in CHANNELS:
        starts, heard = line.starts[side], line.heard[side]
        late = heard - heard[0] - (starts - starts[0])
        live_vs: list[list[float]] = [[] for _ in range(blocks)]
        for r in speech:
            if r["channel"] == side:
                wall = line.live_0 + r["start"]
                i = int(np.nanargmin(np.abs(heard - wall)))
                if abs(heard[i] - wall) <= TRACK_S:
                    live_vs[min(int(starts[i] // block_s), blocks - 1)].append(wall - heard[i])
        block = np.minimum((starts // block_s).astype(int), blocks - 1)
        played = [late[block == b] for b in range(blocks)]
        print(f"  {side}: played late by {_medians(played)}; live's speech starts vs heard "
              f"{_medians(live_vs)} (ms per block)")
    missing = sum(int(np.isnan(h).sum()) for h in line.heard.values())
    if missing:
        print(f"  ! {missing} speech islands of the call were not found in what was heard")


def _medians(groups: list[Any]) -> str:
    return " ".join(f"{round(float(np.nanmedian(g)) * 1000):+d}"
                    if len(g) and not np.all(np.isnan(g))
                    else "-" for g in groups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=6, help="blocks of ~45 s in the call")
    parser.add_argument("--runs", default=",".join(RUNS),
                        help="comma-separated ASR modes to run: none, whisper")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the call, live's output and what was heard in DIR")
    args = parser.parse_args()
    runs = args.runs.split(",")
    if args.blocks < 1 or not runs or any(r not in RUNS for r in runs):
        parser.error(f"--blocks >= 1, --runs from {', '.join(RUNS)}")
    with contextlib.ExitStack() as stack:
        if args.keep is None:
            out_dir = Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="bench-live-", dir="/tmp")))
        else:
            out_dir = args.keep
            shutil.rmtree(out_dir / "config", ignore_errors=True)
            out_dir.mkdir(parents=True, exist_ok=True)
        call, kinds = build_call(args.blocks, out_dir)
        sides = write_sides(call.wav, out_dir)
        env = {**os.environ, "CALLMONITOR_CONFIG_DIR": str(bench_config(out_dir)),
               "XDG_CACHE_HOME": str(out_dir / "cache")}
        islands = call.truth["islands"]
        span_s = (max(end for side in islands.values() for _, end in side)
                  - islands["customer"][0][0])
        print(f"call: {args.blocks} blocks, {call.truth['duration_s']:.0f} s, played in real "
              f"time; {len(os.sched_getaffinity(0))} cores; [hints] cooldown_s = 0")
        for run in runs:
            due = due_times(call.truth, kinds, run)
            check_replay(call.wav, due, run, env, out_dir)
            live = run_live(run, sides, span_s, env, out_dir)
            if args.keep is not None:
                for name, capture in live.captures.items():
                    write_wav(out_dir / f"heard_{run}_{name}.wav", capture.samples())
            line = timeline(live, call.truth)
            delays, problems = analyse(live, line, due)
            report(run, live, due, delays, problems)
            print_alignment(live, line, args.blocks)

if __name__ == "__main__":
    main()
