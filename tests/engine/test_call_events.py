"""Softphone call events read from JSON lines: what is accepted, and one clear line for the rest."""

from __future__ import annotations

import pytest

from monitor.errors import CallmonitorError
from monitor.frames import CallEvent
from monitor.sources.call_events import parse_call_events, read_call_events


def test_events_are_read_in_time_order_with_their_details(tmp_path):
    path = tmp_path / "call.events.jsonl"
    path.write_text('{"t": 40.2, "event": "hold", "transfer": true}\n'
                    '\n'
                    '{"t": 2, "event": "ring"}\n'
                    '{"t": 95.25, "event": "hangup", "by": "customer"}\n', encoding="utf-8")
    events = read_call_events(path)
    assert events == [CallEvent(2.0, "ring"), CallEvent(40.2, "hold", transfer=True),
                      CallEvent(95.25, "hangup", by="customer")]
    assert [ev.to_json() for ev in events] == [
        {"type": "call_event", "t": 2.0, "event": "ring"},
        {"type": "call_event", "t": 40.2, "event": "hold", "transfer": True},
        {"type": "call_event", "t": 95.25, "event": "hangup", "by": "customer"}]


@pytest.mark.parametrize(("line", "problem"), [
    ('{"t": 1.0, "event": "ring"', "x line 1 is not JSON"),
    ('[1, 2]', "x line 1 is not a JSON object"),
    ('{"event": "ring"}', 'x line 1 has no valid time "t"'),
    ('{"t": -1, "event": "ring"}', 'x line 1 has no valid time "t"'),
    ('{"t": true, "event": "ring"}', 'x line 1 has no valid time "t"'),
    ('{"t": 1, "event": "dial"}', "x line 1 has an unknown event 'dial'"),
    ('{"t": 1, "event": "hangup", "by": "pbx"}', 'x line 1: "by" is for hangup only'),
    ('{"t": 1, "event": "ring", "by": "agent"}', 'x line 1: "by" is for hangup only'),
    ('{"t": 1, "event": "hold", "transfer": "yes"}', 'x line 1: "transfer" is for hold only'),
])
def test_a_malformed_line_names_its_line_and_the_format(line, problem):
    with pytest.raises(CallmonitorError) as err:
        parse_call_events([line], "x")
    assert err.value.problem.startswith(problem)
    assert '{"t": 2.0, "event": "ring"}' in err.value.fix


def test_a_missing_or_binary_file_is_a_clear_error(tmp_path):
    with pytest.raises(CallmonitorError, match="not found; check the path"):
        read_call_events(tmp_path / "nope.jsonl")
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CallmonitorError, match="cannot read call events file"):
        read_call_events(binary)
