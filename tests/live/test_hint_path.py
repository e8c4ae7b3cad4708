"""The hint path on a real PulseAudio server, without the rest of the live pipeline: the headset
player (monitor/hints/player.py) and the hint sink that drives it (monitor/sinks/hints.py).

A hint must never reach the customer. Truth: a known tone or the hint voice's own samples is
played, and the monitors of the call's null sinks are recorded; a null sink with nothing
playing gives exact digital zeros, so "nothing reached the call line" is a peak of 0. The
default sink is the agent's line, the worst case: where PulseAudio moves a stream whose sink
has vanished.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from monitor.config import load_config
from monitor.devices import DeviceWatch
from monitor.frames import Alert
from monitor.hints.player import OUTPUT_RATE_HZ, HeadsetPlayer
from monitor.hints.voice import HintVoice
from monitor.sinks.hints import HintSink
from testkit.pulse import PulseServer
from testkit.signals import RATE, dominant_hz, loud, read_wav, tone

pytestmark = pytest.mark.usefixtures("pulseaudio")  # a skip without it, an error under $CI

AGENT, CUSTOMER, HEADSET = "call_agent", "call_customer", "headset"
CALL_LINES = (AGENT, CUSTOMER)
WATCH_S = 0.05  # the device watch's interval here: removal is seen within a few of these
QUIET = {"agent": False, "customer": False}


@pytest.fixture(scope="module")
def cfg():
    return load_config("zh-CN")


@pytest.fixture
def pulse() -> Iterator[PulseServer]:
    with PulseServer(rate=OUTPUT_RATE_HZ, channels=1) as server:
        for name in (AGENT, CUSTOMER, HEADSET):
            server.add_sink(name)
        server.pactl("set-default-sink", AGENT)
        server.activate()
        yield server


@pytest.fixture
def watch(pulse) -> Iterator[DeviceWatch]:
    watch = DeviceWatch([f"pulse:{HEADSET}"], WATCH_S)
    yield watch
    watch.close()


@pytest.fixture
def player(watch, cfg) -> Iterator[HeadsetPlayer]:
    player = HeadsetPlayer(f"pulse:{HEADSET}", cfg.hints.output_latency_s, watch)
    yield player
    player.close()


@pytest.fixture(scope="module")
def voice(cfg, tmp_path_factory) -> HintVoice:
    """The real hint voice (pyttsx3, espeak-ng), synthesised once for the module."""
    return HintVoice(cfg.hints, OUTPUT_RATE_HZ, tmp_path_factory.mktemp("hint-voice"))


def my_sink_inputs(pulse: PulseServer) -> list[str]:
    """The sinks this process's playback streams are connected to."""
    names = {s["index"]: s["name"] for s in pulse.query("short", "sinks")}
    return [names.get(i["sink"], "?") for i in pulse.query("sink-inputs")
            if i.get("properties", {}).get("application.process.id") == str(os.getpid())]


def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def record(pulse: PulseServer, tmp_path: Path, *sinks: str):
    return [pulse.record(f"{s}.monitor", tmp_path / f"{s}-{time.monotonic_ns()}.wav", rate=RATE)
            for s in sinks]


def heard(recordings) -> list[np.ndarray]:
    return [read_wav(r.stop()) for r in recordings]


def test_a_hint_is_heard_on_the_headset_and_on_no_call_line(pulse, player, tmp_path):
    assert my_sink_inputs(pulse) == [HEADSET]  # open for the session, before any hint
    played = tone(700, 0.5, amp=0.4, rate=OUTPUT_RATE_HZ)
    recordings = record(pulse, tmp_path, HEADSET, *CALL_LINES)
    assert player.play(played)
    time.sleep(0.5 + 0.4)
    headset, *lines = heard(recordings)
    hint = loud(headset)
    assert abs(dominant_hz(hint) - 700) < 5
    # The whole hint, at its level: energy per second of audio, at either rate.
    assert (np.sum(hint**2) / RATE) / (np.sum(played**2) / OUTPUT_RATE_HZ) == pytest.approx(
        1, abs=0.05)
    assert player.started_at is not None
    assert [np.abs(line).max() for line in lines] == [0, 0]


