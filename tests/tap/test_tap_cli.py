"""``callmonitor tap`` as a process: its options, its exit on SIGTERM and Ctrl-C (every open
call stored as interrupted with what was received), and two tap processes sharing one
PostgreSQL store."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from monitor.storage.sessions import list_sessions, session_records
from testkit.audiosocket_client import Leg, audio_messages, play_call, uuid_message
from testkit.postgres import free_port

CLI = [sys.executable, "-m", "monitor", "tap", "--asr", "none"]
TONE = (8000 * np.sin(2 * np.pi * 440 * np.arange(8000 * 3) / 8000)).astype("<i2")  # 3 s


def start_tap(tmp_path: Path, db: str, name: str = "tap") -> tuple[subprocess.Popen, int, int]:
    """A tap process on two free ports, once it listens; its stderr goes to NAME.err."""
    agent, customer = free_port(), free_port()
    err = tmp_path / f"{name}.err"
    proc = subprocess.Popen([*CLI, "--db", db, "--audiosocket-agent", f"127.0.0.1:{agent}",
                             "--audiosocket-customer", f"127.0.0.1:{customer}",
                             "--websocket", ""],
                            stdout=subprocess.DEVNULL, stderr=err.open("w"))
    deadline = time.monotonic() + 30
    while "listening" not in err.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
        time.sleep(0.05)
    return proc, agent, customer


def wait_for(db: str, count: int, status: str | None = None) -> list:
    deadline = time.monotonic() + 30
    while True:
        sessions = list_sessions(db, 100)
        if len(sessions) >= count and all(status in (None, s.status) for s in sessions):
            return sessions
        assert time.monotonic() < deadline, sessions
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_every_open_call_as_interrupted_with_everything_received(
        tmp_path, sig):
    db = str(tmp_path / "tap.sqlite3")
    proc, agent_port, customer_port = start_tap(tmp_path, db)
    legs = [Leg(agent_port), Leg(customer_port)]
    call_id = str(uuid.uuid4())
    for leg in legs:
        leg.raw(uuid_message(call_id))
        for data in audio_messages(TONE):
            leg.raw(data)
    wait_for(db, 1)  # the session is stored once its audio comes
    time.sleep(1.0)  # and the few hundred messages sent are read by then
    proc.send_signal(sig)
    assert proc.wait(30) == 128 + sig
    for leg in legs:
        leg.close()
    err = (tmp_path / "tap.err").read_text()
    assert "Traceback" not in err
    [info] = list_sessions(db, 10)
    assert (info.mode, info.status) == ("tap", "interrupted")
    summary = list(session_records(db, info.id))[-1]
    assert summary["duration_s"] == pytest.approx(3.0, abs=0.03)
    assert {c: s["end"] for c, s in summary["tap"]["channels"].items()} == {
        "agent": "the tap server stopped", "customer": "the tap server stopped"}


def test_a_port_taken_or_an_address_that_is_none_is_one_line_and_exit_status_2(tmp_path):
    db = str(tmp_path / "tap.sqlite3")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([*CLI, "--db", db, "--audiosocket-agent", f"127.0.0.1:{port}",
                               "--audiosocket-customer", ""], capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"callmonitor: error: cannot listen on 127.0.0.1:{port} for the audiosocket agent "
        "legs (Address already in use); give a free port and an address of this machine"]
    bad = subprocess.run([*CLI, "--db", db, "--audiosocket-agent", "nowhere"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == ["callmonitor: error: --audiosocket-agent 'nowhere' is "
                                       "not HOST:PORT; give an address and port, e.g. "
                                       "127.0.0.1:9092"]


@pytest.mark.slow
def test_two_tap_processes_share_one_postgresql_store(tmp_path, postgres_server):
    url = postgres_server.create_database(f"t{uuid.uuid4().hex[:12]}")
    taps = [start_tap(tmp_path, url, name) for name in ("one", "two")]
    calls = {}
    for (_, agent, customer), scale in zip(taps, (1, 2), strict=True):
        call_id = str(uuid.uuid4())
        short = np.stack([TONE[:8000 * scale]] * 2, axis=1)
        play_call(agent, customer, short, call_id)
        calls[call_id] = float(scale)
    sessions = wait_for(url, 2, "complete")
    for proc, _, _ in taps:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 128 + signal.SIGTERM
    assert sorted((next(c for c in calls if c in s.source), s.duration_s) for s in sessions) \
        == sorted((c, pytest.approx(d, abs=0.03)) for c, d in calls.items())
