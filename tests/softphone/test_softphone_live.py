"""``callmonitor live --softphone`` with real parts: a private PulseAudio server, baresip 1.0.0
answering on loopback (its audio in null sinks), sipp calling it with G.711 RTP carrying a
customer's recording, and the monitor following baresip's ctrl_tcp events.

The scenario's truth is the wall clock: when sipp sent its INVITE and ACK (its message trace)
and when the test pressed baresip's keys (accept after two CN rings, hold, resume). The
customer hangs up the first call; the agent hangs up the second. Each call is one session.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from testkit.pulse import PulseServer
from testkit.softphone import ULAW_RATE_HZ, Baresip, Caller, connected_to
from testkit.synth import load_clip

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("pulseaudio", "softphone")]

CLI = [sys.executable, "-m", "monitor"]
PHONE_OUT, AGENT_MIC, SPARE = "softphone_out", "agent_mic", "spare"
ANSWER_AFTER_S = 6.0  # CN cadence, a ring every 5 s: rings at 0 and 5, two before pickup
HOLD_AFTER_S, HOLD_S = 4.0, 3.0  # after the answer
# The customer's audio from the ACK on: (offset s, clip). The first before the hold, the
# second after the resume (7 s after the answer).
SPEECH = [(0.5, "c_query_bill"), (7.6, "c_ok_thanks")]
PICKUP_TOLERANCE_S = 0.3
# Speech as the monitor hears it comes later than sipp sent it: baresip's jitter buffer and
# PulseAudio's playback (0.1-0.2 s measured on the null sink), and the session's audio time
# starts when its devices opened, after the incoming call reached it; the VAD's onset and
# hangover move the edges by up to a few frames more.
SPEECH_TOLERANCE_S = 0.5
HOLD_TOLERANCE_S = 1.0


def customer_audio() -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The customer's side from the ACK on (8 kHz) and its speech spans, from the clips'
    manifest."""
    spans, parts = [], []
    end = max(at + len(load_clip(c, ULAW_RATE_HZ).samples) / ULAW_RATE_HZ for at, c in SPEECH)
    audio = np.zeros(int((end + 0.3) * ULAW_RATE_HZ))
    for at, name in SPEECH:
        clip = load_clip(name, ULAW_RATE_HZ)
        i = int(at * ULAW_RATE_HZ)
        audio[i:i + len(clip.samples)] = clip.samples
        spans.append((at + clip.speech_start / ULAW_RATE_HZ, at + clip.speech_end / ULAW_RATE_HZ))
        parts.append(clip)
    return audio, spans


@pytest.fixture
def desk(tmp_path):
    """PulseAudio, baresip on it, and ``live --softphone`` following baresip."""
    with PulseServer(rate=8000) as pulse:
        pulse.add_call_sinks(SPARE, PHONE_OUT, AGENT_MIC)
        with Baresip(pulse, player=PHONE_OUT, source=f"{AGENT_MIC}.monitor",
                     alert=SPARE) as phone:
            env = {**os.environ, **pulse.client_env(), "XDG_CACHE_HOME": str(tmp_path / "c")}
            proc = subprocess.Popen(
                [*CLI, "live", "--softphone", f"baresip:127.0.0.1:{phone.ctrl_port}",
                 "--agent-device", f"pulse:{AGENT_MIC}.monitor", "--customer-device",
                 f"pulse:{PHONE_OUT}.monitor", "--asr", "none", "--json", "--no-whisper",
                 "--db", str(tmp_path / "calls.sqlite3")],
                env=env, stdout=(tmp_path / "out.jsonl").open("w"),
                stderr=(tmp_path / "err.txt").open("w"))
            try:
                deadline = time.monotonic() + 30
                while not connected_to(phone.ctrl_port):
                    assert proc.poll() is None, (tmp_path / "err.txt").read_text()
                    assert time.monotonic() < deadline, "live did not connect to baresip"
                    time.sleep(0.05)
                yield phone, proc
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


def sessions(tmp_path: Path) -> list[list[dict]]:
    """The JSON lines printed, one list per session (each ends with its summary)."""
    out: list[list[dict]] = [[]]
    for line in (tmp_path / "out.jsonl").read_text().splitlines():
        out[-1].append(json.loads(line))
        if out[-1][-1]["type"] == "summary":
            out.append([])
    return out[:-1]


def wait_until(wall: float) -> None:
    time.sleep(max(0.0, wall - time.time()))


