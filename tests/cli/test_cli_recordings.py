"""``callmonitor replay`` on compressed recordings and with ``--channels``, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from monitor.engine.core import MIXED_WHY
from testkit.encode import encode_wav

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "monitor"]


def cli(*args, env=None):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=REPO, timeout=300)


def records(result):
    result.check_returncode()
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_an_mp3_replays_with_its_layout_in_the_header(tmp_path, synth_call):
    mp3 = encode_wav(synth_call("rules/ring_three").wav, "mp3", tmp_path)
    db = tmp_path / "s.sqlite3"
    text = cli("replay", mp3, "--asr", "none", "--db", db)
    text.check_returncode()
    assert "ring_three.mp3: stereo, 16000 Hz MP3" in text.stdout.splitlines()[0]
    summary = records(cli("replay", mp3, "--asr", "none", "--json", "--db", db))[-1]
    assert summary["status"] == "complete" and summary["rings_before_pickup"] == 3


def test_channels_mixed_from_the_command_line_and_the_config(tmp_path, synth_call):
    flac = encode_wav(synth_call("rules/ring_three").wav, "flac", tmp_path)
    db = tmp_path / "s.sqlite3"
    site = tmp_path / "site.toml"
    site.write_text('[audio]\nchannels = "mixed"\n', encoding="utf-8")
    for extra in (["--channels", "mixed"], ["--config", site]):
        got = records(cli("replay", flac, "--asr", "none", "--json", "--db", db, *extra))
        assert {r["channel"] for r in got if r["type"] == "speech"} == {"agent"}
        assert {"rule": "dead_air", "why": MIXED_WHY} in got[-1]["rules_skipped"]
    refused = cli("replay", flac, "--asr", "none", "--channels", "mixed", "--swap-channels",
                  "--db", db)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "no sides to swap" in refused.stderr


def test_a_bad_recording_is_one_line_and_status_2(tmp_path):
    bad = tmp_path / "call.ogg"
    bad.write_bytes(b"OggS" + bytes(200))
    db = tmp_path / "s.sqlite3"
    result = cli("replay", bad, "--asr", "none", "--db", db)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "not a readable OGG file" in result.stderr
    assert not db.exists()
