"""baresip 1.0.0's ctrl_tcp messages, as the real program sent them (testkit/baresip_messages.py),
and what each means for the monitored call."""

from __future__ import annotations

import json

import pytest

from monitor.softphone.baresip import (
    LISTCALLS,
    LISTCALLS_TOKEN,
    BaresipMessageError,
    CallLine,
    PhoneEvent,
    parse_calls,
    translate,
)
from monitor.softphone.netstring import NetstringReader
from testkit.baresip_messages import (
    CALL,
    CLOSED_BY_CALLER,
    CLOSED_HERE,
    ESTABLISHED,
    HOLD_ANSWERED,
    INCOMING,
    LISTED_HELD,
    LISTED_NONE,
    LOCAL_SDP,
    PEER,
    REMOTE_SDP,
    RTPESTAB,
    observed,
)


@pytest.mark.parametrize(("payload", "event"), [
    (INCOMING, PhoneEvent("incoming", CALL, PEER)),
    (ESTABLISHED, PhoneEvent("answered", CALL, PEER)),
    (REMOTE_SDP, PhoneEvent("media", CALL, PEER)),
    (LOCAL_SDP, PhoneEvent("media", CALL, PEER)),
    (HOLD_ANSWERED, PhoneEvent("media", CALL, PEER)),
    (CLOSED_BY_CALLER, PhoneEvent("closed", CALL, PEER, by="customer",
                                  reason="Connection reset by peer")),
    (CLOSED_HERE, PhoneEvent("closed", CALL, PEER, by="agent",
                             reason="Connection reset by user")),
    (LISTED_HELD, PhoneEvent("listed", lines=(CallLine(PEER, "ESTABLISHED", True),))),
    (LISTED_NONE, PhoneEvent("listed")),
])
def test_what_baresip_said(payload, event):
    assert translate(payload) == event


@pytest.mark.parametrize("payload", [
    RTPESTAB,
    b'{"event":true,"type":"SHUTDOWN","class":"application"}',
    b'{"response":true,"ok":true,"data":": Answering incoming call\\n","token":"a1"}',
    INCOMING.replace(b'"direction":"incoming"', b'"direction":"outgoing"'),
])
def test_what_says_nothing_of_an_incoming_call_is_passed_over(payload):
    assert translate(payload) is None


def test_a_close_for_another_reason_leaves_who_hung_up_unknown():
    assert translate(observed("CALL_CLOSED", "call", "Local timeout")).by is None


@pytest.mark.parametrize(("payload", "problem"), [
    (b'{"event":true,"type":"CALL_ESTABLISHED"', "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"hello":1}', "neither an event nor a response"),
    (b'{"event":true,"class":"call"}', 'without its "type"'),
    (b'{"event":true,"type":"CALL_HOLD","id":"x"}', "unknown event type 'CALL_HOLD'"),
    (INCOMING.replace(f'"id":"{CALL}"'.encode(), b'"id":7'), 'without the call\'s "id"'),
    (json.dumps({"response": True, "token": LISTCALLS_TOKEN}).encode(), '"data"'),
])
def test_what_ctrl_tcp_does_not_send_is_an_error_naming_it(payload, problem):
    with pytest.raises(BaresipMessageError, match=problem.replace("(", r"\(")):
        translate(payload)


def test_listcalls_lines_with_calls_ringing_and_held():
    text = ("\n--- Active calls (2) ---\n"
            f"  [line 1]  0:00:07  ESTABLISHED  (on hold)  {PEER}\n"
            "> [line 2]  0:00:00   INCOMING             sip:other@127.0.0.1:5070\n\n")
    assert parse_calls(text) == (CallLine(PEER, "ESTABLISHED", True),
                                 CallLine("sip:other@127.0.0.1:5070", "INCOMING", False))


def test_the_query_is_one_framed_listcalls_command():
    [payload] = NetstringReader(1024).feed(LISTCALLS)
    assert json.loads(payload) == {"command": "listcalls", "token": LISTCALLS_TOKEN}
