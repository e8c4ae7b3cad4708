"""Whispers alerts into the agent's headset: the scheduler picks the moment, the voice and the
player say it. It also returns a ``hint`` record for each hint said, so the timeline shows a
supervisor what the agent heard and when."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.config import Config
from monitor.frames import Channel, Hint, Record
from monitor.hints.player import HeadsetPlayer
from monitor.hints.scheduler import HintScheduler
from monitor.hints.voice import HintVoice


class HintSink:
    """A sink that also steps with the audio clock (``step``), which the pipeline calls every
    20 ms with who is speaking."""

    def __init__(self, cfg: Config, voice: HintVoice, player: HeadsetPlayer) -> None:
        self._voice = voice
        self._player = player
        self._scheduler = HintScheduler(cfg.hints, voice.duration_s)
        # The fixed phrases now, so the first hint does not wait for the synthesiser; phrases
        # filled in from an alert's evidence are synthesised when they come.
        voice.prepare(m.say for m in cfg.messages.values() if m.say and "{" not in m.say)
        self._t = 0.0

    def write(self, record: dict[str, Any]) -> None:
        if record["type"] == "alert":
            self._scheduler.offer(record, self._t)

    def step(self, t: float, speaking: Mapping[Channel, bool]) -> list[Record]:
        self._t = t
        # Every step, not only when a hint comes: the stream is closed as soon as it has ended
        # or the headset is gone, and reopened as soon as the headset is back.
        self._player.check()
        hint = self._scheduler.step(t, speaking.get("agent", False))
        if hint is None:
            return []
        played = self._player.play(self._voice.audio(hint.say))
        return [Hint(t, hint.rule, hint.say, hint.alert_t, played)]

    def close(self, status: str) -> None:
        self._player.close()