def test_calls_from_baresip_are_sessions_with_exact_rings_pickup_hold_and_who_hung_up(
        desk, tmp_path):
    phone, proc = desk
    audio, spans = customer_audio()
    first = Caller(tmp_path / "call1", audio, hold=True)
    started = first.start(phone.sip_port)
    accept = wait_until(started + ANSWER_AFTER_S) or phone.key("a")
    wait_until(accept + HOLD_AFTER_S)
    hold = phone.key("x")
    wait_until(hold + HOLD_S)
    resume = phone.key("X")
    assert first.wait() == 0, (tmp_path / "call1" / "sipp.log").read_text()
    [invite], [ack, *_] = first.sent("INVITE"), first.sent("ACK")

    time.sleep(0.5)  # the second call: answered at once, hung up by the agent
    second = Caller(tmp_path / "call2", audio[:ULAW_RATE_HZ], hold=False)
    started2 = second.start(phone.sip_port)
    wait_until(started2 + 1.0)
    phone.key("a")
    time.sleep(1.0)
    phone.key("b")
    assert second.wait() == 0, (tmp_path / "call2" / "sipp.log").read_text()
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)  # between calls: nothing is cut
    assert proc.wait(20) == 128 + signal.SIGTERM, (tmp_path / "err.txt").read_text()

    call, call2 = sessions(tmp_path)
    summary = call[-1]
    answer_t = accept - invite
    rings = [r["t"] for r in call if r["type"] == "call_event" and r["event"] == "ring"]
    assert rings == [0.0, 5.0] and summary["rings_before_pickup"] == 2
    [pickup] = [r for r in call if r["type"] == "pickup"]
    assert pickup["rings"] == 2
    assert abs(pickup["t"] - answer_t) <= PICKUP_TOLERANCE_S, (pickup, answer_t)
    heard = [(r["start"], r["end"]) for r in call
             if r["type"] == "speech" and r["channel"] == "customer"]
    sent = [(ack - invite + s, ack - invite + e) for s, e in spans]
    for s, e in sent:  # a clip's pause at a comma may split it in two segments
        part = [(hs, he) for hs, he in heard
                if hs < e + SPEECH_TOLERANCE_S and he > s - SPEECH_TOLERANCE_S]
        assert part, (heard, sent)
        assert abs(part[0][0] - s) <= SPEECH_TOLERANCE_S, (heard, sent)
        assert abs(part[-1][1] - e) <= SPEECH_TOLERANCE_S, (heard, sent)
    assert all(any(hs < e + SPEECH_TOLERANCE_S and he > s - SPEECH_TOLERANCE_S
                   for s, e in sent) for hs, he in heard), (heard, sent)
    assert not [r for r in call if r["type"] == "speech" and r["channel"] == "agent"]
    [held] = [r for r in call if r["type"] == "hold_end"]
    assert abs(held["duration_s"] - (resume - hold)) <= HOLD_TOLERANCE_S, held
    assert abs(held["start"] - (hold - invite)) <= HOLD_TOLERANCE_S, held
    [hangup] = [r for r in call if r["type"] == "call_event" and r["event"] == "hangup"]
    assert hangup["by"] == "customer" and summary["hung_up_by"] == "customer"
    assert summary["status"] == "complete"
    assert summary["t"] == pytest.approx(hangup["t"], abs=0.05)

    assert call2[-1]["hung_up_by"] == "agent" and call2[-1]["status"] == "complete"
    assert call2[-1]["rings_before_pickup"] == 1
    with sqlite3.connect(tmp_path / "calls.sqlite3") as db:
        stored = db.execute("SELECT mode, status FROM sessions ORDER BY id").fetchall()
    assert stored == [("live", "complete"), ("live", "complete")]
    print(f"pickup {pickup['t']:.3f} s (truth {answer_t:.3f}); speech heard {heard}, sent "
          f"{[(round(s, 3), round(e, 3)) for s, e in sent]}; hold {held['duration_s']:.3f} s "
          f"(truth {resume - hold:.3f}); hangup {hangup['t']:.3f} (BYE sent "
          f"{first.sent('BYE')[0] - invite:.3f})")


def test_a_softphone_restarted_mid_call_ends_that_session_in_one_line_and_the_desk_goes_on(
        desk, tmp_path):
    phone, proc = desk
    audio, _ = customer_audio()
    caller = Caller(tmp_path / "call", audio, hold=False)
    started = caller.start(phone.sip_port)
    wait_until(started + 1.0)
    phone.key("a")
    time.sleep(1.5)
    phone.restart()  # the call is gone with it
    restarted = time.time()
    caller.stop()
    deadline = time.monotonic() + 10
    while not sessions(tmp_path):
        assert time.monotonic() < deadline and proc.poll() is None, (
            tmp_path / "err.txt").read_text()
        time.sleep(0.05)
    ended = time.time()
    assert connected_to(phone.ctrl_port)  # still there for the next call
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 128 + signal.SIGTERM
    [call] = sessions(tmp_path)
    summary = call[-1]
    assert summary["status"] == "complete" and summary["hung_up_by"] is None
    assert summary["rings_before_pickup"] == 1
    err = (tmp_path / "err.txt").read_text().splitlines()
    warned = [w for w in err if w.startswith("callmonitor: warning: softphone:")]
    assert ["lost baresip" in w for w in warned].count(True) == 1, err
    assert ["no longer listed" in w for w in warned].count(True) == 1, err
    assert ended - restarted < 3.0  # reconnect_s (1 s) and the query's answer


def test_ctrl_c_mid_call_ends_that_session_as_interrupted(desk, tmp_path):
    phone, proc = desk
    caller = Caller(tmp_path / "call", np.zeros(ULAW_RATE_HZ), hold=False)
    started = caller.start(phone.sip_port)
    wait_until(started + 0.5)
    phone.key("a")
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(20) == 128 + signal.SIGINT, (tmp_path / "err.txt").read_text()
    caller.stop()
    [call] = sessions(tmp_path)
    assert call[-1]["status"] == "interrupted" and call[-1]["hung_up_by"] is None
    assert [r["event"] for r in call if r["type"] == "call_event"] == ["ring", "answer"]
    with sqlite3.connect(tmp_path / "calls.sqlite3") as db:
        assert db.execute("SELECT status FROM sessions").fetchall() == [("interrupted",)]
