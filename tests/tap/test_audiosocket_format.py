"""The AudioSocket wire format as the published definition gives it (docs/tap.md): the
header, the kinds, and the order a leg's messages must come in."""

from __future__ import annotations

import uuid

import pytest

from monitor.tap.audiosocket import (
    Audio,
    Ended,
    Identified,
    LegReader,
    ProtocolError,
    encode,
    parse_header,
)

CALL = uuid.UUID("40325ec2-5efd-4bd3-805f-53576e581d13")  # the protocol page's example


def test_the_header_is_a_kind_and_a_big_endian_length():
    assert encode(0x10, b"\x01\x00" * 160)[:3] == bytes([0x10, 0x01, 0x40])  # 320 bytes
    assert encode(0x00) == b"\x00\x00\x00"  # the page's hangup
    assert parse_header(bytes([0x10, 0x01, 0x40]), 320) == (0x10, 320)


@pytest.mark.parametrize("header, problem", [
    (bytes([0x10, 0x01, 0x41]), "321 bytes over the limit of 320"),
    (bytes([0x02, 0x00, 0x00]), "unknown message kind 0x02"),
    (bytes([0x7f, 0x00, 0x10]), "unknown message kind 0x7f"),
])
def test_a_header_the_format_does_not_allow_is_refused(header, problem):
    with pytest.raises(ProtocolError, match=problem):
        parse_header(header, 320)


def test_a_leg_is_its_uuid_then_audio_then_the_end():
    leg = LegReader()
    assert leg.read(0x01, CALL.bytes) == Identified(str(CALL))
    assert leg.read(0x10, b"\x00\x01" * 160) == Audio(8000, b"\x00\x01" * 160)
    assert leg.read(0x03, b"5") is None  # DTMF: nothing for the call
    assert leg.read(0x00, b"") == Ended("hangup")


@pytest.mark.parametrize("kind, rate", [(0x10, 8000), (0x12, 16000), (0x16, 48000)])
def test_the_audio_kinds_carry_their_sample_rate(kind, rate):
    leg = LegReader()
    leg.read(0x01, CALL.bytes)
    assert leg.read(kind, b"\x00\x00" * 4) == Audio(rate, b"\x00\x00" * 4)


@pytest.mark.parametrize("code, end", [
    (b"\x01", Ended("hangup", "error code 0x01")),  # Asterisk: the calling party hung up
    (b"\x02", Ended("error", "error code 0x02")),  # frame forwarding
    (b"", Ended("error", "no error code")),
])
def test_an_error_message_ends_the_leg_and_a_hangup_code_is_a_hangup(code, end):
    leg = LegReader()
    leg.read(0x01, CALL.bytes)
    assert leg.read(0xFF, code) == end


@pytest.mark.parametrize("messages, problem", [
    ([(0x10, b"\x00\x00")], "audio before the UUID"),
    ([(0x01, CALL.bytes), (0x10, b"\x00" * 321)], "321 bytes, not whole 16-bit samples"),
    ([(0x01, CALL.bytes[:15])], "a UUID of 15 bytes"),
    ([(0x01, CALL.bytes), (0x01, CALL.bytes)], "a second UUID"),
    ([(0x01, CALL.bytes), (0x10, b"\x00\x00"), (0x12, b"\x00\x00")],
     "audio at 16000 Hz after 8000 Hz"),
])
def test_messages_out_of_order_or_of_a_wrong_size_are_protocol_errors(messages, problem):
    leg = LegReader()
    with pytest.raises(ProtocolError, match=problem):
        for kind, payload in messages:
            leg.read(kind, payload)
