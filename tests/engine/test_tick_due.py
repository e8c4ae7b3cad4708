"""The engine ticks a rule only from its ``next_due`` on (and after every event). On calls made
of random speech, words, holds and rings: at every step the engine skipped a rule, ticking it
would have returned nothing and changed nothing it keeps; and the calls give exactly the
records they give when every rule is ticked at every step, as the engine did before.

The calls are drawn with a fixed seed on the 20 ms grid, so limits fall exactly on steps (the
edges a rounding of a due time would miss), and long silences, held callers, long customer
turns and interruptions all come up; the test checks that they do.
"""

from __future__ import annotations

import dataclasses
import random

from monitor.config import Config, load_config
from monitor.engine.core import Engine
from monitor.engine.phrase_match import PhraseMatcher
from monitor.engine.rules import RULES
from monitor.engine.rules.base import EngineEvent, Rule
from monitor.frames import FRAME_S, Alert, CallEvent, HoldStart, Record, Ring
from testkit.engine_feed import feed, feed_steps, talk

CFG = load_config("zh-CN", {"company": "诚美", "agent_name": "小王"})
SAYINGS = ("您好，诚美客服，我是小王", "喂，你找谁", "请您稍等，我帮您查一下",
           "我帮您转接到售后部门", "感谢您的耐心等待", "对不起，让您久等了", "好的", "嗯", None)
"""What the agent's segments say: greetings good and bad, hold announcements, thanks, none."""
# Every alert a tick (not an event) raises, which the calls must reach.
TIMED = {"dead_air", "hold.too_long", "interruption", "backchannel.missing",
         "greeting.incomplete"}
CALLS = 4
CHANNELS = ("agent", "customer")
TICKING = tuple(cls for cls in RULES if cls.on_tick is not Rule.on_tick)
"""The rules that tick; the others only answer events, and none of them makes one (the
phrase rules, whose matching would cost most of the test's time, are left out)."""


def every_step(cls: type[Rule]) -> type[Rule]:
    """``cls`` ticked at every step, as before rules said when they are due."""
    return type(cls.__name__, (cls,), {"next_due": Rule.next_due})


def on_grid(t: float) -> float:
    return round(round(t / FRAME_S) * FRAME_S, 3)


def pause(rng: random.Random) -> float:
    """A pause between beats: within a turn, a dead-air one, or a wait past the hold limit."""
    low, high = rng.choice([(0.1, 1.6), (3.0, 8.0), (8.0, 40.0)])
    return rng.uniform(low, high)


def beat(rng: random.Random, t: float) -> tuple[list[EngineEvent], float]:
    """One beat of the call from ``t``: the agent speaks, the customer speaks (the agent
    maybe cutting in), or the softphone holds; and the time the beat ends."""
    kind = rng.choices(("agent", "customer", "hold"), weights=(4, 4, 1))[0]
    if kind == "hold":
        back = on_grid(t + rng.uniform(3.0, 40.0))
        return [CallEvent(t, "hold", transfer=rng.random() < 0.3), CallEvent(back, "resume")], back
    if kind == "agent":
        end = on_grid(t + rng.uniform(0.3, 6.0))
        return talk("agent", t, end, rng.choice(SAYINGS)), end
    end = on_grid(t + rng.uniform(0.5, 25.0))
    events = talk("customer", t, end)
    if rng.random() < 0.6:  # the agent answers inside the turn: a backchannel or an interruption
        start = on_grid(rng.uniform(t, end))
        cut_in_end = on_grid(start + rng.uniform(0.2, 4.0))
        events += talk("agent", start, cut_in_end, rng.choice(SAYINGS))
        end = max(end, cut_in_end)
    return events, end


def random_call(seed: int) -> tuple[list[EngineEvent], float]:
    """A call of about two and a half minutes, maybe rung first, and its end."""
    rng = random.Random(seed)
    events: list[EngineEvent] = []
    t = 0.5
    for _ in range(rng.choice((0, 0, 2, 5))):
        events.append(Ring(t, t + 1.0, 450.0))
        t += 5.0
    if rng.random() < 0.3:
        events.append(CallEvent(t, "answer"))
    while t < 150.0:
        t = on_grid(t + pause(rng))
        more, t = beat(rng, t)
        events += more
    return events, on_grid(t + rng.uniform(0.0, 40.0))


class Watch:
    """The rule objects of an engine, each with the names of what it keeps (not its settings
    and phrase matchers, which never change and cost the most to write out) and the step it
    was last ticked at."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.kept_names: dict[int, list[str]] = {}
        self.ticked: dict[int, float] = {}

    def watched(self, cls: type[Rule]) -> type[Rule]:
        watch = self

        class Watched(cls):  # type: ignore[valid-type, misc]
            def __init__(self, cfg: Config) -> None:
                super().__init__(cfg)
                watch.rules.append(self)
                watch.kept_names[id(self)] = [k for k, v in vars(self).items()
                                              if not is_setting(v)]

            def on_tick(self, t: float) -> list[Record]:
                watch.ticked[id(self)] = t
                return super().on_tick(t)

            def skipped_tick(self, t: float) -> list[Record]:
                """The tick the engine skipped, made by the test."""
                return super().on_tick(t)

        return Watched

    def kept(self, rule: Rule) -> str:
        """What ``rule`` keeps, to the last field of its holds and gaps."""
        return repr([getattr(rule, k) for k in self.kept_names[id(rule)]])


def is_setting(value: object) -> bool:
    return isinstance(value, PhraseMatcher) or (
        dataclasses.is_dataclass(value) and value.__dataclass_params__.frozen)


def check_skipped_ticks_do_nothing(events: list[EngineEvent], t_end: float) -> None:
    """Feed the call; at every step, tick each rule the engine skipped, which must return
    nothing and leave what the rule keeps as it was after its last tick (so skipping it
    changed nothing)."""
    watch = Watch()
    engine = Engine(CFG, CHANNELS, tuple(map(watch.watched, TICKING)))
    since_ticked: dict[int, str] = {}  # per rule skipped since its last tick: what it kept
    for t, _ in feed_steps(engine, events, t_end):
        for rule in watch.rules:
            if watch.ticked.get(id(rule)) == t or t == t_end:  # (t_end: closing, no step)
                since_ticked.pop(id(rule), None)
                continue
            if id(rule) not in since_ticked:
                since_ticked[id(rule)] = watch.kept(rule)
            assert rule.skipped_tick(t) == [], (type(rule).__name__, t)  # type: ignore[attr-defined]
            assert watch.kept(rule) == since_ticked[id(rule)], (type(rule).__name__, t)


def test_a_rule_is_skipped_only_at_steps_where_its_tick_would_do_nothing():
    reached: set[str] = set()
    for seed in range(CALLS):
        events, t_end = random_call(seed)
        check_skipped_ticks_do_nothing(events, t_end)
        out = feed(Engine(CFG, CHANNELS, TICKING), events, t_end)
        assert out == feed(Engine(CFG, CHANNELS, tuple(map(every_step, TICKING))), events,
                           t_end), seed
        reached |= {r.rule for r in out if isinstance(r, Alert)}
        reached |= {"hold_start"} if any(isinstance(r, HoldStart) for r in out) else set()
    assert TIMED | {"hold_start"} <= reached
