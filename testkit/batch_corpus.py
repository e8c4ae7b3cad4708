"""A small corpus of synthesised calls with known truth for the batch tests, and helpers that
run ``callmonitor batch`` as a user does (a real process) and read its tables back."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from testkit import synth

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "monitor"]
TABLES = ("calls", "alerts", "utterances", "segments")

# Answered after 2 UK rings (0.4 s on, 0.2 s off, 0.4 s on, 2 s off), then 6.5 s of silence on
# both sides after the customer's line: dead air at the end of that line + 5 s (the dead-air
# limit); short, so the suite stays fast.
RING_DEAD = {
    "name": "ring_dead", "language": "zh", "seed": 141, "noise_dbfs": -60.0, "tail_s": 1.0,
    "ringback": {"country": "UK", "rings": 2, "start_s": 0.5, "answer_after_s": 1.0},
    "events": [
        {"channel": "agent", "clip": "a_greet_ok"},
        {"channel": "customer", "clip": "c_recharge", "after": 0.6},
        {"channel": "agent", "clip": "a_ask_problem", "after": 6.5},
    ],
    "expect": [{"rule": "dead_air", "at_event": 1, "at": "end", "offset_s": 5.0}],
    "limits": {"dead_air_s": 5.0},
}
# A hold the softphone reports (its call-events file, given per call in the manifest): from
# 0.3 s after the announcement to 0.3 s before the agent is back, 3.4 s.
HOLD_CALL = {
    "name": "hold_call", "language": "zh", "seed": 142, "noise_dbfs": -60.0, "tail_s": 1.0,
    "events": [
        {"channel": "customer", "clip": "c_query_bill", "at": 0.5},
        {"channel": "agent", "clip": "a_hold_short", "after": 0.6},
        {"channel": "agent", "clip": "a_hold_sorry", "after": 4.0},
    ],
}
HOLD_MARGIN_S = 0.3
# A short real recording (16 kHz mono 16-bit), rewritten as a clean WAV and as one the replay
# warns about.
WARNED_CLIP = Path("/work/shared/audio/zh/a_bc_haode.wav")
WARNING_PREFIX = "callmonitor: warning: "


@dataclass(frozen=True)
class Corpus:
    """The calls on disk: ``folder`` holds ring_dead.wav and sub/hold_call.wav; ``manifest``
    lists both (hold_call with its call events and another company) and a broken file."""

    folder: Path
    ring: Path
    hold: Path
    bad: Path
    manifest: Path
    ring_truth: dict[str, Any]
    hold_truth: dict[str, Any]
    hold_span: tuple[float, float]


def _synth(scenario: dict[str, Any], build: Path, dest: Path) -> dict[str, Any]:
    result = synth.synthesize(scenario, build)
    dest.parent.mkdir(parents=True, exist_ok=True)
    result.wav.replace(dest)
    return result.truth


def build_corpus(root: Path) -> Corpus:
    """Synthesise the corpus under ``root`` (see ``Corpus``)."""
    folder = root / "calls"
    ring, hold = folder / "ring_dead.wav", folder / "sub" / "hold_call.wav"
    ring_truth = _synth(RING_DEAD, root / "build", ring)
    hold_truth = _synth(HOLD_CALL, root / "build", hold)
    said = hold_truth["utterances"]
    span = (round(said[1]["end"] + HOLD_MARGIN_S, 3), round(said[2]["start"] - HOLD_MARGIN_S, 3))
    events = root / "meta" / "hold_call.jsonl"
    events.parent.mkdir()
    events.write_text(f'{{"t": {span[0]}, "event": "hold"}}\n'
                      f'{{"t": {span[1]}, "event": "resume"}}\n', encoding="utf-8")
    bad = root / "broken.wav"
    bad.write_text("call notes, not audio\n", encoding="utf-8")
    manifest = root / "manifest.csv"
    manifest.write_text("path,company,call_events\n"
                        "calls/ring_dead.wav,,\n"
                        "calls/sub/hold_call.wav,诚美,meta/hold_call.jsonl\n"
                        "broken.wav,,\n", encoding="utf-8")
    return Corpus(folder, ring, hold, bad, manifest, ring_truth, hold_truth, span)


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + b"\0" * (len(body) & 1)


def warned_pair(folder: Path) -> tuple[Path, Path, float]:
    """``WARNED_CLIP``'s audio as a plain WAV and as one with a second ``fmt `` chunk (8 kHz
    8-bit) before its data, which plays by the first, as sox does, with one warning; and the
    clip's length, which both play for."""
    with wave.open(str(WARNED_CLIP)) as clip:
        rate, channels, width = clip.getframerate(), clip.getnchannels(), clip.getsampwidth()
        pcm = clip.readframes(clip.getnframes())
    first = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * width,
                        channels * width, 8 * width)
    second = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)
    clean, odd = folder / "a_clean.wav", folder / "b_two_formats.wav"
    for path, fmts in ((clean, [first]), (odd, [first, second])):
        body = b"WAVE" + b"".join(_chunk(b"fmt ", f) for f in fmts) + _chunk(b"data", pcm)
        path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return clean, odd, len(pcm) / (rate * channels * width)


