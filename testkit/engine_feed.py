"""Feeding hand-made events to the engine as the pipeline would: shared by the engine tests.

The pipeline hands a VAD segment (``Speech``) and its words (``Utterance``) over one hangover
after the segment ends, everything else at its own time, and ticks the engine every 20 ms in
between; tests that build events by hand feed them the same way, so what they see is what a
replay of audio with those segments would give.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from monitor.config import Config
from monitor.engine.core import Engine
from monitor.engine.rules import RULES
from monitor.engine.rules.base import EngineEvent, Rule
from monitor.frames import FRAME_S, Channel, Record, Speech, SpeechStart, Utterance

HANDOVER_S = 0.3
"""How long after a segment's end the pipeline hands it over (the VAD's hangover)."""


def feed(engine: Engine, events: Iterable[EngineEvent], t_end: float) -> list[Record]:
    """Every record ``engine`` gives for ``events`` (in order of arrival, with a tick every
    20 ms) and for closing the session at ``t_end``, its summary last."""
    return [r for _, records in feed_steps(engine, events, t_end) for r in records]


def feed_steps(engine: Engine, events: Iterable[EngineEvent],
               t_end: float) -> Iterator[tuple[float, list[Record]]]:
    """``feed``'s records step by step: each step's time and what the engine gave in it (the
    events that arrived, then the tick), and last ``t_end`` with what closing gave."""
    pending = sorted(events, key=arrival)
    step = 0
    while step * FRAME_S < t_end - 1e-9:
        t = (step + 1) * FRAME_S
        out: list[Record] = []
        while pending and arrival(pending[0]) <= t + 1e-9:
            out += engine.on_event(pending.pop(0))
        yield t, out + engine.on_tick(t)
        step += 1
    yield t_end, engine.finish(t_end, {})


def ticks(cfg: Config, cls: type[Rule], events: Iterable[EngineEvent],
          t_end: float) -> list[float]:
    """The steps (rounded to the ms) at which the engine ticks its rule ``cls`` in a
    two-channel call of ``events`` (the other rules run as usual): what ``Rule.next_due``
    lets the engine skip is only seen this way, as it changes no record."""
    seen: list[float] = []

    class Watched(cls):  # type: ignore[valid-type, misc]
        def on_tick(self, t: float) -> list[Record]:
            seen.append(round(t, 3))
            return super().on_tick(t)

    rules = tuple(Watched if c is cls else c for c in RULES)
    feed(Engine(cfg, ("agent", "customer"), rules), events, t_end)
    return seen


def step_of(t: float) -> float:
    """The 20 ms step in which audio time ``t`` falls (the first step ending at or after it)."""
    return round(math.ceil(t / FRAME_S - 1e-9) * FRAME_S, 3)


def arrival(ev: EngineEvent) -> float:
    """When the pipeline would hand the event over: a segment after its hangover."""
    return ev.end + HANDOVER_S if isinstance(ev, Speech | Utterance) else ev.t


def talk(channel: Channel, start: float, end: float, text: str | None = None,
         level_dbfs: float | None = None) -> list[EngineEvent]:
    """One speech segment as the engine hears it: its start, its end and, with ``text``, the
    words recognised in it."""
    evs: list[EngineEvent] = [SpeechStart(channel, start), Speech(channel, start, end, level_dbfs)]
    if text is not None:
        evs.append(Utterance(channel, start, end, text))
    return evs
