"""The values that flow through the pipeline, from audio frames to the records of the JSON contract.

Every type is immutable and stamped with audio time in seconds (never the wall clock), so a
replay produces exactly the timeline the live call did. Records that reach the JSON-lines
contract (see DESIGN.md) implement ``to_json``; the others stay inside the pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np

from monitor.pcm import FULL_SCALE, PCM_DTYPE

Channel = Literal["agent", "customer"]
CHANNELS: tuple[Channel, ...] = ("agent", "customer")

SAMPLE_RATE_HZ = 16000
FRAME_S = 0.02
FRAME_SAMPLES = int(SAMPLE_RATE_HZ * FRAME_S)
FRAME_BYTES = FRAME_SAMPLES * PCM_DTYPE.itemsize


def _r(t: float) -> float:
    """Round a time for output: milliseconds are all a timeline needs and keep JSON stable."""
    return round(t, 3)


class Frame(NamedTuple):
    """20 ms of 16 kHz mono int16 audio from one channel, starting at audio time ``t``.

    A named tuple, like ``DecodedFrame``: a replay makes one per channel every 20 ms, and a
    frozen dataclass took three times as long to make (its ``__init__`` sets each field
    through ``object.__setattr__``)."""

    channel: Channel
    t: float
    pcm: bytes


class DecodedFrame(NamedTuple):
    """A frame with its samples and level worked out once, for every analyser that reads them.

    The tone detector, the VAD and the syllable counter all read each frame; decoding it (and
    taking its level) in each of them cost more than most of their own analysis. The pipeline
    decodes each frame once and hands this to all three; the recogniser keeps plain frames, so
    its history is not four times the size. A named tuple rather than a frozen dataclass: one
    is made for every frame, and a tuple is the cheapest immutable value to make.
    """

    frame: Frame
    samples: np.ndarray
    """The int16 samples as float64, unscaled (full scale is 32768). Never written to."""
    level_dbfs: float
    """RMS level in dB relative to full scale (-200 for digital silence)."""

    @classmethod
    def decode(cls, frame: Frame) -> DecodedFrame:
        return cls.decode_all([frame])[1][0]

    @classmethod
    def decode_all(cls, frames: Sequence[Frame]) -> tuple[np.ndarray, list[DecodedFrame]]:
        """Consecutive frames of one channel decoded together (one numpy call for all: per
        frame, the calls cost more than the arithmetic): their samples as rows, and each
        frame decoded, its ``samples`` being its row."""
        pcm = frames[0].pcm if len(frames) == 1 else b"".join([f.pcm for f in frames])
        samples = np.frombuffer(pcm, PCM_DTYPE).astype(np.float64).reshape(len(frames), -1)
        # The squares of int16 samples are integers and their sum stays below 2**53, so float64
        # adds them exactly in any order; math, not numpy, on the scalars: the same IEEE
        # results at a fraction of the call cost.
        energies = np.einsum("ij,ij->i", samples, samples).tolist()
        n = samples.shape[1]
        return samples, [
            cls(f, row, 20.0 * math.log10(max(math.sqrt(e / n) / FULL_SCALE, 1e-10)))
            for f, row, e in zip(frames, samples, energies, strict=True)]


@dataclass(frozen=True, slots=True)
class SpeechStart:
    """The VAD has confirmed speech on a channel; ``t`` is where the speech began.

    Emitted as soon as the onset is confirmed, long before the segment ends, so timing rules
    (interruption, dead air) can react within a frame or two.
    """

    channel: Channel
    t: float


@dataclass(frozen=True, slots=True)
class Nucleus:
    """A syllable nucleus heard on a channel: one Chinese character, counted without ASR."""

    channel: Channel
    t: float


@dataclass(frozen=True, slots=True)
class Filler:
    """A filled pause (嗯, 啊, um) heard in a channel's audio, without the recogniser.

    Reported once the pause after it is confirmed, a little after ``end``; ``t`` is ``end``,
    when the filler was said.
    """

    channel: Channel
    start: float
    end: float

    @property
    def t(self) -> float:
        return self.end


@dataclass(frozen=True, slots=True)
class Speech:
    """A finished VAD speech segment on one channel, with the mean level of its voiced frames."""

    type: ClassVar[str] = "speech"
    channel: Channel
    start: float
    end: float
    level_dbfs: float | None = None

    @property
    def t(self) -> float:
        return self.start

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    def to_json(self) -> dict[str, Any]:
        level = None if self.level_dbfs is None else round(self.level_dbfs, 1)
        return {"type": self.type, "t": _r(self.start), "channel": self.channel,
                "start": _r(self.start), "end": _r(self.end), "level_dbfs": level}


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word (a Chinese character or a word in English) with its audio times."""

    start: float
    end: float
    text: str
    prob: float

    def to_json(self) -> dict[str, Any]:
        return {"start": _r(self.start), "end": _r(self.end), "text": self.text,
                "prob": round(self.prob, 3)}


@dataclass(frozen=True, slots=True)
class Utterance:
    """Recognised text of one speech segment, normalised (simplified characters, digits)."""

    type: ClassVar[str] = "utterance"
    channel: Channel
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()

    @property
    def t(self) -> float:
        return self.start

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "t": _r(self.start), "channel": self.channel,
                "start": _r(self.start), "end": _r(self.end), "text": self.text,
                "words": [w.to_json() for w in self.words]}


