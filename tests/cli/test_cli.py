"""The ``callmonitor`` command as a user runs it: real processes, real files, real SQLite."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from monitor.batch.scoring import DEFAULT_TOLERANCE_S
from monitor.config import config_dir, load_config
from monitor.engine.rules import RULES
from monitor.sinks.timeline import clock
from testkit.kept import decoded_s

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "demo_call.wav"
CLI = [sys.executable, "-m", "monitor"]
CONTRACT_TYPES = {"speech", "utterance", "ring", "pickup", "hold_start", "hold_end", "alert",
                  "metric", "summary"}


def cli(*args, env=None, **kw):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=REPO, timeout=300, **kw)


def session_count(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]


def write_wav(path: Path, *, channels=1, bits=16, rate=16000, seconds=0.5) -> Path:
    """A WAV written by sox, so the file is what real tools produce."""
    subprocess.run(["sox", "-n", "-r", str(rate), "-c", str(channels), "-b", str(bits), str(path),
                    "synth", str(seconds), "sine", "300"], check=True)
    return path


def bad_inputs(tmp: Path) -> dict[str, tuple[Path, str]]:
    empty = tmp / "empty.wav"
    empty.write_bytes(b"")
    text = tmp / "notes.wav"
    text.write_text("call notes: customer wants a refund\n")
    truncated = tmp / "truncated.wav"
    truncated.write_bytes(DEMO.read_bytes()[:30])
    return {
        "empty": (empty, "empty"),
        "text": (text, "not a WAV"),
        "truncated": (truncated, "trunc"),
        "24-bit": (write_wav(tmp / "b24.wav", bits=24), "24-bit"),
        "6-channel": (write_wav(tmp / "six.wav", channels=6), "6 channels"),
        "missing": (tmp / "nowhere.wav", "not found"),
    }


@pytest.mark.parametrize("case", ["empty", "text", "truncated", "24-bit", "6-channel", "missing"])
def test_bad_audio_is_one_line_naming_problem_and_fix_with_status_2(tmp_path, case):
    db = tmp_path / "s.sqlite3"
    cli("replay", DEMO, "--asr", "none", "--db", db).check_returncode()
    path, problem = bad_inputs(tmp_path)[case]
    result = cli("replay", path, "--asr", "none", "--db", db)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert problem.lower() in lines[0].lower()
    assert path.name in lines[0]
    assert ";" in lines[0]  # problem; fix
    assert session_count(db) == 1  # the earlier session is intact, no half-made one


def test_a_missing_model_is_one_line_naming_the_model_and_the_fix(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(config_dir(), config)
    default = config / "default.toml"
    default.write_text(default.read_text().replace('whisper_model = "faster-whisper-base"',
                                                   'whisper_model = "faster-whisper-gone"'))
    db = tmp_path / "s.sqlite3"
    result = cli("replay", DEMO, "--asr", "whisper", "--db", db,
                 env={"CALLMONITOR_CONFIG_DIR": str(config)})
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "faster-whisper-gone" in result.stderr
    assert "make models" in result.stderr or "install.py" in result.stderr
    assert session_count(db) == 0


def test_json_lines_follow_the_contract_and_end_in_one_summary(tmp_path):
    result = cli("replay", DEMO, "--asr", "none", "--json", "--db", tmp_path / "s.sqlite3")
    result.check_returncode()
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(r["type"] in CONTRACT_TYPES and isinstance(r["t"], float | int) for r in records)
    assert [r["type"] for r in records].count("summary") == 1
    assert records[-1]["type"] == "summary"
    times = [r["t"] for r in records if r["type"] in ("ring", "pickup")]
    assert times == sorted(times)


def test_a_mono_recording_is_the_agent_alone(tmp_path):
    mono = tmp_path / "agent.wav"
    subprocess.run(["sox", DEMO, "-r", "16000", "-b", "16", "-e", "signed", str(mono),
                    "remix", "1", "trim", "7", "12"], check=True)
    result = cli("replay", mono, "--asr", "none", "--json", "--db", tmp_path / "s.sqlite3")
    result.check_returncode()
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["channel"] for r in records if r["type"] == "speech"} == {"agent"}
    summary = records[-1]
    assert summary["talk_ratio_agent"] is None
    assert {"rule": "dead_air", "why": "needs the customer channel (the source has none)"} in (
        summary["rules_skipped"])


def test_swap_channels_puts_the_agent_on_the_right(tmp_path, synth_call):
    call = synth_call("dead_air").wav  # no ringback: tones are only looked for on the customer
    normal = cli("replay", call, "--asr", "none", "--json", "--db", tmp_path / "s.sqlite3")
    swapped = cli("replay", call, "--asr", "none", "--json", "--swap-channels",
                  "--db", tmp_path / "s.sqlite3")
    speech = [(json.loads(x)) for x in normal.stdout.splitlines()]
    speech_swapped = [(json.loads(x)) for x in swapped.stdout.splitlines()]
    flip = {"agent": "customer", "customer": "agent"}
    a = sorted((r["start"], r["channel"]) for r in speech if r["type"] == "speech")
    b = sorted((r["start"], flip[r["channel"]]) for r in speech_swapped if r["type"] == "speech")
    assert a == b


def test_sessions_and_show_give_back_what_replay_printed(tmp_path):
    db = tmp_path / "s.sqlite3"
    printed = cli("replay", DEMO, "--asr", "none", "--json", "--db", db)
    summary = json.loads(printed.stdout.splitlines()[-1])
    listed = cli("sessions", "--db", db).stdout
    assert f"{summary['session_id']:5d}" in listed and "complete" in listed
    shown = cli("show", summary["session_id"], "--json", "--db", db)
    assert shown.stdout == printed.stdout
    text = cli("show", summary["session_id"], "--db", db).stdout
    assert "pickup    after 2 ring(s)" in text and "Summary" in text


def _start_realtime(db: Path, *options: str) -> subprocess.Popen:
    proc = subprocess.Popen([*CLI, "replay", str(DEMO), "--asr", "none", "--realtime", "--json",
                             "--db", str(db), *options], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    line = ""
    while '"pickup"' not in line:  # wait until the call is under way (pickup at 7.5 s)
        line = proc.stdout.readline()
        assert line and time.monotonic() < deadline, "replay ended before pickup"
    return proc


def test_ctrl_c_ends_the_session_with_its_summary_and_keeps_the_records(tmp_path):
    db = tmp_path / "s.sqlite3"
    proc = _start_realtime(db, "--keep-audio")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130
    summary = json.loads(out.splitlines()[-1])
    assert summary["type"] == "summary" and summary["status"] == "interrupted"
    assert 7.5 < summary["duration_s"] < 20
    shown = cli("show", summary["session_id"], "--json", "--db", db).stdout.splitlines()
    types = [json.loads(x)["type"] for x in shown]
    assert types.count("ring") == 2 and "pickup" in types and types[-1] == "summary"
    # The audio heard until Ctrl-C is kept beside the database, stereo Opus in Ogg.
    kept = tmp_path / "s-audio" / f"session-{summary['session_id']}.opus"
    assert summary["kept_audio"] == str(kept)
    with av.open(str(kept)) as container:
        stream = container.streams.audio[0]
        assert (container.format.name, stream.codec_context.name, stream.channels) == (
            "ogg", "opus", 2)
    assert abs(decoded_s(kept) - summary["duration_s"]) <= 0.02


def test_a_killed_replay_keeps_every_record_and_is_shown_lost_at_its_last_heartbeat(tmp_path):
    db = tmp_path / "s.sqlite3"
    site = tmp_path / "site.toml"
    site.write_text("[store]\nheartbeat_s = 0.2\nlost_after_s = 1.0\n")
    began = time.monotonic()
    proc = _start_realtime(db, "--config", str(site))
    time.sleep(1.0)
    assert "running" in cli("sessions", "--db", db).stdout  # alive: its heartbeat is fresh
    killed = time.monotonic()
    proc.kill()
    proc.communicate(timeout=30)
    with sqlite3.connect(db) as conn:
        status, beat_t = conn.execute("SELECT status, heartbeat_t FROM sessions").fetchone()
        types = [t for (t,) in conn.execute("SELECT type FROM records ORDER BY seq")]
    assert status == "running"
    assert types.count("ring") == 2 and "pickup" in types
    # Its last heartbeat came after the pickup (7.5 s), which the test waited for, and not
    # after the audio a real-time replay can have played by the kill (however late it ran).
    assert 7.5 <= beat_t <= killed - began
    time.sleep(1.2)  # the heartbeat is now older than lost_after_s
    assert " lost " in cli("sessions", "--db", db).stdout
    shown = cli("show", "1", "--db", db).stdout
    assert "the session was lost" in shown and f"{clock(beat_t)} into the call" in shown


def test_without_recognition_a_call_with_no_greeting_is_not_scored_on_one(tmp_path, synth_call):
    """scenarios/rules/hold_unannounced: the customer opens and the agent never greets; its
    dead air is known. Timing only, the greeting and every other check of words are not made
    (neither passed nor failed): the score is the timing checks' share, dead air the one
    missed, and the timeline says what was not checked."""
    call = synth_call("rules/hold_unannounced")
    db = tmp_path / "s.sqlite3"
    result = cli("replay", call.wav, "--asr", "none", "--json", "--db", db)
    result.check_returncode()
    records = [json.loads(line) for line in result.stdout.splitlines()]
    summary = records[-1]
    word_rules = [r for cls in RULES for r in cls.rule_ids() if r in cls.needs_words]
    assert "greeting.incomplete" in word_rules
    assert [s["rule"] for s in summary["rules_skipped"]] == word_rules
    assert summary["greeting_ok"] is None
    checked = [c["rule"] for c in summary["checks"]]
    assert not set(checked) & set(word_rules)
    dead_air = [e["t"] for e in call.truth["expect"] if e["rule"] == "dead_air"]
    alerts = [r for r in records if r["type"] == "alert"]
    assert [a["rule"] for a in alerts] == ["dead_air"]
    assert abs(alerts[0]["t"] - dead_air[0]) <= DEFAULT_TOLERANCE_S
    weights = load_config("zh-CN").score_weights
    total = sum(weights[r] for r in checked)
    assert summary["score"] == round(100.0 * (total - weights["dead_air"]) / total, 1)
    text = cli("replay", call.wav, "--asr", "none", "--db", db).stdout
    assert f"QA score {summary['score']:.0f}/100 (missed: dead_air)" in text
    assert "not checked: " + ", ".join(word_rules) + ": needs recognised words" in text
