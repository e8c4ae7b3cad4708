"""A call's stored timeline against the replay of the same audio, with the replay tests'
tolerances (speech 0.15 s, rings exact, alerts 0.15 s): shared by the tap's tests of every
protocol (AudioSocket legs, WebSocket forks)."""

from __future__ import annotations

from typing import Any

import numpy as np

from testkit.replay import of_type

TOLERANCE_S = 0.15


def spans(records: list[dict[str, Any]], channel: str) -> list[tuple[float, float]]:
    """The speech segments of ``channel`` as (start, end)."""
    return [(r["start"], r["end"]) for r in of_type(records, "speech", channel=channel)]


def words(records: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """The (start, end) of every recognised word, utterance by utterance."""
    return [(w["start"], w["end"]) for u in of_type(records, "utterance") for w in u["words"]]


def assert_close(got: list[tuple[float, float]], want: list[tuple[float, float]]) -> None:
    """The same spans, each end within ``TOLERANCE_S``."""
    assert len(got) == len(want)
    assert np.allclose(got, want, atol=TOLERANCE_S)


def assert_same_timeline(stored: list[dict[str, Any]], expected: list[dict[str, Any]],
                         channels: tuple[str, ...] = ("agent", "customer")) -> None:
    """Speech within ``TOLERANCE_S`` on ``channels``, the rings exact, the same alerts in
    order, each within ``TOLERANCE_S``: a call served by the tap against its replay."""
    for channel in channels:
        assert_close(spans(stored, channel), spans(expected, channel))
    assert ([(r["start"], r["end"]) for r in of_type(stored, "ring")]
            == [(r["start"], r["end"]) for r in of_type(expected, "ring")])
    alerts = [(a["rule"], a["t"]) for a in of_type(stored, "alert")]
    want_alerts = [(a["rule"], a["t"]) for a in of_type(expected, "alert")]
    assert [r for r, _ in alerts] == [r for r, _ in want_alerts]
    assert all(abs(a - b) <= TOLERANCE_S
               for (_, a), (_, b) in zip(alerts, want_alerts, strict=True))