@dataclass(frozen=True, slots=True)
class PartialUtterance:
    """The words of a phrase still open that successive decodes agree on, so far.

    Engine input only, never a record: phrase rules act on it before the phrase ends (a taboo
    is caught while the sentence goes on), and the phrase's ``Utterance`` still comes at its
    gap. ``text``/``words`` only ever grow within a phrase (a committed word is never taken
    back); ``t`` is the audio time the decode heard up to. ``settled``: nothing heard so far
    is left out of ``text`` (every word of the latest decode is agreed), so the words cover
    the phrase's speech up to ``t``.
    """

    channel: Channel
    start: float
    t: float
    text: str
    words: tuple[Word, ...]
    settled: bool

    def utterance(self, end: float | None = None) -> Utterance:
        """The committed words as an utterance from the phrase's start to ``end`` (default
        ``t``), for the phrase matchers."""
        return Utterance(self.channel, self.start, self.t if end is None else end, self.text,
                         self.words)


@dataclass(frozen=True, slots=True)
class Ring:
    """One ringback burst heard on the customer channel before pickup."""

    type: ClassVar[str] = "ring"
    start: float
    end: float
    freq_hz: float

    @property
    def t(self) -> float:
        return self.start

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "t": _r(self.start), "start": _r(self.start),
                "end": _r(self.end), "freq_hz": round(self.freq_hz, 1)}


@dataclass(frozen=True, slots=True)
class Pickup:
    """The agent's first speech: the moment the call was answered."""

    type: ClassVar[str] = "pickup"
    t: float
    rings: int

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "t": _r(self.t), "rings": self.rings}


@dataclass(frozen=True, slots=True)
class Metric:
    """A running measurement (speaking rate, talk ratio ...) at audio time ``t``."""

    type: ClassVar[str] = "metric"
    t: float
    name: str
    value: float | None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        value = None if self.value is None else round(self.value, 3)
        return {"type": self.type, "t": _r(self.t), "name": self.name, "value": value,
                **self.detail}


@dataclass(frozen=True, slots=True)
class HoldStart:
    """The caller has been put on hold (both sides silent after an announcement, or a hold
    event from the softphone)."""

    type: ClassVar[str] = "hold_start"
    t: float
    announced: bool
    transfer: bool

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "t": _r(self.t), "announced": self.announced,
                "transfer": self.transfer}


@dataclass(frozen=True, slots=True)
class HoldEnd:
    """The agent is back on the line; ``thanked`` is known once the returning words are."""

    type: ClassVar[str] = "hold_end"
    t: float
    start: float

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "t": _r(self.t), "start": _r(self.start),
                "duration_s": _r(self.t - self.start)}


CallEventKind = Literal["ring", "answer", "hold", "resume", "hangup"]


@dataclass(frozen=True, slots=True)
class CallEvent:
    """What the softphone or PBX reported, rather than what was heard: a ring, the answer, a
    hold and its resume, the hang-up (``by`` whom, where known). Where present these beat the
    audio's guesses (ringback cadence, announced silence)."""

    type: ClassVar[str] = "call_event"
    t: float
    event: CallEventKind
    by: Channel | None = None
    transfer: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "t": _r(self.t), "event": self.event}
        if self.event == "hangup":
            out["by"] = self.by
        if self.event == "hold":
            out["transfer"] = self.transfer
        return out


@dataclass(frozen=True, slots=True)
class DeviceNotice:
    """A live capture device went missing (its channels are silence until it is back) or came
    back: a supervisor must know that a quiet stretch was a gap, not dead air."""

    type: ClassVar[str] = "device"
    t: float
    device: str
    channels: tuple[Channel, ...]
    state: Literal["lost", "back"]
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "t": _r(self.t), "device": self.device,
                "channels": list(self.channels), "state": self.state, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Hint:
    """A hint whispered to the agent at ``t`` for the alert of ``rule`` found at ``alert_t``;
    ``played`` is False when the headset was gone and nothing was heard."""

    type: ClassVar[str] = "hint"
    t: float
    rule: str
    say: str
    alert_t: float
    played: bool

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "t": _r(self.t), "rule": self.rule, "say": self.say,
                "alert_t": _r(self.alert_t), "played": self.played}


Severity = Literal["info", "warn", "violation"]


@dataclass(frozen=True, slots=True)
class Alert:
    """A rule's finding: what the supervisor reads (``message``) and the agent hears (``say``)."""

    type: ClassVar[str] = "alert"
    rule: str
    t: float
    severity: Severity
    message: str
    say: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "t": _r(self.t), "rule": self.rule,
                "severity": self.severity, "message": self.message, "say": self.say,
                "evidence": self.evidence}


@dataclass(frozen=True, slots=True)
class Summary:
    """The one closing record of a session; ``fields`` holds the keys DESIGN.md promises."""

    type: ClassVar[str] = "summary"
    t: float
    fields: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "t": _r(self.t), **self.fields}


Record = (Speech | Utterance | Ring | CallEvent | Pickup | HoldStart | HoldEnd | Metric | Alert
          | DeviceNotice | Hint | Summary)
"""Everything the engine hands to sinks: the JSON-lines contract, one record per line."""


__all__ = [
    "CHANNELS", "FRAME_BYTES", "FRAME_S", "FRAME_SAMPLES", "SAMPLE_RATE_HZ", "Alert", "CallEvent",
    "CallEventKind", "Channel", "DecodedFrame", "DeviceNotice", "Filler", "Frame", "Hint",
    "HoldEnd", "HoldStart", "Metric", "Nucleus", "PartialUtterance", "Pickup", "Record", "Ring",
    "Severity", "Speech", "SpeechStart", "Summary", "Utterance", "Word",
]
