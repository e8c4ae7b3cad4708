"""A softphone's call fed to a session as it goes: the events reach the session between steps
and are stamped with the audio time of the step that takes them; the call's close ends the
session. Reports that do not fit the call are one warning line each and change nothing."""

from __future__ import annotations

import queue
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor.config import load_config
from monitor.frames import CallEvent
from monitor.pipeline import Session
from monitor.sinks.collect import CollectSink
from monitor.softphone.baresip import CallLine, PhoneEvent
from monitor.softphone.call import CallTracker
from monitor.softphone.desk import CallFeed, Desk
from monitor.sources.wavfile import WavSource

CALL, PEER = "a@127.0.0.1", "sip:customer@127.0.0.1:15070"
ANSWERED = PhoneEvent("answered", CALL, PEER)


def line(on_hold: bool, state: str = "ESTABLISHED") -> PhoneEvent:
    return PhoneEvent("listed", lines=(CallLine(PEER, state, on_hold),))


def tracker(warnings: list[str]) -> CallTracker:
    return CallTracker(PhoneEvent("incoming", CALL, PEER), 5.0, warnings.append)


class Arrivals:
    """Puts phone events on the feed's queue when the session's audio clock passes their
    time, as the link's thread does while the session runs (a stepping sink: called after
    each step's poll, so an event put at step t is taken at the next step)."""

    def __init__(self, events: queue.Queue[PhoneEvent], plan: list[tuple[float, PhoneEvent]]):
        self._events, self._plan = events, sorted(plan, key=lambda p: p[0])

    def step(self, t: float, speaking: Any) -> list:
        while self._plan and self._plan[0][0] <= t + 1e-9:
            self._events.put(self._plan.pop(0)[1])
        return []

    def write(self, record: dict[str, Any]) -> None:
        pass

    def close(self, status: str) -> None:
        pass


@pytest.fixture(scope="module")
def silence(tmp_path_factory) -> Path:
    """20 s of a two-channel line with nobody speaking: the softphone's events are the call."""
    path = tmp_path_factory.mktemp("feed") / "quiet.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros((20 * 8000, 2), np.int16).tobytes())
    return path


def test_a_fed_call_rings_is_answered_held_resumed_and_hung_up(silence):
    events: queue.Queue[PhoneEvent] = queue.Queue()
    warnings: list[str] = []
    feed = CallFeed(events, tracker(warnings))
    plan = [(10.98, ANSWERED), (12.98, line(True)), (15.98, line(False)),
            (16.98, PhoneEvent("closed", CALL, PEER, by="customer"))]
    out = CollectSink()
    summary = Session(load_config("zh-CN"), WavSource(silence), None,
                      [out, Arrivals(events, plan)], call_events=feed).run({})
    calls = [(r["t"], r["event"]) for r in out.records if r["type"] == "call_event"]
    assert calls == [(0.0, "ring"), (5.0, "ring"), (10.0, "ring"), (11.0, "answer"),
                     (13.0, "hold"), (16.0, "resume"), (17.0, "hangup")]
    [pickup] = [r for r in out.records if r["type"] == "pickup"]
    assert (pickup["t"], pickup["rings"]) == (11.0, 3)
    [hold] = [r for r in out.records if r["type"] == "hold_end"]
    assert hold["duration_s"] == pytest.approx(3.0)
    assert summary["status"] == "complete" and summary["t"] == pytest.approx(17.0)
    assert summary["rings_before_pickup"] == 3 and summary["hung_up_by"] == "customer"
    assert not warnings


def test_reports_that_do_not_fit_the_call_are_one_warning_each_and_change_nothing():
    warnings: list[str] = []
    call = tracker(warnings)
    assert call.take(PhoneEvent("answered", "other@x", PEER), 3.0) == [CallEvent(0.0, "ring")]
    assert call.take(PhoneEvent("incoming", "second@x", PEER), 3.5) == []
    assert call.take(PhoneEvent("incoming", CALL, PEER), 3.6) == []
    assert call.take(line(True, "INCOMING"), 3.7) == []  # a hold before the answer is none
    assert call.take(ANSWERED, 4.0) == [CallEvent(4.0, "answer")]
    assert call.take(ANSWERED, 4.5) == []
    assert call.take(PhoneEvent("closed", "other@x", PEER, by="agent"), 5.0) == []
    assert call.take(PhoneEvent("media", CALL, PEER), 5.5) == []
    assert not call.ended
    assert call.take(PhoneEvent("closed", CALL, PEER, by="agent"), 6.0) == [
        CallEvent(6.0, "hangup", by="agent")]
    assert call.take(ANSWERED, 7.0) == []
    expected = ["an answer for call other@x", "a second incoming call for call second@x",
                "reported incoming again", "answered again", "a close for call other@x",
                "answered event after call a@127.0.0.1 closed"]
    assert len(warnings) == len(expected)
    assert all(w.startswith("softphone: ") and part in w
               for w, part in zip(warnings, expected, strict=True)), warnings
    assert all(w.count("\n") == 0 for w in warnings)


def test_a_call_no_longer_listed_ends_the_session_and_who_hung_up_is_unknown():
    warnings: list[str] = []
    call = tracker(warnings)
    call.take(ANSWERED, 1.0)
    assert call.take(PhoneEvent("listed"), 8.0) == [CallEvent(8.0, "hangup", by=None)]
    assert call.ended and len(warnings) == 1 and "restarted" in warnings[0]


def test_an_answer_missed_while_disconnected_is_taken_from_the_listing():
    warnings: list[str] = []
    call = tracker(warnings)
    assert call.take(line(False, "INCOMING"), 1.0) == [CallEvent(0.0, "ring")]
    assert call.take(line(True), 7.0) == [CallEvent(5.0, "ring"), CallEvent(7.0, "answer"),
                                          CallEvent(7.0, "hold")]
    assert len(warnings) == 1 and "missed" in warnings[0]


def test_between_calls_a_stray_report_is_a_warning_and_the_next_incoming_is_a_call():
    events: queue.Queue[PhoneEvent] = queue.Queue()
    warnings: list[str] = []
    desk = Desk(events, 5.0, warnings.append)
    for ev in (ANSWERED, PhoneEvent("media", CALL, PEER), line(False),
               PhoneEvent("incoming", "b@x", PEER)):
        events.put(ev)
    feed = next(desk.calls())
    assert feed.tracker.call == "b@x"
    assert len(warnings) == 1 and "not being monitored" in warnings[0]
