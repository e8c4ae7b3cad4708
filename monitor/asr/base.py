"""The one interface both speech recognisers implement.

Recognition runs per VAD segment: the pipeline opens a segment when the VAD confirms speech
(handing over the pre-roll audio it kept), feeds every frame while the segment lasts, and
closes it when the VAD does. Vosk decodes as the frames arrive; Whisper decodes the whole
segment at the close. Either way the result is an ``Utterance`` in audio time, so the engine
never knows which backend ran.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

from monitor.frames import Channel, Utterance


class SegmentDecoder(ABC):
    """Recognises one channel, one segment at a time."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    @abstractmethod
    def begin(self, t: float, pcm: bytes) -> None:
        """Start a segment whose audio begins at time ``t`` with ``pcm`` (16 kHz int16 mono)."""

    @abstractmethod
    def feed(self, pcm: bytes) -> None:
        """Append audio that directly follows what was given so far."""

    @abstractmethod
    def finish(self, start: float, end: float) -> Utterance | None:
        """Close the segment; ``start``/``end`` are the VAD's speech bounds for the utterance.

        Returns None when nothing was recognised. Word times are absolute audio times.
        """


class Recognizer(ABC):
    """A loaded model; cheap to open decoders on, expensive to construct (load once)."""

    backend: ClassVar[str]

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    @abstractmethod
    def decoder(self, channel: Channel, names: Mapping[str, str] | None = None
                ) -> SegmentDecoder:
        """A fresh decoder for one channel of one session.

        ``names`` are the proper names the call is expected to hold (``company``,
        ``agent_name``): a recogniser that can be told them (Whisper's hotwords) is; one that
        cannot ignores them.
        """
