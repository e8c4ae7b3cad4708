"""The one interface both speech recognisers implement.

Recognition runs per VAD segment: the pipeline opens a segment when the VAD confirms speech
(handing over the pre-roll audio it kept), feeds every frame while the segment lasts, and
closes it when the VAD does. Vosk decodes as the frames arrive; Whisper decodes the whole
segment at the close. Either way the result is an ``Utterance`` in audio time, so the engine
never knows which backend ran.

While a segment is open, ``hypothesis`` asks what the words so far are (Vosk: its partial
result; Whisper: a decode of the audio so far), for the incremental path in
``monitor.asr.phrases``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from monitor.frames import Channel, Utterance, Word


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """What a decoder makes of a segment's audio so far: ``words`` (one per spoken unit, audio
    times) heard up to audio time ``t``. ``exact``: the decode heard exactly the audio that
    ``finish`` will, the same way, so these are the segment's final words if nothing more is
    said (a second decode could only repeat them)."""

    t: float
    words: tuple[Word, ...]
    exact: bool


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

    def hypothesis(self, start: float, end: float | None) -> Callable[[], Hypothesis] | None:
        """The words so far, as a decode to run now or on a worker thread (the audio it hears
        is taken now, on the caller's thread, so later ``feed`` calls do not change it);
        ``end`` is the segment's end when the VAD has closed it, else None. None: this
        backend has no words before ``finish``.
        """
        return None


class Recognizer(ABC):
    """A loaded model; cheap to open decoders on, expensive to construct (load once)."""

    backend: ClassVar[str]
    language: str
    """How its text is written and cut into units ("zh": characters, else words)."""

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
