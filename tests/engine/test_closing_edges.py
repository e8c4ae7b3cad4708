"""``closing.incomplete`` at its edges: what the summary reports, the goodbye when a site judges
it, and the agent-talk floor below which a call is not judged (issue #16's mutation survivors).

Exact engine events, fed as the pipeline would (``testkit.engine_feed``); limits and phrases
from the shipped zh-CN profile. The truth is the rule's docstring and README's rule table: the
closing is the agent's words ending within ``window_s`` of the call's last speech; it needs
"anything else?" and thanks for calling (and the goodbye only where ``require_goodbye``); a
call whose agent talked less than ``min_agent_talk_s`` is not judged.
"""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.frames import FRAME_S, Alert
from testkit.engine_feed import feed, talk

CFG = load_config("zh-CN")
CLOSING = CFG.rules.closing_incomplete
GREETING = "您好诚美客服我是小王请问有什么可以帮您"


def run(events, t_end, cfg=CFG):
    return feed(Engine(cfg, ("agent", "customer")), events, t_end)


def missing(out):
    """The ``missing`` evidence of each closing.incomplete alert, with its time."""
    return [(a.t, a.evidence["missing"]) for a in out
            if isinstance(a, Alert) and a.rule == "closing.incomplete"]


def call(closing_words):
    """A greeting (12 s of agent talk), the agent's closing at 20-23 s, the caller's 再见 at
    24-25 s (the caller speaks last); the call closes at 26 s."""
    events = [*talk("agent", 0.0, 12.0, GREETING), *talk("agent", 20.0, 23.0, closing_words),
              *talk("customer", 24.0, 25.0, "再见")]
    return events, 26.0


def test_the_summary_reports_each_part_of_the_closing_and_nothing_else():
    # Pins the summary's `closing` record: exactly the five parts, under their contract names
    # (no "ok" among them: that is closing_ok), the goodbye reported as said even though the
    # shipped profile does not judge it.
    out = run(*call("请问还有什么可以帮您？感谢您的来电，再见"))
    summary = out[-1].fields
    assert summary["closing_ok"] is True
    assert summary["closing"] == {"asked_anything_else": True, "thanked": True,
                                  "said_goodbye": True, "caller_spoke_last": True,
                                  "caller_hung_up_first": None}
    assert missing(out) == []


def test_a_closing_without_goodbye_reports_it_unsaid_but_passes_when_it_is_not_judged():
    # Pins said_goodbye False for a closing that has no 再见 (shipped: require_goodbye false,
    # so the closing still passes).
    assert CLOSING.require_goodbye is False
    out = run(*call("请问还有什么可以帮您？感谢您的来电"))
    assert out[-1].fields["closing"]["said_goodbye"] is False
    assert out[-1].fields["closing_ok"] is True
    assert missing(out) == []


@pytest.mark.parametrize(("words", "said"), [("请问还有什么可以帮您？感谢您的来电", False),
                                             ("请问还有什么可以帮您？感谢您的来电，再见", True)])
def test_a_site_that_requires_the_goodbye_fails_a_closing_without_it(words, said):
    # Pins require_goodbye = true: the goodbye is then judged like the other parts, and a
    # closing without it fails, alerted at the call's end with said_goodbye missing.
    cfg = load_config("zh-CN", {"rules": {"closing.incomplete": {"require_goodbye": True}}})
    events, t_end = call(words)
    out = run(events, t_end, cfg)
    assert out[-1].fields["closing"]["said_goodbye"] is said
    assert out[-1].fields["closing_ok"] is said
    assert missing(out) == ([] if said else [(t_end, "said_goodbye")])


@pytest.mark.parametrize("d", [-FRAME_S, 0.0, FRAME_S])
def test_a_call_is_judged_once_the_agent_talked_min_agent_talk_s(d):
    # Pins the floor: "calls whose agent talked less than min_agent_talk_s are not judged"; an
    # agent who talked exactly that long is judged. The agent's only speech (no closing
    # words) lasts min_agent_talk_s + d; the caller speaks after it.
    agent_s = CLOSING.min_agent_talk_s + d
    events = [*talk("agent", 0.0, agent_s, "好的我帮您看一下"),
              *talk("customer", agent_s + 1.0, agent_s + 2.0, "好")]
    t_end = agent_s + 3.0
    out = run(events, t_end)
    judged = d >= 0
    assert out[-1].fields["closing_ok"] is (False if judged else None)
    assert out[-1].fields["closing"] == (
        {"asked_anything_else": False, "thanked": False, "said_goodbye": False,
         "caller_spoke_last": True, "caller_hung_up_first": None} if judged else None)
    assert missing(out) == ([(t_end, "asked_anything_else, thanked")] if judged else [])
