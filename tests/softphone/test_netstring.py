"""Netstring framing as baresip's ctrl_tcp writes it: ``<length>:<payload>,``."""

from __future__ import annotations

import pytest

from monitor.softphone.netstring import NetstringError, NetstringReader, encode

EVENT = (b'{"event":true,"type":"CALL_INCOMING","class":"call","accountaor":"sip:agent@127.0.0.1"'
         b',"direction":"incoming","peeruri":"sip:sipp@127.0.0.1:15070","peerdisplayname":"sipp"'
         b',"id":"1-10705@127.0.0.1","param":"sip:sipp@127.0.0.1:15070"}')
RESPONSE = b'{"response":true,"ok":true,"data":"","token":"x2"}'


def test_a_frame_is_its_length_a_colon_the_payload_and_a_comma():
    # The bytes baresip 1.0.0 sent for this response, as read from its socket.
    assert encode(RESPONSE) == b'50:{"response":true,"ok":true,"data":"","token":"x2"},'


def test_frames_come_out_whole_however_the_reads_cut_them():
    stream = encode(EVENT) + encode(RESPONSE) + encode(b"")
    for size in (1, 2, 3, 7, 50, 233, len(stream)):
        reader = NetstringReader(4096)
        got = [p for i in range(0, len(stream), size) for p in reader.feed(stream[i:i + size])]
        assert got == [EVENT, RESPONSE, b""], size


def test_a_frame_still_coming_is_kept_until_its_comma():
    reader = NetstringReader(4096)
    frame = encode(EVENT)
    assert reader.feed(frame[:-1]) == []
    assert reader.feed(frame[-1:]) == [EVENT]


@pytest.mark.parametrize(("data", "problem"), [
    (b"x5:hello,", "no length"),
    (b":hello,", "without a length"),
    (b"05:hello,", "leading zero"),
    (b"5:hello;", "not ended by a comma"),
    (b"1234567890:", "no colon"),
    (b"4097:", "over the limit of 4096"),
])
def test_a_broken_frame_is_an_error_and_the_next_read_starts_afresh(data, problem):
    reader = NetstringReader(4096)
    out = reader.feed(encode(RESPONSE) + data)
    assert out[0] == RESPONSE
    assert len(out) == 2 and isinstance(out[1], NetstringError) and problem in str(out[1])
    assert reader.feed(encode(EVENT)) == [EVENT]


def test_the_limit_itself_is_allowed():
    reader = NetstringReader(len(RESPONSE))
    assert reader.feed(encode(RESPONSE)) == [RESPONSE]
    assert isinstance(NetstringReader(len(RESPONSE) - 1).feed(encode(RESPONSE))[0],
                      NetstringError)
