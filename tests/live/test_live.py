"""``callmonitor live`` on a real PulseAudio server: a synthesised call is played into null sinks
standing in for the agent's microphone and the softphone's output, the monitor listens to
their monitors, and the headset sink is recorded. Truth: the call's scenario
(scenarios/live_call.toml: an interruption, then dead air) and the replay of the same file.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from monitor.config import load_config
from testkit.faults import lock_held
from testkit.harness import end_process
from testkit.kept import read_kept
from testkit.pulse import PulseServer
from testkit.replay import of_type, replay_records

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("pulseaudio")]

CLI = [sys.executable, "-m", "monitor"]
TOLERANCE_S = 0.15  # live alerts against replay's, once the start offset is taken out
# Speech time on which live and replay may disagree, per channel: a pause right at the VAD's
# hangover can close a segment in one and not the other (PulseAudio resamples the live audio).
MAX_DISAGREEMENT_S = 0.6
AGENT, CUSTOMER, HEADSET, SPARE = "call_agent", "call_customer", "headset", "spare"


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
        return pcm.reshape(-1, w.getnchannels()), w.getframerate()


def write_mono(path: Path, samples: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype(np.int16).tobytes())
    return path


def bursts(path: Path, threshold: float = 100.0, bridge_s: float = 0.3) -> list[float]:
    """Onsets (s from the start of the recording) of sound separated by more than bridge_s."""
    samples, rate = read_wav(path)
    hop = rate // 100
    n = len(samples) // hop
    rms = np.sqrt(np.mean(samples[:n * hop, 0].reshape(n, hop) ** 2, axis=1))
    onsets, last_loud = [], None
    for i in np.flatnonzero(rms > threshold):
        if last_loud is None or (i - last_loud) * 0.01 > bridge_s:
            onsets.append(i * 0.01)
        last_loud = i
    return onsets


def disagreement_s(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    """Seconds that are speech in one list of segments and not in the other (10 ms steps)."""
    end = max(e for _, e in a + b)
    grid = np.arange(0.0, end, 0.01)

    def covered(segments):
        return np.any([(grid >= s) & (grid < e) for s, e in segments], axis=0)

    return float(np.sum(covered(a) != covered(b))) * 0.01


@pytest.fixture(scope="module")
def call(synth_call, tmp_path_factory):
    """The call as one stereo file (for replay) and one mono file per side (to play)."""
    result = synth_call("live_call")
    out = tmp_path_factory.mktemp("live")
    stereo, rate = read_wav(result.wav)
    return {"wav": result.wav, "truth": result.truth,
            "agent": write_mono(out / "agent.wav", stereo[:, 0], rate),
            "customer": write_mono(out / "customer.wav", stereo[:, 1], rate)}


@pytest.fixture
def pulse():
    with PulseServer() as server:
        server.add_call_sinks(SPARE, AGENT, CUSTOMER, HEADSET)
        yield server


def start_live(pulse: PulseServer, tmp_path: Path, *extra: str,
               pipe: bool = False) -> subprocess.Popen:
    """``live --json`` on the call sinks' monitors; its JSON lines go to out.jsonl, or with
    ``pipe`` to a pipe the test reads (text)."""
    env = {**os.environ, **pulse.client_env(), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [*CLI, "live", "--agent-device", f"pulse:{AGENT}.monitor",
         "--customer-device", f"pulse:{CUSTOMER}.monitor", "--asr", "none", "--json",
         "--db", str(tmp_path / "live.sqlite3"), *extra],
        env=env, stdout=subprocess.PIPE if pipe else (tmp_path / "out.jsonl").open("w"),
        stderr=(tmp_path / "err.txt").open("w"), text=pipe)
    deadline = time.monotonic() + 30
    while len([o for o in pulse.query("source-outputs") if o.get("properties", {}).get(
            "application.process.id") == str(proc.pid)]) < 2:
        assert proc.poll() is None, (tmp_path / "err.txt").read_text()
        assert time.monotonic() < deadline, "live did not open its devices"
        time.sleep(0.05)
    return proc


def stop_live(proc: subprocess.Popen, tmp_path: Path) -> list[dict]:
    proc.send_signal(signal.SIGINT)
    assert proc.wait(20) == 128 + signal.SIGINT, (tmp_path / "err.txt").read_text()
    return [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]


def play_call(pulse: PulseServer, call: dict) -> None:
    players = [pulse.play(call["agent"], AGENT, wait=False),
               pulse.play(call["customer"], CUSTOMER, wait=False)]
    for p in players:
        assert p.wait(60) == 0


def test_live_hints_are_heard_in_the_headset_only_and_the_timeline_matches_replay(
        pulse, call, tmp_path):
    proc = start_live(pulse, tmp_path, "--headset-device", f"pulse:{HEADSET}")
    with pulse.record(f"{HEADSET}.monitor", tmp_path / "headset.wav"), \
            pulse.record(f"{AGENT}.monitor", tmp_path / "agent_line.wav"), \
            pulse.record(f"{CUSTOMER}.monitor", tmp_path / "customer_line.wav"):
        play_call(pulse, call)
        time.sleep(1.0)  # the last hangover and hint
        headset_inputs = [i for i in pulse.query("sink-inputs") if i.get("properties", {}).get(
            "application.process.id") == str(proc.pid)]
        records = stop_live(proc, tmp_path)
    # (b) the live timeline is the replay's, shifted by when the playing started.
    expected = replay_records(call["wav"], load_config("zh-CN"))  # the CLI's default
    first = of_type(expected, "speech")[0]
    offset = next(r for r in of_type(records, "speech") if r["channel"] == first["channel"])[
        "start"] - first["start"]
    for channel in ("agent", "customer"):
        live_speech = [(r["start"] - offset, r["end"] - offset)
                       for r in of_type(records, "speech", channel=channel)]
        replay_speech = [(r["start"], r["end"])
                         for r in of_type(expected, "speech", channel=channel)]
        assert disagreement_s(live_speech, replay_speech) <= MAX_DISAGREEMENT_S, channel
    live_alerts = [(a["rule"], a["t"] - offset) for a in of_type(records, "alert")]
    replay_alerts = [(a["rule"], a["t"]) for a in of_type(expected, "alert")]
    assert [r for r, _ in live_alerts] == [r for r, _ in replay_alerts] == [
        e["rule"] for e in call["truth"]["expect"]]
    assert all(abs(a - b) <= TOLERANCE_S for (_, a), (_, b) in zip(live_alerts, replay_alerts,
                                                                   strict=True))
    # (a) each hint is heard in the headset, when the hint record says, and on no call line.
    hints = of_type(records, "hint")
    assert [(h["rule"], h["played"]) for h in hints] == [("interruption", True),
                                                         ("dead_air", True)]
    heard = bursts(tmp_path / "headset.wav")
    assert len(heard) == len(hints)
    assert heard[1] - heard[0] == pytest.approx(hints[1]["t"] - hints[0]["t"], abs=0.1)
    assert [i["sink"] for i in headset_inputs] == [
        next(s["index"] for s in pulse.query("sinks") if s["name"] == HEADSET)]
    for side, line in (("agent", "agent_line.wav"), ("customer", "customer_line.wav")):
        # A hint on a call line would add its energy to what was played there.
        played, played_rate = read_wav(call[side])
        recorded, recorded_rate = read_wav(tmp_path / line)
        assert np.sum(recorded[:, 0] ** 2) / recorded_rate == pytest.approx(
            np.sum(played[:, 0] ** 2) / played_rate, rel=0.05), side
    summary = records[-1]
    assert summary["type"] == "summary" and summary["status"] == "interrupted"
    assert summary["overruns"] == 0 and summary["device_gaps"] == []
    assert isinstance(summary["device_overflows"], int)


def test_an_unplugged_microphone_is_a_gap_and_the_session_goes_on(pulse, call, tmp_path):
    proc = start_live(pulse, tmp_path, "--no-whisper", "--keep-audio")
    customer = pulse.play(call["customer"], CUSTOMER, wait=False)
    agent = pulse.play(call["agent"], AGENT, wait=False)
    time.sleep(3.0)
    pulse.remove_sink(AGENT)
    time.sleep(2.0)
    pulse.add_sink(AGENT)
    assert customer.wait(60) == 0
    agent.wait(60)
    time.sleep(1.0)
    records = stop_live(proc, tmp_path)
    notices = of_type(records, "device")
    assert [(n["state"], n["channels"]) for n in notices] == [("lost", ["agent"]),
                                                              ("back", ["agent"])]
    [gap] = records[-1]["device_gaps"]
    assert gap["end"] - gap["start"] == pytest.approx(2.0, abs=0.8)
    # The customer's lines after the gap were still heard, and the session was stored whole.
    assert any(s["channel"] == "customer" and s["start"] > gap["end"]
               for s in of_type(records, "speech"))
    with sqlite3.connect(tmp_path / "live.sqlite3") as db:
        stored = db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        status = db.execute("SELECT status FROM sessions").fetchone()[0]
    assert stored == len(records) and status == "interrupted"
    # The kept audio (Opus) spans the whole session, the gap included, with the agent silent
    # in it (digital silence through a lossy codec: below -70 dBFS).
    pcm = read_kept(Path(records[-1]["kept_audio"]))
    assert len(pcm) / 16000 == pytest.approx(records[-1]["duration_s"], abs=0.6)
    inside = pcm[int((gap["start"] + 0.3) * 16000):int((gap["end"] - 0.3) * 16000), 0]
    assert inside.size and np.sqrt(np.mean(inside.astype(np.float64) ** 2)) < 10


def stored_session(db: Path) -> tuple[str, list[dict]]:
    with sqlite3.connect(db) as conn:
        status = conn.execute("SELECT status FROM sessions").fetchone()[0]
        bodies = conn.execute("SELECT body FROM records ORDER BY seq").fetchall()
    return status, [json.loads(b) for (b,) in bodies]


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP", "broken pipe"])
def test_sigterm_sighup_and_a_reader_gone_end_live_like_ctrl_c(pulse, call, tmp_path, how):
    """Mid-call: a service manager's stop, the terminal closed, or ``live --json | head -1``.
    Exit status 128 + the signal (a broken pipe is SIGPIPE's), no traceback, the session
    stored as interrupted with its summary and every record up to the cut."""
    proc = start_live(pulse, tmp_path, "--no-whisper", pipe=how == "broken pipe")
    players = [pulse.play(call["agent"], AGENT, wait=False),
               pulse.play(call["customer"], CUSTOMER, wait=False)]
    try:
        if how == "broken pipe":
            first = json.loads(proc.stdout.readline())
            proc.stdout.close()  # the next record written finds no reader
            expected = 128 + signal.SIGPIPE
        else:
            deadline = time.monotonic() + 30
            while '"speech"' not in (tmp_path / "out.jsonl").read_text():
                assert time.monotonic() < deadline and proc.poll() is None, "no speech heard"
                time.sleep(0.1)
            sig = signal.Signals[how]
            proc.send_signal(sig)
            expected = 128 + sig
        assert proc.wait(30) == expected, (tmp_path / "err.txt").read_text()
    finally:
        for player in players:
            end_process(player)
    assert "Traceback" not in (tmp_path / "err.txt").read_text()
    status, records = stored_session(tmp_path / "live.sqlite3")
    assert status == "interrupted"
    summary = records[-1]
    assert summary["type"] == "summary" and summary["status"] == "interrupted"
    assert [r["type"] for r in records].count("summary") == 1
    if how == "broken pipe":
        assert records[0] == first
    else:
        printed = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
        assert records == printed
    assert any(r["type"] == "speech" for r in records)
    assert all(r.get("end", r["t"]) <= summary["duration_s"] + 0.05 for r in records)


def stored_sessions(db: Path) -> int:
    """Sessions in the database so far: none while live has yet to create the file or its
    tables (a file that exists may not hold the schema yet, seen on a loaded machine)."""
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db)) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])
        except sqlite3.OperationalError as e:
            if "no such table" not in str(e):
                raise
            return 0


def test_live_keeps_whispering_while_the_store_is_away_and_nothing_is_lost(
        pulse, call, tmp_path):
    """Another process takes the database's write lock once live has started and holds it
    through the call: the hints are still whispered into the headset, the console says the
    store is away, and the session ends failed with every record in a spool that ``recover``
    puts back."""
    site = tmp_path / "site.toml"
    site.write_text("[store]\nlock_wait_s = 0.2\nretry_s = 0.5\n")
    db = tmp_path / "live.sqlite3"
    proc = start_live(pulse, tmp_path, "--headset-device", f"pulse:{HEADSET}",
                      "--config", str(site))
    deadline = time.monotonic() + 30
    while not stored_sessions(db):  # the session is stored: under way
        assert time.monotonic() < deadline, (tmp_path / "err.txt").read_text()
        time.sleep(0.05)
    with lock_held(db), pulse.record(f"{HEADSET}.monitor", tmp_path / "headset.wav"):
        play_call(pulse, call)
        time.sleep(1.0)  # the last hangover and hint
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 2  # the store failed: an error, not an interruption
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    hints = of_type(records, "hint")
    assert [(h["rule"], h["played"]) for h in hints] == [("interruption", True),
                                                         ("dead_air", True)]
    assert len(bursts(tmp_path / "headset.wav")) == len(hints)
    err = (tmp_path / "err.txt").read_text()
    assert "Traceback" not in err and "gives the database up" in err
    [error] = [line for line in err.splitlines() if line.startswith("callmonitor: error:")]
    spool = Path(error.rsplit("`callmonitor recover ", 1)[1].rstrip("`"))
    assert spool.parent == tmp_path / "live-spool"
    done = subprocess.run([*CLI, "recover", str(spool)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        stored = [json.loads(b) for (b,) in conn.execute("SELECT body FROM records ORDER BY seq")]
        status = conn.execute("SELECT status FROM sessions").fetchone()[0]
    assert stored == records and status == "interrupted"


def test_devices_lists_pulseaudio_sources_and_sinks_by_typable_names(pulse):
    env = {**os.environ, **pulse.client_env()}
    done = subprocess.run([*CLI, "devices", "--json"], env=env, capture_output=True, text=True,
                          check=True)
    found = {d["name"]: d for d in map(json.loads, done.stdout.splitlines())}
    assert found[f"pulse:{AGENT}.monitor"]["inputs"] > 0
    assert found[f"pulse:{HEADSET}"]["outputs"] > 0
    assert "pulse" in found  # PortAudio's ALSA device that reaches the server


def test_a_missing_device_is_one_clear_line_and_stores_nothing(pulse, tmp_path):
    env = {**os.environ, **pulse.client_env()}
    db = tmp_path / "none.sqlite3"
    done = subprocess.run([*CLI, "live", "--agent-device", "no-such-mic", "--no-whisper",
                           "--asr", "none", "--db", str(db)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(
        "callmonitor: error: cannot open input device 'no-such-mic'")
    assert not db.exists()
    done = subprocess.run([*CLI, "live", "--agent-device", f"pulse:{AGENT}.monitor",
                           "--asr", "none", "--db", str(db)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--headset-device" in done.stderr