def test_the_headset_stream_closes_when_the_headset_goes_and_reopens_when_it_is_back(
        pulse, watch, player, cfg, voice, tmp_path):
    """Stepped as the pipeline steps it, the hint sink closes the stream as soon as the device
    watch misses the headset, not when the next hint comes: until then PulseAudio has moved the
    stream onto the default sink, the call line, where any hint would be heard."""
    sink = HintSink(cfg, voice, player)
    say = cfg.messages["interruption"].say
    assert say and "interruption" in cfg.hints.urgent_rules  # said at the next step
    t = 0.0
    lines = record(pulse, tmp_path, *CALL_LINES)
    pulse.remove_sink(HEADSET)
    wait_until(lambda: watch.present(f"pulse:{HEADSET}") is False)
    assert sink.step(t, QUIET) == []
    assert my_sink_inputs(pulse) == []  # closed: on no call line
    sink.write(Alert("interruption", t, "warn", "talking over", say).to_json())
    (missed,) = sink.step(t := t + 0.02, QUIET)
    assert (missed.rule, missed.played) == ("interruption", False)
    assert player.missed == 1
    time.sleep(0.3)
    assert [np.abs(line).max() for line in heard(lines)] == [0, 0]

    pulse.add_sink(HEADSET)
    wait_until(lambda: watch.present(f"pulse:{HEADSET}") is True)
    t += 0.02
    assert sink.step(t, QUIET) == []
    assert my_sink_inputs(pulse) == [HEADSET]  # reopened before any hint needs it
    recordings = record(pulse, tmp_path, HEADSET, *CALL_LINES)
    t += cfg.hints.cooldown_s
    assert sink.step(t, QUIET) == []  # the rule has cooled down since it was missed
    sink.write(Alert("interruption", t, "warn", "talking over", say).to_json())
    (said,) = sink.step(t := t + 0.02, QUIET)
    assert (said.rule, said.say, said.played) == ("interruption", say, True)
    time.sleep(voice.duration_s(say) + 0.4)
    headset, *lines = heard(recordings)
    samples = voice.audio(say)
    assert len(loud(headset, 0.01)) / RATE == pytest.approx(
        len(loud(samples, 0.01)) / OUTPUT_RATE_HZ, abs=0.05)
    assert [np.abs(line).max() for line in lines] == [0, 0]


def test_a_hint_playing_when_the_headset_goes_never_reaches_the_call_line(pulse, cfg, tmp_path):
    """The headset is unplugged in the middle of a long hint, with the device watch at its
    configured interval and the player checked every 20 ms as the hint sink does. PulseAudio
    must end the stream rather than move it onto the default sink (the agent's call line):
    until the watch next looks, whatever it moved there would be heard by the customer."""
    headset = f"pulse:{HEADSET}"
    watch = DeviceWatch([headset], cfg.live.watch_s)
    player = HeadsetPlayer(headset, cfg.hints.output_latency_s, watch)
    try:
        lines = record(pulse, tmp_path, *CALL_LINES)
        assert player.play(tone(700, 3.0, amp=0.4, rate=OUTPUT_RATE_HZ))
        time.sleep(0.3)
        assert player.started_at is not None and my_sink_inputs(pulse) == [HEADSET]
        pulse.remove_sink(HEADSET)
        moved_to = my_sink_inputs(pulse)  # before the player or the device watch looks
        deadline = time.monotonic() + cfg.live.watch_s + 0.3
        while time.monotonic() < deadline:
            player.check()
            time.sleep(0.02)
        leaked_ms = [1000 * int(np.count_nonzero(line)) / RATE for line in heard(lines)]
        assert leaked_ms == [0, 0], f"hint audio on the call lines (ms): {leaked_ms}"
        assert moved_to == []  # PulseAudio ended the stream with its sink
        assert not player.play(tone(700, 0.2, rate=OUTPUT_RATE_HZ)) and player.missed == 1
    finally:
        player.close()
        watch.close()
