"""The engine on a mixed recording (both sides in the one ``agent`` channel): the checks that
would take the caller for the agent are skipped with the reason, the rest still run."""

from __future__ import annotations

from monitor.config import load_config
from monitor.engine.core import MIXED_WHY, Engine
from monitor.frames import Alert, Ring
from testkit.engine_feed import feed, talk

CFG = load_config("zh-CN")
# Two rings, then a loud greeting with taboo phrases and a closing: enough for the volume and
# taboo checks to fire, and for a rate, on a channel of the agent alone.
EVENTS = [Ring(0.5, 1.5, 450.0), Ring(4.5, 5.5, 450.0),
          *talk("agent", 8.0, 12.0, "您好诚美客服我是小王。你是谁？有什么事？", level_dbfs=-3.0),
          *talk("agent", 30.0, 33.0, "感谢您的来电再见", level_dbfs=-20.0)]
MIXED_SKIPS = {"greeting.incomplete", "hold.unannounced", "hold.no_thanks", "dead_air",
               "interruption", "backchannel.missing", "volume.too_loud", "forbidden_phrase",
               "filler.excess", "rate.too_fast", "rate.too_slow", "closing.incomplete"}


def run(mixed: bool):
    return feed(Engine(CFG, ("agent",), mixed=mixed), EVENTS, 35.0)


def test_a_mixed_recording_skips_what_needs_the_sides_apart():
    out = run(mixed=True)
    summary = out[-1].fields
    assert {s["rule"]: s["why"] for s in summary["rules_skipped"]} == dict.fromkeys(
        MIXED_SKIPS, MIXED_WHY)
    assert [r for r in out if isinstance(r, Alert)] == []
    assert {c["rule"] for c in summary["checks"]} == {"ring.late_pickup", "hold.too_long"}
    # rings heard in the one channel count; its words are not the agent's alone
    assert summary["rings_before_pickup"] == 2 and summary["pickup_t"] == 8.0
    assert summary["agent_rate_cpm"] is None
    assert summary["agent_loudest_dbfs"] is None and summary["forbidden"] is None


def test_the_same_channel_as_the_agent_alone_is_judged():
    """The control: as the agent's own channel the same events fail the checks skipped above."""
    out = run(mixed=False)
    fired = {r.rule for r in out if isinstance(r, Alert)}
    assert {"volume.too_loud", "forbidden_phrase"} <= fired
    summary = out[-1].fields
    assert summary["agent_rate_cpm"] is not None
    assert summary["rings_before_pickup"] is None  # no customer channel, no rings counted
