"""The audio analyses that cost an FFT a frame (syllable nuclei, acoustic fillers) are made only
where a running rule reads their events (``Rule.analyses``, ``Engine.hears``): a rule that
reads them must say so, or a replay would silently leave it without them."""

from __future__ import annotations

from functools import cache

import pytest

from monitor.config import Config, load_config
from monitor.engine.core import Engine
from monitor.engine.rules import RULES
from monitor.frames import Filler, Nucleus
from testkit.engine_feed import feed, talk

# Ten seconds of agent talk with its words, then the caller; nuclei and fillers within the talk.
CALL = [*talk("agent", 1.0, 11.0, "您好请问有什么可以帮您的我帮您查一下话费这个月的账单已经出来了"),
        *talk("customer", 12.0, 14.0, "好的谢谢")]
ANALYSES = {
    Nucleus: [Nucleus("agent", 1.2 + 0.2 * i) for i in range(45)],
    Filler: [Filler("agent", 2.0 + i, 2.4 + i) for i in range(6)],
}


@cache
def config() -> Config:
    return load_config("zh-CN")


def records(rule: type, extra: list) -> list:
    engine = Engine(config(), ("agent", "customer"), (rule,))
    return [r.to_json() for r in feed(engine, [*CALL, *extra], 16.0)]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
@pytest.mark.parametrize("kind", list(ANALYSES), ids=lambda k: k.__name__)
def test_a_rule_reads_the_analyses_it_lists_and_no_other(rule, kind):
    with_events = records(rule, ANALYSES[kind])
    assert (with_events != records(rule, [])) == (kind in rule.analyses)


def test_without_words_or_sides_nothing_reads_what_needs_them():
    cfg = config()
    both = ("agent", "customer")
    assert Engine(cfg, both).hears(Nucleus) and Engine(cfg, both).hears(Filler)
    # No recogniser: the speaking rate (the nuclei's one reader) is not judged; fillers are.
    assert not Engine(cfg, both, words=False).hears(Nucleus)
    assert Engine(cfg, both, words=False).hears(Filler)
    # A mixed recording: neither the agent's pace nor the agent's fillers can be told apart.
    mixed = Engine(cfg, ("agent",), mixed=True)
    assert not mixed.hears(Nucleus) and not mixed.hears(Filler)
