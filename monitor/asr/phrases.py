"""Feeds each channel's speech to its decoder phrase by phrase, and the words of an open phrase
as they are spoken.

A phrase is a run of VAD segments with pauses shorter than ``phrase_gap_s`` between them. The
VAD splits at every pause longer than its hangover (a comma); recognising those fragments one
by one loses the context a recogniser needs (您好 alone comes back as 你有), and Whisper pads
every input to its window, so many short inputs also cost far more than one long one.

Each channel keeps a short history of frames, so a phrase's decoder also hears the audio just
before the VAD confirmed speech (the onset frames and ``pad_s`` more): without it the first
syllable would be clipped.

Words while they are spoken: a phrase's ``Utterance`` comes ``phrase_gap_s`` after its speech,
too late to whisper a taboo before the sentence is over. So while a phrase is open its decoder
is asked for a ``hypothesis`` after every ``partial_every_s`` of new audio, and once more as
soon as a segment ends (then Whisper hears exactly what the final decode will, and that decode
is reused at the gap). The words two successive hypotheses agree on are committed
(``monitor.asr.agreement``) and handed to the engine as a ``PartialUtterance`` whenever they
grow; the phrase's ``Utterance`` still follows at the gap.

A replay decodes on the caller's thread, at those audio-time points, which keeps it
deterministic; unless ``partials_in_replay`` it skips the hypotheses (no one is waiting for the
words, and they cost several times the final decode). A live session decodes in the background
(``background=True``): Whisper takes a second or more for a phrase, and the timing rules (dead
air, a hold's limit, an interruption) must not wait that long for their frames. Each phrase
gets a decoder of its own, so the next phrase can be heard while the last one is still being
recognised; utterances still come out in the order their phrases ended, and carry their audio
times, so the rules judge them the same. A hypothesis is only started when the worker is idle:
when recognition falls behind, the next one waits and then decodes the newest audio (stale
partial work is dropped, never queued), while every phrase's final decode always runs.

A phrase never holds more than ``max_phrase_s`` of audio, however long its sound goes on (music
the VAD takes for speech, a caller who never pauses): once its audio reaches that while its
channel is still speaking, it is finished there (its utterance ends at the cut) and the next
phrase opens at once on the same sound, with the usual ``pad_s`` of audio before the cut. So
every decoder's audio, and what the recognisers keep for it, is bounded, and words come out
while the sound goes on instead of when it stops.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from monitor.asr.agreement import LocalAgreement
from monitor.asr.base import Hypothesis, Recognizer, SegmentDecoder
from monitor.config import AsrConfig, VadConfig
from monitor.frames import (
    FRAME_S,
    Channel,
    Frame,
    PartialUtterance,
    Speech,
    SpeechStart,
    Utterance,
)

AsrEvent = Utterance | PartialUtterance
"""What recognition hands the engine."""


@dataclass
class _Phrase:
    channel: Channel
    start: float
    decoder: SegmentDecoder
    audio_start: float  # where the decoder's audio begins (the pad before ``start``)
    end: float | None = None  # end of the last finished segment
    speaking: bool = True
    agreement: LocalAgreement = field(default_factory=LocalAgreement)
    asked_t: float = 0.0  # audio time of the last hypothesis asked for
    asked_end: float | None = None  # the segment end it was asked with (None: speaking)


class PhraseRecognition:
    """``names`` are the call's proper names (``company``, ``agent_name``), handed to every
    phrase's decoder (``Recognizer.decoder``). ``partial_channels``: whose words are wanted
    before their phrases end (the rules that act on them judge the agent; a hypothesis of the
    caller's would cost a decode for nothing)."""

    def __init__(self, recognizer: Recognizer, channels: tuple[Channel, ...], asr: AsrConfig,
                 vad: VadConfig, background: bool = False,
                 names: Mapping[str, str] | None = None,
                 partial_channels: tuple[Channel, ...] = ("agent",)) -> None:
        keep = round((asr.pad_s + vad.onset_window_frames * FRAME_S) / FRAME_S) + 1
        self._cfg = asr
        self._recognizer = recognizer
        self._partial_channels = partial_channels
        self._joiner = "" if recognizer.language == "zh" else " "
        self._names = dict(names or {})
        self._history: dict[Channel, deque[Frame]] = {c: deque(maxlen=keep) for c in channels}
        self._phrases: dict[Channel, _Phrase] = {}
        self._worker = (ThreadPoolExecutor(1, thread_name_prefix="asr") if background
                        else None)
        self._pending: deque[Future[list[AsrEvent]]] = deque()

    def push(self, frame: Frame) -> None:
        """Every frame of the channel, in order, before the VAD events it caused."""
        self._history[frame.channel].append(frame)
        phrase = self._phrases.get(frame.channel)
        if phrase is not None:
            phrase.decoder.feed(frame.pcm)

    def on_vad(self, ev: SpeechStart | Speech) -> None:
        """Open or extend a phrase (``poll`` cuts one that reaches ``max_phrase_s``)."""
        phrase = self._phrases.get(ev.channel)
        if isinstance(ev, SpeechStart):
            if phrase is None:
                self._begin(ev)
            else:  # the next hypothesis after partial_every_s of the new speech
                phrase.speaking, phrase.asked_t = True, max(phrase.asked_t, ev.t)
            return
        if phrase is None:  # cannot happen: every segment starts with a SpeechStart
            return
        if phrase.end is None and ev.end <= phrase.start:  # cut in the segment's hangover:
            del self._phrases[ev.channel]  # the phrase after the cut holds no speech
            return
        phrase.end, phrase.speaking = ev.end, False

    def poll(self, t: float) -> list[AsrEvent]:
        """By audio time ``t``: the phrases cut at ``max_phrase_s``, the committed words of
        open phrases that grew, the phrases whose pause has reached ``phrase_gap_s``, and (in
        the background) the recognition that is ready, in order."""
        out: list[AsrEvent] = []
        for phrase in list(self._phrases.values()):
            if phrase.speaking and t - phrase.audio_start + 1e-9 >= self._cfg.max_phrase_s:
                out += self._cut(phrase, t)
        done = [c for c, p in self._phrases.items() if not p.speaking and p.end is not None
                and t - p.end + 1e-9 >= self._cfg.phrase_gap_s]
        for phrase in list(self._phrases.values()):
            if phrase.channel not in done and self._hypothesis_due(phrase, t):
                out += self._ask(phrase, t)
        for channel in done:
            out += self._finish(channel)
        while self._pending and self._pending[0].done():
            out += self._pending.popleft().result()  # a decoder's error is raised here
        return out

    def flush(self) -> list[AsrEvent]:
        """The audio ended: recognise what is still open, and wait for the background."""
        out: list[AsrEvent] = []
        for channel in list(self._phrases):
            out += self._finish(channel)
        while self._pending:
            out += self._pending.popleft().result()
        if self._worker is not None:
            self._worker.shutdown()
        return out

    def _begin(self, ev: SpeechStart) -> None:
        """Open a phrase at ``ev.t``; its decoder first hears the channel's audio from
        ``pad_s`` before that."""
        frames = [f for f in self._history[ev.channel] if f.t >= ev.t - self._cfg.pad_s - 1e-9]
        decoder = self._recognizer.decoder(ev.channel, self._names)
        decoder.begin(frames[0].t, b"".join(f.pcm for f in frames))
        self._phrases[ev.channel] = _Phrase(ev.channel, ev.t, decoder, frames[0].t,
                                            asked_t=ev.t)

    def _cut(self, phrase: _Phrase, t: float) -> list[AsrEvent]:
        """The phrase's audio has reached ``max_phrase_s`` while its channel still speaks:
        recognise it up to ``t`` and go on with a new phrase from there."""
        phrase.end = t
        out = self._finish(phrase.channel)
        self._begin(SpeechStart(phrase.channel, t))
        return out

    def _hypothesis_due(self, phrase: _Phrase, t: float) -> bool:
        """A segment has ended since the last hypothesis (hear all of it now), or
        ``partial_every_s`` of audio has passed since and the words are not all in."""
        every = self._cfg.partial_every_s
        if every <= 0 or phrase.channel not in self._partial_channels or not (
                self._worker is not None or self._cfg.partials_in_replay):
            return False
        if not phrase.speaking and phrase.asked_end != phrase.end:
            return True
        settled = phrase.agreement.settled and not phrase.speaking
        return not settled and t - phrase.asked_t + 1e-9 >= every

    def _ask(self, phrase: _Phrase, t: float) -> list[AsrEvent]:
        """Ask the phrase's decoder for its words so far; in the background only when the
        worker is idle (else it stays due, and the next step asks with newer audio)."""
        if self._worker is not None and any(not f.done() for f in self._pending):
            return []
        end = None if phrase.speaking else phrase.end
        decode = phrase.decoder.hypothesis(phrase.start, end)
        if decode is None:  # no words before the phrase ends (this backend, this long)
            phrase.asked_end, phrase.asked_t = end, float("inf")
            return []
        phrase.asked_t, phrase.asked_end = t, end
        return self._run(lambda: self._agree(phrase, decode))

    def _agree(self, phrase: _Phrase, decode: Callable[[], Hypothesis]) -> list[AsrEvent]:
        found = decode()
        agreement = phrase.agreement
        if not agreement.update(found.words, found.exact) or not agreement.committed:
            return []
        words = agreement.committed
        return [PartialUtterance(phrase.channel, phrase.start, found.t,
                                 self._joiner.join(w.text for w in words), words,
                                 agreement.settled)]

    def _finish(self, channel: Channel) -> list[AsrEvent]:
        phrase = self._phrases.pop(channel)
        if phrase.end is None:
            return []
        start, end, decoder = phrase.start, phrase.end, phrase.decoder
        return self._run(lambda: [] if (u := decoder.finish(start, end)) is None else [u])

    def _run(self, job: Callable[[], list[AsrEvent]]) -> list[AsrEvent]:
        """Now (replay), or on the worker, its result handed out by ``poll`` in order."""
        if self._worker is None:
            return job()
        self._pending.append(self._worker.submit(job))
        return []
