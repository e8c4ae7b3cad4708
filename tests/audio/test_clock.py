"""The three ways audio time is shown, each pinned to what it printed before they shared code.

``TABLE`` was written from the three formatters as they stood (timeline, review pages, live
console) before one clock function replaced their arithmetic; ``CHANGED`` lists the inputs
where the shared rounding now shows something else, and why.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from monitor.clock import clock
from monitor.sinks import timeline
from monitor.sinks.console import mmss
from monitor.web import labels

# t -> (timeline mm:ss.ss, review page m:ss.s or h:mm:ss.s, console mm:ss)
TABLE = [
    (0.0, "00:00.00", "0:00.0", "00:00"),
    (0.004, "00:00.00", "0:00.0", "00:00"),
    (0.005, "00:00.01", "0:00.0", "00:00"),
    (1.239, "00:01.24", "0:01.2", "00:01"),
    (7.5, "00:07.50", "0:07.5", "00:07"),
    (9.999, "00:10.00", "0:10.0", "00:09"),
    (12.345, "00:12.35", "0:12.3", "00:12"),
    (24.9994, "00:25.00", "0:25.0", "00:24"),
    (24.999999, "00:25.00", "0:25.0", "00:25"),
    (59.4, "00:59.40", "0:59.4", "00:59"),
    (59.96, "00:59.96", "1:00.0", "00:59"),
    (60.0, "01:00.00", "1:00.0", "01:00"),
    (61.7, "01:01.70", "1:01.7", "01:01"),
    (67.25, "01:07.25", "1:07.2", "01:07"),
    (67.26, "01:07.26", "1:07.3", "01:07"),
    (599.99, "09:59.99", "10:00.0", "09:59"),
    (3599.94, "59:59.94", "59:59.9", "59:59"),
    (3599.96, "59:59.96", "1:00:00.0", "59:59"),
    (3600.0, "60:00.00", "1:00:00.0", "60:00"),
    (3725.04, "62:05.04", "1:02:05.0", "62:05"),
    (5025.5, "83:45.50", "1:23:45.5", "83:45"),
]


@pytest.mark.parametrize(("t", "expected"), [(row[0], row[1]) for row in TABLE])
def test_the_timeline_shows_minutes_and_hundredths(t: float, expected: str) -> None:
    assert timeline.clock(t) == expected


@pytest.mark.parametrize(("t", "expected"), [(row[0], row[2]) for row in TABLE])
def test_the_review_pages_show_tenths_and_hours_past_an_hour(t: float, expected: str) -> None:
    assert labels.clock(t) == expected


@pytest.mark.parametrize(("t", "expected"), [(row[0], row[3]) for row in TABLE])
def test_the_console_shows_whole_elapsed_seconds(t: float, expected: str) -> None:
    assert mmss(t) == expected


def test_a_missing_time_reads_as_a_placeholder_on_the_timeline_and_blank_on_the_pages() -> None:
    assert timeline.clock(None) == "--:--"
    assert labels.clock(None) == ""


def test_the_console_never_shows_a_negative_time() -> None:
    assert mmss(-0.3) == "00:00"


# Where the shared arithmetic changed what was shown: t -> (timeline, review page).
CHANGED = [
    # Second 60: the timeline split the time before rounding it.
    (59.996, "01:00.00", "1:00.0"),
    # Ties in tenths: the pages rounded t * 10, which turns 0.05 (a little over 0.05 in
    # binary) into exactly 0.5 and then rounds that to even; now as Python prints 0.05.
    (0.05, "00:00.05", "0:00.1"),
    (0.15, "00:00.15", "0:00.1"),
    # Audio time is never negative; the timeline read -0.3 as "-1:59.70".
    (-0.3, "00:00.00", "0:00.0"),
]


@pytest.mark.parametrize(("t", "on_timeline", "on_pages"), CHANGED)
def test_times_read_as_python_prints_them_rounded(t: float, on_timeline: str,
                                                  on_pages: str) -> None:
    assert (timeline.clock(t), labels.clock(t)) == (on_timeline, on_pages)


def _seconds(shown: str) -> Decimal:
    total = Decimal(0)
    for part in shown.split(":"):
        total = total * 60 + Decimal(part)
    return total


@pytest.mark.parametrize(("decimals", "hours"), [(0, False), (1, True), (2, False), (3, True)])
def test_every_millisecond_of_two_hours_reads_as_its_rounded_value(decimals: int,
                                                                   hours: bool) -> None:
    for ms in range(0, 7_200_000, 997):
        t = ms / 1000
        shown = clock(t, decimals, hours=hours)
        assert _seconds(shown) == Decimal(f"{t:.{decimals}f}"), (t, shown)
        assert all(int(part) < 60 for part in shown.split(".")[0].split(":")[1:]), shown
