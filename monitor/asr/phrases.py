"""Feeds each channel's speech to its decoder phrase by phrase.

A phrase is a run of VAD segments with pauses shorter than ``phrase_gap_s`` between them. The
VAD splits at every pause longer than its hangover (a comma); recognising those fragments one
by one loses the context a recogniser needs (您好 alone comes back as 你有), and Whisper pads
every input to 30 s, so many short inputs also cost far more than one long one.

Each channel keeps a short history of frames, so a phrase's decoder also hears the audio just
before the VAD confirmed speech (the onset frames and ``pad_s`` more): without it the first
syllable would be clipped.

A replay decodes on the caller's thread, which keeps it deterministic. A live session decodes
in the background (``background=True``): Whisper takes a second or more for a phrase, and the
timing rules (dead air, a hold's limit, an interruption) must not wait that long for their
frames. Each phrase gets a decoder of its own, so the next phrase can be heard while the last
one is still being recognised; utterances still come out in the order their phrases ended,
and carry their audio times, so the rules judge them the same.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from monitor.asr.base import Recognizer, SegmentDecoder
from monitor.config import AsrConfig, VadConfig
from monitor.frames import FRAME_S, Channel, Frame, Speech, SpeechStart, Utterance


@dataclass
class _Phrase:
    start: float
    decoder: SegmentDecoder
    end: float | None = None  # end of the last finished segment
    speaking: bool = True


class PhraseRecognition:
    """``names`` are the call's proper names (``company``, ``agent_name``), handed to every
    phrase's decoder (``Recognizer.decoder``)."""

    def __init__(self, recognizer: Recognizer, channels: tuple[Channel, ...], asr: AsrConfig,
                 vad: VadConfig, background: bool = False,
                 names: Mapping[str, str] | None = None) -> None:
        keep = round((asr.pad_s + vad.onset_window_frames * FRAME_S) / FRAME_S) + 1
        self._cfg = asr
        self._recognizer = recognizer
        self._names = dict(names or {})
        self._history: dict[Channel, deque[Frame]] = {c: deque(maxlen=keep) for c in channels}
        self._phrases: dict[Channel, _Phrase] = {}
        self._worker = (ThreadPoolExecutor(1, thread_name_prefix="asr") if background
                        else None)
        self._pending: deque[Future[Utterance | None]] = deque()

    def push(self, frame: Frame) -> None:
        """Every frame of the channel, in order, before the VAD events it caused."""
        self._history[frame.channel].append(frame)
        phrase = self._phrases.get(frame.channel)
        if phrase is not None:
            phrase.decoder.feed(frame.pcm)

    def on_vad(self, ev: SpeechStart | Speech) -> Utterance | None:
        """Open or extend a phrase; a phrase grown past ``max_phrase_s`` is recognised now
        (in the background: handed to ``poll`` when done)."""
        phrase = self._phrases.get(ev.channel)
        if isinstance(ev, SpeechStart):
            if phrase is None:
                self._begin(ev)
            else:
                phrase.speaking = True
            return None
        if phrase is None:  # cannot happen: every segment starts with a SpeechStart
            return None
        phrase.end, phrase.speaking = ev.end, False
        if phrase.end - phrase.start >= self._cfg.max_phrase_s:
            return self._finish(ev.channel)
        return None

    def poll(self, t: float) -> list[Utterance]:
        """Phrases whose pause has reached ``phrase_gap_s`` by audio time ``t``, and (in the
        background) the recognised phrases that are ready, in order."""
        done = [c for c, p in self._phrases.items() if not p.speaking and p.end is not None
                and t - p.end + 1e-9 >= self._cfg.phrase_gap_s]
        out = [u for u in (self._finish(c) for c in done) if u is not None]
        while self._pending and self._pending[0].done():
            out += self._result(self._pending.popleft())
        return out

    def flush(self) -> list[Utterance]:
        """The audio ended: recognise what is still open, and wait for the background."""
        out = [u for u in (self._finish(c) for c in list(self._phrases)) if u is not None]
        while self._pending:
            out += self._result(self._pending.popleft())
        if self._worker is not None:
            self._worker.shutdown()
        return out

    def _begin(self, ev: SpeechStart) -> None:
        frames = [f for f in self._history[ev.channel] if f.t >= ev.t - self._cfg.pad_s - 1e-9]
        decoder = self._recognizer.decoder(ev.channel, self._names)
        decoder.begin(frames[0].t, b"".join(f.pcm for f in frames))
        self._phrases[ev.channel] = _Phrase(ev.t, decoder)

    def _finish(self, channel: Channel) -> Utterance | None:
        phrase = self._phrases.pop(channel)
        if phrase.end is None:
            return None
        if self._worker is None:
            return phrase.decoder.finish(phrase.start, phrase.end)
        self._pending.append(self._worker.submit(phrase.decoder.finish, phrase.start,
                                                 phrase.end))
        return None

    @staticmethod
    def _result(future: Future[Utterance | None]) -> list[Utterance]:
        utterance = future.result()  # a decoder's error is raised here, on the caller's thread
        return [] if utterance is None else [utterance]
