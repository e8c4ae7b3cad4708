"""Calls played into a tap server as WebSocket audio forks (mod_audio_fork- and jambonz-style
clients, testkit/fork_client.py) on loopback, faster than real time. Truth: ``replay`` of the
same audio as a WAV (speech within 0.15 s, rings exact, alerts within 0.15 s); the alerts sent
back on the socket are the stored ones."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from monitor.config import load_config
from monitor.storage.sessions import list_sessions
from testkit.fork_client import (
    JAMBONZ,
    Fork,
    jambonz_metadata,
    mod_audio_fork_metadata,
)
from testkit.postgres import free_port
from testkit.replay import of_type, replay_records
from testkit.tap_server import running_tap, stereo_8k
from testkit.timelines import assert_close, assert_same_timeline, spans

FAST = {"partner_wait_s": 0.3, "lag_wait_s": 0.3}


def tap_config(**tap):
    return load_config("zh-CN", {"tap": {**FAST, **tap}})


@pytest.fixture(scope="module")
def calls(synth_call, tmp_path_factory):
    """The interruption-and-dead-air call at 16 kHz and the five-rings call at 8 kHz, as a
    PBX would fork them (agent column 0, customer column 1), with their replays."""
    out = tmp_path_factory.mktemp("fork_calls")
    cfg = tap_config()
    made = {}
    for name, scenario, rate in (("live", "live_call", 16000),
                                 ("rings", "rules/ring_late_no_apology", 8000)):
        wav, stereo = stereo_8k(synth_call(scenario).wav, out / f"{name}.wav", rate)
        made[name] = (wav, stereo, rate, replay_records(wav, cfg))
    return made


def stored_call(tap, call_id):
    [(info, records)] = [(i, r) for i, r in tap.sessions() if call_id in i.source]
    return info, records


def test_a_stereo_mod_audio_fork_call_is_its_replay_and_its_alerts_come_back(calls, tmp_path):
    """16 kHz stereo, the forked channel's party (the caller: the customer) left and the
    callee (the agent) right, as [tap] fork_agent_channel says by default; 100 ms frames;
    mod_audio_fork's graceful shutdown, so every alert is answered before the close."""
    _wav, stereo, rate, expected = calls["live"]
    call_id = str(uuid.uuid4())
    with running_tap(tap_config(), tmp_path / "tap.sqlite3") as tap:
        fork = Fork(tap.websocket_port, mod_audio_fork_metadata(call_id, rate, "stereo"))
        fork.audio(stereo[:, ::-1], rate, frame_s=0.1)
        answered = fork.graceful_shutdown()
        assert tap.tap.idle(60, accepted=1)
        info, stored = stored_call(tap, call_id)
    assert (info.mode, info.status) == ("tap", "complete")
    assert_same_timeline(stored, expected)
    alerts = of_type(stored, "alert")
    assert [a["rule"] for a in alerts] == ["interruption", "dead_air"]
    assert [m["type"] for m in answered] == ["json", "json"]
    assert [m["data"] for m in answered] == [
        {"event": "callmonitor.alert", "callSid": call_id, "rule": a["rule"], "t": a["t"],
         "severity": a["severity"], "message": a["message"], "say": a["say"]} for a in alerts]
    for side in stored[-1]["tap"]["channels"].values():
        assert side == {"rate_hz": rate, "received_s": pytest.approx(len(stereo) / rate),
                        "padded_s": 0.0, "end": "graceful shutdown"}


def test_a_jambonz_listen_call_takes_its_sides_and_names_from_the_metadata(calls, tmp_path):
    """8 kHz stereo with the agent left (``agentChannel`` in the verb's metadata), the names
    the greeting must hold from it too; 20 ms frames; ended by a WebSocket close."""
    _wav, stereo, rate, expected = calls["rings"]
    call_id = str(uuid.uuid4())
    metadata = jambonz_metadata(call_id, rate, "stereo", agentChannel="left",
                                agentName="小王", company="远方科技")
    with running_tap(tap_config(), tmp_path / "tap.sqlite3") as tap:
        fork = Fork(tap.websocket_port, metadata, subprotocol=JAMBONZ)
        assert fork.ws.subprotocol == JAMBONZ
        fork.audio(stereo, rate)
        fork.close()
        assert tap.tap.idle(60, accepted=1)
        info, stored = stored_call(tap, call_id)
    assert info.status == "complete"
    assert (info.agent, info.company) == ("小王", "远方科技")
    assert_same_timeline(stored, expected)
    assert stored[-1]["rings_before_pickup"] == expected[-1]["rings_before_pickup"] == 5
    assert stored[-1]["tap"]["channels"]["agent"]["end"] == "WebSocket closed"


