"""The link to ctrl_tcp over a real TCP connection on loopback: what a peer sends that
baresip would not (broken frames, an unknown event), a connection dropped mid-call and a
softphone that is not there yet are one warning line each, and the link goes on. The peer
here writes baresip 1.0.0's observed bytes (test_baresip_messages.py) and the faults."""

from __future__ import annotations

import dataclasses
import socket
import time

import pytest

from monitor.config import load_config
from monitor.softphone.baresip import LISTCALLS, PhoneEvent
from monitor.softphone.link import BaresipLink
from monitor.softphone.netstring import encode
from testkit.baresip_messages import CALL, INCOMING, LISTED_NONE, PEER, REMOTE_SDP
from testkit.softphone import free_port

CFG = dataclasses.replace(load_config("zh-CN").softphone, reconnect_s=0.05)


def read_exactly(conn: socket.socket, n: int) -> bytes:
    data = b""
    conn.settimeout(5)
    while len(data) < n:
        data += conn.recv(n - len(data))
    return data


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


@pytest.fixture
def server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        s.settimeout(5)
        yield s


def test_bad_frames_unknown_events_and_a_dropped_connection_are_one_line_each(server):
    warnings: list[str] = []
    link = BaresipLink("127.0.0.1", server.getsockname()[1], CFG, warnings.append)
    link.start()
    try:
        conn, _ = server.accept()
        assert read_exactly(conn, len(LISTCALLS)) == LISTCALLS  # the state, on connecting
        conn.sendall(b"x5:hello,")
        wait_for(lambda: len(warnings) == 1, "a broken frame is reported")
        frame = encode(INCOMING)
        conn.sendall(frame[:40])
        time.sleep(0.05)
        conn.sendall(frame[40:] + encode(b'{"event":true,"type":"CALL_HOLD","id":"x"}')
                     + encode(REMOTE_SDP))
        assert read_exactly(conn, len(LISTCALLS)) == LISTCALLS  # asked again after SDP
        conn.close()  # mid-call: baresip went away
        conn2, _ = server.accept()
        assert read_exactly(conn2, len(LISTCALLS)) == LISTCALLS
        conn2.sendall(encode(LISTED_NONE))
        wait_for(lambda: link.events.qsize() == 3, "three events")
        conn2.close()
    finally:
        link.close()
    events = [link.events.get_nowait() for _ in range(3)]
    assert events == [PhoneEvent("incoming", CALL, PEER), PhoneEvent("media", CALL, PEER),
                      PhoneEvent("listed")]
    assert ["bad frame" in warnings[0], "unknown event type 'CALL_HOLD'" in warnings[1],
            "lost baresip" in warnings[2], "connected" in warnings[3]] == [True] * 4
    assert all("\n" not in w and w.startswith("softphone: ") for w in warnings)


def test_a_softphone_not_there_yet_is_one_line_however_long_it_takes():
    port = free_port()
    warnings: list[str] = []
    link = BaresipLink("127.0.0.1", port, CFG, warnings.append)
    link.start()
    try:
        time.sleep(0.3)  # several tries
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
            s.listen()
            s.settimeout(5)
            conn, _ = s.accept()
            assert read_exactly(conn, len(LISTCALLS)) == LISTCALLS
            time.sleep(0.1)
            assert len(warnings) == 1  # connected, but baresip has not answered yet
            conn.sendall(encode(LISTED_NONE))
            wait_for(lambda: len(warnings) == 2, "connected is said")
            conn.close()
    finally:
        link.close()
    assert "cannot reach" in warnings[0] and "connected" in warnings[1]


def test_a_connection_dropped_before_baresip_answers_is_the_same_outage(server):
    # baresip goes away (one line), then a connection to it, still starting, is dropped
    # before it answers: still the same outage, no second line; the next one it answers.
    warnings: list[str] = []
    link = BaresipLink("127.0.0.1", server.getsockname()[1], CFG, warnings.append)
    link.start()
    try:
        for answer in (True, False, True):
            conn, _ = server.accept()
            assert read_exactly(conn, len(LISTCALLS)) == LISTCALLS
            if answer:
                conn.sendall(encode(LISTED_NONE))
                wait_for(lambda: link.events.qsize() > 0, "the answer is taken")
                link.events.get_nowait()
            conn.close()
        conn, _ = server.accept()  # the link is still trying
        conn.close()
    finally:
        link.close()
    assert ["lost baresip" in w for w in warnings] == [True, False, True]
    assert "connected" in warnings[1]
