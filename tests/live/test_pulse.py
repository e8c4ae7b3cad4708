"""The PulseAudio test harness, and what sounddevice does on a real PulseAudio server.

Each test runs its own daemon with null sinks (testkit/pulse.py) and checks known tones by
their frequency and level: what is played into a sink must come out of the stream that reads
its monitor, and nowhere else. The last tests pin down what a stream sees when its device
vanishes, which the live monitor has to detect.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from testkit.pulse import PulseServer
from testkit.signals import RATE, dominant_hz, loud, read_wav, tone, write_wav

pytestmark = pytest.mark.usefixtures("pulseaudio")  # a skip without it, an error under $CI

BLOCK = 320  # 20 ms


class Capture:
    """A sounddevice InputStream whose callback keeps every block and status."""

    def __init__(self, sd, device: str) -> None:
        self.blocks: list[np.ndarray] = []
        self.statuses: list[str] = []
        self.finished = threading.Event()
        self.stream = sd.InputStream(samplerate=RATE, channels=1, dtype="float32",
                                     device=device, blocksize=BLOCK, callback=self._callback,
                                     finished_callback=self.finished.set)

    def _callback(self, indata, frames, time_info, status) -> None:
        self.blocks.append(indata[:, 0].copy())
        if status:
            self.statuses.append(str(status))

    def audio(self) -> np.ndarray:
        return np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.float32)

    def wait_blocks(self, n: int, timeout: float = 3.0) -> None:
        """Wait until ``n`` more blocks have arrived."""
        target = len(self.blocks) + n
        deadline = time.monotonic() + timeout
        while len(self.blocks) < target:
            assert time.monotonic() < deadline, f"only {len(self.blocks)} of {target} blocks"
            time.sleep(0.01)


@pytest.fixture
def pulse():
    with PulseServer(rate=48000, channels=1) as server:
        for name in ("call_agent", "call_customer", "headset"):
            server.add_sink(name)
        server.activate()
        yield server


@pytest.fixture
def sd(pulse):
    import sounddevice

    return sounddevice


def stream_sources(pulse: PulseServer) -> list[str]:
    """The sources that this process's sounddevice streams read."""
    return [o["source_name"] for o in pulse.source_outputs()
            if o["properties"].get("application.process.id") == str(os.getpid())]


def test_server_runs_null_sinks_and_stops_everything():
    before = {k: os.environ.get(k) for k in ("PULSE_SERVER", "PULSE_SOURCE", "XDG_CONFIG_HOME")}
    with PulseServer() as server:
        server.activate()
        server.route(source="call_customer.monitor")
        assert os.environ["PULSE_SERVER"] == f"unix:{server.socket}"
        assert server.add_sink("call_customer") == "call_customer.monitor"
        assert server.sinks() == ["call_customer"]
        assert server.sources() == ["call_customer.monitor"]
        sink = server.query("sinks")[0]
        assert sink["latency"]["configured"] <= 10_000  # usec: kept at 10 ms, not 2 s
        pids = [server.daemon.pid, *(p.pid for p in server._keepalive.values())]
        folder = server.dir
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not folder.exists()
    assert {k: os.environ.get(k) for k in before} == before


def test_portaudio_sees_pulseaudio_only_through_alsa(pulse, sd):
    names = {d["name"]: sd.query_hostapis(d["hostapi"])["name"] for d in sd.query_devices()}
    assert names.get("pulse") == "ALSA"
    assert names.get("default") == "ALSA"
    assert "PulseAudio" not in {h["name"] for h in sd.query_hostapis()}
    assert pulse.alsa_device("customer_line", "call_customer.monitor") == "customer_line"
    assert sd.query_devices("customer_line")["max_input_channels"] > 0