def batch(*args: Any, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``callmonitor batch ARGS`` in a process of its own (stderr is not a terminal)."""
    return subprocess.run([*CLI, "batch", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=timeout, env={**os.environ})


def many_copies(corpus: Corpus, root: Path, n: int) -> Path:
    """``n`` copies of the ring call, for a run long enough to stop in the middle."""
    folder = root / "many"
    folder.mkdir()
    for i in range(n):
        os.link(corpus.ring, folder / f"call{i:02d}.wav")
    return folder


def whole_parts(out: Path) -> int:
    """Part files written whole (not the temporary ones a stopped worker may leave)."""
    return sum(not p.name.startswith(".") for p in (out / "parts").glob("*.json"))


def start_and_stop(folder: Path, out: Path, sig: int, *args: Any) -> subprocess.Popen[str]:
    """Start ``batch FOLDER --out OUT --asr none ARGS`` and send ``sig`` once two calls have
    their parts."""
    proc = subprocess.Popen([*CLI, "batch", str(folder), "--out", str(out), "--asr", "none",
                             *map(str, args)], cwd=REPO, text=True, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out / "parts").is_dir() or whole_parts(out) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, "the batch ended first"
        time.sleep(0.02)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    return proc


def settled_parts(out: Path) -> int:
    """The part count once nothing writes any more (a killed parent's worker may finish the
    call it had)."""
    count, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < 1.0:
        now = whole_parts(out)
        if now != count:
            count, stable_since = now, time.monotonic()
        time.sleep(0.05)
    return count


def tables(out: Path) -> dict[str, pd.DataFrame]:
    """Every table of a batch output, without its timing column."""
    frames = {name: pd.read_parquet(out / f"{name}.parquet") for name in TABLES}
    frames["calls"] = frames["calls"].drop(columns=["elapsed_s"])
    return frames


def assert_same_tables(a: Path, b: Path) -> None:
    """Two outputs hold the same rows (timing apart), in Parquet and in CSV."""
    left, right = tables(a), tables(b)
    for name in TABLES:
        pd.testing.assert_frame_equal(left[name], right[name])
        csv_a = pd.read_csv(a / f"{name}.csv").drop(columns=["elapsed_s"], errors="ignore")
        csv_b = pd.read_csv(b / f"{name}.csv").drop(columns=["elapsed_s"], errors="ignore")
        pd.testing.assert_frame_equal(csv_a, csv_b)


def assert_resumed_as_straight(done: subprocess.CompletedProcess[str], n: int, kept: int,
                               folder: Path, out: Path, straight: Path) -> None:
    """A stopped run of ``folder``'s ``n`` calls, completed by ``--resume`` (``done``), ran
    only what the ``kept`` parts lacked and left the tables a straight local run gives."""
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith(
        f"{n} calls: {n} complete, 0 failed ({kept} done before, not run again)")
    whole = batch(folder, "--out", straight, "--asr", "none", "--jobs", 2)
    assert whole.returncode == 0, whole.stderr
    assert_same_tables(out, straight)


def run_json(out: Path) -> dict[str, Any]:
    return json.loads((out / "run.json").read_text(encoding="utf-8"))