def test_a_mixed_fork_is_a_mixed_call_and_a_mono_fork_the_callers_side(calls, tmp_path):
    """mixed: both sides in one channel, as ``replay --channels mixed`` takes the WAV (the
    checks that need the sides apart skipped); mono: the forked channel's party alone (left:
    the customer by default), as the customer's side of the replay."""
    wav, stereo, rate, expected = calls["rings"]
    cfg = tap_config()
    want_mixed = replay_records(wav, cfg, channels="mixed")
    mixed = (stereo.astype(np.int32).sum(axis=1) // 2).astype("<i2")[:, None]
    ids = {"mixed": str(uuid.uuid4()), "mono": str(uuid.uuid4())}
    with running_tap(cfg, tmp_path / "tap.sqlite3") as tap:
        for mix, pcm in (("mixed", mixed), ("mono", stereo[:, 1:])):
            fork = Fork(tap.websocket_port, mod_audio_fork_metadata(ids[mix], rate, mix))
            fork.audio(pcm, rate)
            fork.close()
        assert tap.tap.idle(60, accepted=2)
        (_, got_mixed), (_, got_mono) = (stored_call(tap, ids[m]) for m in ("mixed", "mono"))
    assert_close(spans(got_mixed, "agent"), spans(want_mixed, "agent"))
    assert ([(r["start"], r["end"]) for r in of_type(got_mixed, "ring")]
            == [(r["start"], r["end"]) for r in of_type(want_mixed, "ring")])
    assert got_mixed[-1]["rules_skipped"] == want_mixed[-1]["rules_skipped"] != []
    assert set(got_mono[-1]["tap"]["channels"]) == {"customer"}
    assert_same_timeline(got_mono, [r for r in expected if r.get("channel") != "agent"
                                    and r["type"] != "alert"], channels=("customer",))


IDLE_S = 0.5
TONE = (8000 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype("<i2")[:, None]  # 1 s


@pytest.fixture(scope="module")
def tap(tmp_path_factory):
    cfg = tap_config(idle_timeout_s=IDLE_S, websocket_max_message_bytes=4096)
    with running_tap(cfg, tmp_path_factory.mktemp("tap") / "tap.sqlite3") as running:
        yield running


def meta(call_id, **over):
    return mod_audio_fork_metadata(call_id, 8000, "mono") | over


def warnings_of(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# (the metadata, or what comes instead; the log line; the close code): nothing is stored.
REFUSED = {
    "audio before the metadata": (TONE[:160].tobytes(), "audio before the metadata", 1008),
    "metadata not JSON": ("callSid=1 sampleRate=8000", "metadata that is not JSON", 1007),
    "no call id": ({"sampleRate": 8000, "mixType": "mono"}, 'without a "callSid"', 1008),
    "a sample rate not served": ("RATE", "sampleRate 44100: only 8000 or 16000", 1003),
    "a mix type not known": ("MIX", "mixType 'quad': mono, mixed or stereo", 1003),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_fork_refused_at_its_metadata_is_one_line_and_a_close_code(tap, caplog, case):
    first, line, code = REFUSED[case]
    call_id = str(uuid.uuid4())
    if first in ("RATE", "MIX"):
        first = meta(call_id, **{"RATE": {"sampleRate": 44100}, "MIX": {"mixType": "quad"}}[first])
    before, accepted = len(tap.sessions()), tap.tap.server.accepted
    with caplog.at_level(logging.INFO, "callmonitor.tap"):
        fork = Fork(tap.websocket_port, None)
        fork.send(first)
        assert fork.received(10) == []
        assert tap.tap.idle(10, accepted=accepted + 1)
    assert fork.ws.close_code == code
    [warning] = warnings_of(caplog)
    assert warning.startswith("websocket connection from 127.0.0.1:") and line in warning
    assert len(tap.sessions()) == before


# (what the fork sends after its metadata and one second of audio, the log line, the close
# code it gets): the call is stored interrupted, with the second received.
CUT_OFF = {
    "odd-length frame": (b"\x00" * 321, "a binary frame of 321 bytes, not whole 16-bit mono "
                         "samples", 1007),
    "oversize frame": (b"\x00" * 4098, "a bad WebSocket frame (frame with 4098 bytes", 1009),
    "dropped mid-call": (None, "dropped without a WebSocket close", None),
    "stalled": (b"", f"nothing for {IDLE_S:g} s ([tap] idle_timeout_s)", 1008),
}


@pytest.mark.parametrize("case", list(CUT_OFF))
def test_a_fork_that_breaks_off_is_one_line_and_its_call_is_stored_interrupted(
        tap, caplog, case):
    ending, line, code = CUT_OFF[case]
    call_id = str(uuid.uuid4())
    accepted = tap.tap.server.accepted
    with caplog.at_level(logging.INFO, "callmonitor.tap"):
        fork = Fork(tap.websocket_port, meta(call_id))
        fork.audio(TONE, 8000)
        if ending is None:
            fork.drop()
        elif ending:
            fork.send(ending)
        assert tap.tap.idle(10, accepted=accepted + 1)
    if code is not None:
        assert fork.received(10) == [] and fork.ws.close_code == code
    [warning] = warnings_of(caplog)
    assert line in warning, warning
    info, records = stored_call(tap, call_id)
    assert info.status == "interrupted"
    assert records[-1]["tap"]["channels"]["customer"]["received_s"] == 1.0
    assert records[-1]["duration_s"] == pytest.approx(1.0, abs=0.03)


def test_not_a_websocket_and_closed_before_the_metadata_are_one_line_each(tap, caplog):
    accepted = tap.tap.server.accepted
    with caplog.at_level(logging.INFO, "callmonitor.tap"):
        plain = socket.create_connection(("127.0.0.1", tap.websocket_port))
        plain.sendall(b"GET / HTTP/1.1\r\nHost: tap\r\n\r\n")
        plain.settimeout(10)
        assert plain.recv(64).startswith(b"HTTP/1.1 426")  # Upgrade Required
        plain.close()
        Fork(tap.websocket_port, None).close()
        assert tap.tap.idle(10, accepted=accepted + 2)
    first, second = warnings_of(caplog)
    assert "not a WebSocket handshake" in first
    assert second.endswith("closed before its metadata")


def test_after_every_bad_fork_a_good_call_is_served_whole(tap):
    """... its first 0.2 s sent as one message in four fragments, which are joined (3200
    bytes: under the 4096 of this tap's websocket_max_message_bytes)."""
    call_id = str(uuid.uuid4())
    accepted = tap.tap.server.accepted
    fork = Fork(tap.websocket_port, meta(call_id))
    fork.ws.send(TONE[at:at + 400].tobytes() for at in range(0, 1600, 400))
    fork.audio(TONE[1600:], 8000)
    assert fork.graceful_shutdown(10) == []  # a tone: nothing to alert
    assert fork.ws.close_code == 1000
    assert tap.tap.idle(10, accepted=accepted + 1)
    info, records = stored_call(tap, call_id)
    assert info.status == "complete" and records[-1]["duration_s"] == pytest.approx(1.0, abs=0.03)


def test_idle_forks_are_closed_after_the_idle_timeout(tap, caplog):
    """WebSocket connections that never send their metadata hold no call and are closed like
    any silent connection (the server's bound, tested at 1000 in test_tap_peers)."""
    accepted = tap.tap.server.accepted
    with caplog.at_level(logging.INFO, "callmonitor.tap"):
        forks = [Fork(tap.websocket_port, None) for _ in range(50)]
        assert tap.tap.idle(10, accepted=accepted + 50)
    assert all(f.received(10) == [] and f.ws.close_code == 1008 for f in forks)
    lines = warnings_of(caplog)
    assert len(lines) == 50
    assert all(f"nothing for {IDLE_S:g} s ([tap] idle_timeout_s)" in x for x in lines)


def test_the_websocket_option_of_the_command_serves_forks(tmp_path):
    """``callmonitor tap --websocket HOST:PORT`` alone: a fork's call is stored, and the
    listening line names it."""
    port, db, err = free_port(), str(tmp_path / "tap.sqlite3"), tmp_path / "tap.err"
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "tap", "--asr", "none", "--db", db,
                             "--audiosocket-agent", "", "--audiosocket-customer", "",
                             "--websocket", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=err.open("w"))
    try:
        deadline = time.monotonic() + 30
        while "listening" not in err.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.05)
        call_id = str(uuid.uuid4())
        fork = Fork(port, jambonz_metadata(call_id, 8000, "mono"), subprotocol=JAMBONZ)
        fork.audio(TONE, 8000)
        assert fork.graceful_shutdown(30) == []
    finally:
        proc.terminate()
        proc.wait(30)
    assert f"listening: websocket calls on 127.0.0.1:{port}" in err.read_text()
    [info] = list_sessions(db, 10)
    assert call_id in info.source and info.status == "complete"
