"""What dead air records, on exact engine events (mutation survivors of silence.py, issue #16).

From the rule's docstring and docs/contract.md (``summary.dead_air[]``): a silence of both
sides past ``[rules."dead_air"] limit_s`` is alerted at the limit, and recorded from the end of
the last speech before it to the first speech after it, with its length; times are rounded to
the millisecond. The speech ends and starts here are given to a tenth of a millisecond, so a
time kept to more or fewer places shows.
"""

from __future__ import annotations

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.frames import Alert
from testkit.engine_feed import feed, talk

CFG = load_config("zh-CN")
LIMIT = CFG.rules.dead_air.limit_s


def test_a_dead_air_is_recorded_to_the_millisecond():
    # Pins the record of a silence from 5.0123 s (the customer's last end) to 12.3454 s (the
    # customer speaks again): start 5.012, end 12.345, duration 7.333 (= end - start, as the
    # contract says, and the silence's own length to the ms); the alert at start + limit.
    quiet_from, back = 5.0123, 12.3454
    assert back - quiet_from > LIMIT
    events = [*talk("agent", 1.0, 3.0), *talk("customer", 3.5, quiet_from),
              *talk("customer", back, back + 1.0)]
    out = feed(Engine(CFG, ("agent", "customer")), events, back + 2.0)
    assert [(a.t, a.evidence) for a in out if isinstance(a, Alert) and a.rule == "dead_air"] == [
        (round(quiet_from + LIMIT, 3), {"start": 5.012, "limit_s": LIMIT})]
    assert out[-1].fields["dead_air"] == [{"start": 5.012, "end": 12.345, "duration_s": 7.333}]