def test_each_stream_reads_the_source_it_was_routed_to(pulse, sd, tmp_path):
    line = pulse.alsa_device("customer_line", "call_customer.monitor")  # first: restarts PortAudio
    customer = Capture(sd, pulse.route(source="call_customer.monitor"))
    agent = Capture(sd, pulse.route(source="call_agent.monitor"))  # read when the stream opens
    named = Capture(sd, line)
    assert sorted(stream_sources(pulse)) == ["call_agent.monitor", *["call_customer.monitor"] * 2]
    for capture in (customer, agent, named):
        capture.stream.start()
    players = [pulse.play(write_wav(tmp_path / "c.wav", tone(1000, 0.6)), "call_customer",
                          wait=False),
               pulse.play(write_wav(tmp_path / "a.wav", tone(440, 0.6)), "call_agent",
                          wait=False)]
    for player in players:
        assert player.wait(5) == 0
    time.sleep(0.1)
    for capture in (customer, agent, named):
        capture.stream.close()
        assert capture.statuses == []
    for capture, hz in ((customer, 1000), (agent, 440), (named, 1000)):
        heard = loud(capture.audio())
        assert 0.55 < len(heard) / RATE < 0.65
        assert abs(dominant_hz(heard) - hz) < 5
        assert np.sqrt(np.mean(heard**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


def test_headset_output_reaches_the_headset_and_not_the_call(pulse, sd, tmp_path):
    played = tone(700, 0.5, amp=0.4)
    with pulse.record("headset.monitor", tmp_path / "headset.wav", rate=RATE) as headset, \
            pulse.record("call_agent.monitor", tmp_path / "agent.wav", rate=RATE) as agent:
        # latency='high' gave underruns here; and closing a stream drops what is still
        # buffered (its latency), so the sound is followed by that much silence.
        with sd.OutputStream(samplerate=RATE, channels=1, dtype="float32", latency=0.1,
                             device=pulse.route(sink="headset")) as out:
            out.write(np.concatenate([played, np.zeros(int(0.2 * RATE), np.float32)]))
        time.sleep(0.1)
    heard = loud(read_wav(headset.path))
    assert abs(dominant_hz(heard) - 700) < 5
    assert np.sum(heard**2) / np.sum(played**2) == pytest.approx(1, abs=0.03)
    assert np.abs(read_wav(agent.path)).max() == 0


def test_stream_whose_monitor_vanishes_moves_to_the_default_source_silently(pulse, sd):
    capture = Capture(sd, pulse.route(source="call_customer.monitor"))
    capture.stream.start()
    capture.wait_blocks(5)
    pulse.remove_sink("call_customer")
    time.sleep(0.3)
    # No error, no status, still active: PulseAudio moved the stream to the default source,
    # here the agent's line.
    assert stream_sources(pulse) == ["call_agent.monitor"]
    assert capture.stream.active and not capture.finished.is_set()
    assert capture.statuses == []
    pulse.add_sink("call_customer")
    time.sleep(0.3)
    assert stream_sources(pulse) == ["call_agent.monitor"]  # a monitor is not moved back
    capture.stream.close()


def test_stream_whose_microphone_vanishes_comes_back_with_it(pulse, sd, tmp_path):
    feed = pulse.add_source("agent_mic")
    capture = Capture(sd, pulse.route(source="agent_mic"))
    capture.stream.start()
    capture.wait_blocks(5)
    pulse.remove_source("agent_mic")
    time.sleep(0.3)
    assert stream_sources(pulse) == ["call_agent.monitor"]  # moved, no error, no status
    assert capture.stream.active and capture.statuses == []
    pulse.add_source("agent_mic")
    time.sleep(0.2)
    assert stream_sources(pulse) == ["agent_mic"]  # the device's own stream follows it back
    capture.wait_blocks(5)
    before = len(capture.blocks)
    pulse.play(write_wav(tmp_path / "mic.wav", tone(850, 0.4)), feed)
    time.sleep(0.1)
    capture.stream.close()
    heard = loud(np.concatenate(capture.blocks[before:]))
    assert 0.35 < len(heard) / RATE < 0.45
    assert abs(dominant_hz(heard) - 850) < 5


def test_stream_ends_when_no_device_is_left(pulse, sd):
    capture = Capture(sd, pulse.route(source="call_customer.monitor"))
    capture.stream.start()
    capture.wait_blocks(5)
    for sink in pulse.sinks():
        pulse.remove_sink(sink)
    # PortAudio prints its ALSA poll error to stderr; Python sees only the stream ending.
    assert capture.finished.wait(2)
    deadline = time.monotonic() + 1  # PortAudio clears `active` just after finished_callback
    while capture.stream.active and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not capture.stream.active
    assert not capture.stream.stopped  # never stopped by us: that is how to tell
    assert capture.statuses == []
    capture.stream.close()  # no exception
    pulse.add_sink("call_customer")
    again = Capture(sd, pulse.route(source="call_customer.monitor"))
    with again.stream:
        again.wait_blocks(5)
