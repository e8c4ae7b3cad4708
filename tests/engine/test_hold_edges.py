"""A hold's limit alerts on exact engine events (mutation survivors of hold.py, issue #16).

From hold.py's docstring: a warning comes ``warn_before_s`` before the limit and a violation
at it; each carries the evidence ``ALERT_EVIDENCE["hold.too_long"]`` promises (when the hold
began, to the millisecond, its limit, whether it is a transfer, whether it was announced, and
the profile's word for the wait). Limits and words come from the shipped configuration.
"""

from __future__ import annotations

import pytest

from monitor.config import ALERT_EVIDENCE, load_config
from monitor.engine.core import Engine
from monitor.frames import Alert, CallEvent
from testkit.engine_feed import feed, talk

CFG = load_config("zh-CN")
HOLD = CFG.rules.hold_too_long


def hold_alerts(cfg, transfer):
    """The hold.too_long alerts of a call whose softphone puts the caller on hold (at a time
    given to more than three decimals) right after the agent announced it, sooner than a
    silence could be taken for a hold, and never resumes."""
    start = 8.12345  # (after the words of the announcement are in)
    assert start - 7.0 < HOLD.confirm_silence_s
    limit = HOLD.transfer_limit_s if transfer else HOLD.limit_s
    events = [*talk("customer", 1.0, 3.0, "我想查话费"),
              *talk("agent", 4.0, 7.0, "请您稍等，我帮您查一下"),
              CallEvent(start, "hold", transfer=transfer)]
    out = feed(Engine(cfg, ("agent", "customer")), events, start + limit + 1.0)
    return start, limit, [a for a in out if isinstance(a, Alert) and a.rule == "hold.too_long"]


@pytest.mark.parametrize("transfer", [False, True])
def test_a_held_caller_gets_a_warning_then_a_violation_with_the_holds_evidence(transfer):
    # Pins the evidence of both alerts: its keys exactly, the start rounded to the
    # millisecond, the limit of this kind of hold (a transfer's is shorter), the transfer flag,
    # announced (the agent said 请您稍等 just before) and the profile's word for that wait.
    start, limit, found = hold_alerts(CFG, transfer)
    evidence = {"start": round(start, 3), "limit_s": limit, "transfer": transfer,
                "announced": True, "wait": HOLD.wait_announced}
    assert set(evidence) == set(ALERT_EVIDENCE["hold.too_long"])
    assert [(a.t, a.severity, a.evidence) for a in found] == [
        (round(start + limit - HOLD.warn_before_s, 3), "warn", evidence),
        (round(start + limit, 3), "violation", evidence)]


def test_the_warning_is_a_warning_whatever_severity_the_message_table_gives():
    # Pins the warning's own severity: the rule says which of its two alerts warns, so a
    # site making hold.too_long's messages violations ([messages."hold.too_long"] severity,
    # the default for a rule's alerts) still gets a warning first, then the violation.
    cfg = load_config("zh-CN", {"messages": {"hold.too_long": {"severity": "violation"}}})
    assert cfg.messages["hold.too_long"].severity == "violation"
    _, _, found = hold_alerts(cfg, transfer=False)
    assert [a.severity for a in found] == ["warn", "violation"]
