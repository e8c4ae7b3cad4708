"""The WebSocket fork formats as mod_audio_fork and jambonz's listen send them (docs/tap.md):
what the metadata says of the call, and which channel of a frame is whose."""

from __future__ import annotations

import json

import numpy as np
import pytest

from monitor.tap.calls import CallSetup
from monitor.tap.wsfork import ForkError, alert_message, parse_metadata, pieces
from testkit.fork_client import jambonz_metadata


def test_jambonz_metadata_is_a_call_whose_sides_follow_the_configured_agent_channel():
    text = json.dumps(jambonz_metadata("c-1", 16000, "stereo", agentName="小王"))
    right = parse_metadata(text, "right")
    assert (right.call_id, right.rate_hz, right.mix) == ("c-1", 16000, "stereo")
    assert right.columns == ("customer", "agent")  # the caller left, the callee (agent) right
    assert right.setup == CallSetup(agent_name="小王", company=None, mixed=False)
    assert parse_metadata(text, "left").columns == ("agent", "customer")
    flipped = json.loads(text) | {"agentChannel": "left"}
    assert parse_metadata(json.dumps(flipped), "right").columns == ("agent", "customer")


@pytest.mark.parametrize("mix, columns, mixed", [("mono", ("customer",), False),
                                                 ("mixed", ("agent",), True)])
def test_a_one_channel_fork_is_the_left_side_or_both_sides_mixed(mix, columns, mixed):
    call = parse_metadata(json.dumps(jambonz_metadata("c-2", 8000, mix)), "right")
    assert call.columns == columns and call.setup.mixed is mixed


@pytest.mark.parametrize("change, problem, code", [
    ({"sampleRate": 24000}, "sampleRate 24000: only 8000 or 16000", 1003),
    ({"sampleRate": "8000"}, "sampleRate '8000'", 1003),
    ({"mixType": "dual"}, "mixType 'dual'", 1003),
    ({"agentChannel": "middle"}, "agentChannel 'middle'", 1003),
    ({"callSid": ""}, 'without a "callSid"', 1008),
    ({"company": 7}, "company 7 is not a string", 1007),
])
def test_metadata_the_tap_cannot_serve_is_refused_with_its_close_code(change, problem, code):
    with pytest.raises(ForkError, match=problem) as refused:
        parse_metadata(json.dumps(jambonz_metadata("c-3", 8000, "stereo") | change), "right")
    assert refused.value.code == code


def test_a_stereo_frame_is_split_into_its_two_channels_in_20_ms_pieces():
    call = parse_metadata(json.dumps(jambonz_metadata("c-4", 8000, "stereo")), "right")
    left, right = np.arange(400, dtype="<i2"), -np.arange(400, dtype="<i2")
    frame = np.stack([left, right], axis=1).tobytes()  # 50 ms, interleaved L R L R ...
    got = list(pieces(frame, call))
    assert [len(a) // 2 for a, _ in got] == [160, 160, 80]
    assert b"".join(a for a, _ in got) == left.tobytes()
    assert b"".join(b for _, b in got) == right.tobytes()
    with pytest.raises(ForkError, match="a binary frame of 6 bytes, not whole 16-bit stereo"):
        list(pieces(b"\x00" * 6, call))


def test_an_alert_goes_back_as_a_json_message_with_what_the_agent_would_hear():
    alert = {"type": "alert", "t": 3.5, "rule": "dead_air", "severity": "warn",
             "message": "沉默 6 秒", "say": "请说话", "evidence": {"silence_s": 6.0}}
    assert json.loads(alert_message("c-5", alert)) == {"type": "json", "data": {
        "event": "callmonitor.alert", "callSid": "c-5", "rule": "dead_air", "t": 3.5,
        "severity": "warn", "message": "沉默 6 秒", "say": "请说话"}}
