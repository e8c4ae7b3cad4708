"""A recording is analysed a block at a time (``Source.read_ahead_steps``): frames decoded
together, the filler detector's and the syllable counter's work prepared for the block, the
counter's only over the frames it can be given. A live capture is analysed step by step. Both
must feed the engine the same events, to the last bit, and give the same records: replayed
here with blocks of 50 (a recording's), 7 and 1 (a live capture's) on synthesised calls, with
every analysis made (without a recogniser no rule reads the syllable nuclei, so a replay
counts none: ``Engine.hears``)."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.frames import Filler, Nucleus, Ring, SpeechStart
from monitor.pipeline import Session
from monitor.sinks.collect import CollectSink
from monitor.sources.wavfile import WavSource


def replay(wav: Any, block: int, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[Any]]:
    """The engine's input events (``repr``: floats to the last bit) and the records."""
    monkeypatch.setattr(Engine, "hears", lambda self, kind: True)
    fed: list[str] = []
    on_event = Engine.on_event

    def logged(self: Engine, ev: Any) -> Any:
        fed.append(repr(ev))
        return on_event(self, ev)

    monkeypatch.setattr(Engine, "on_event", logged)
    source = WavSource(wav)
    source.read_ahead_steps = block
    sink = CollectSink()
    Session(load_config("zh-CN"), source, None, [sink]).run({})
    monkeypatch.undo()
    return fed, sink.records


@pytest.mark.parametrize("scenario", ["demo_call", "rules/filler_excess"])
def test_blocks_feed_the_engine_what_single_steps_do(scenario, synth_call, monkeypatch):
    wav = synth_call(scenario).wav
    fed, records = replay(wav, 1, monkeypatch)
    kinds = {line.split("(")[0] for line in fed}
    # The call exercises every analysis a block prepares or reads ahead for.
    assert {SpeechStart.__name__, Nucleus.__name__} <= kinds
    assert (Ring.__name__ if scenario == "demo_call" else Filler.__name__) in kinds
    for block in (7, 50):
        assert replay(wav, block, monkeypatch) == (fed, records), f"blocks of {block}"
