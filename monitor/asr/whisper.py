"""The faster-whisper backend: one decode per VAD segment, slower than Vosk and more accurate.

Whisper needs the whole utterance, so the decoder only collects audio until ``finish``. It
never conditions on previous text (that makes it repeat a sentence on short clips) and it
decodes greedily, so the same audio always gives the same text and a replay reproduces the
live timeline. Greedy decoding can fall into a loop (零零零 ... on one clip of the Mandarin
library); a loop shows as text that compresses too well, and that segment is decoded again
with a repetition penalty. faster-whisper's own fallback samples at rising temperatures
instead: on the library, fed as the pipeline feeds it, that gave a CER between 11.3 and
12.9 % depending on the random state, and with some states it still looped; this scheme gives
12.0 % every time, faster, and 11.3 % with the guard against invented sentences below. The
model always comes from a local folder: the hub is switched off before faster-whisper is
imported.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from monitor.asr.base import Recognizer, SegmentDecoder
from monitor.asr.normalize import count_units, normalize_text, word_units
from monitor.config import AsrConfig
from monitor.errors import CallmonitorError
from monitor.frames import SAMPLE_RATE_HZ, Channel, Utterance, Word


def _import_faster_whisper() -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import faster_whisper
    except ImportError:
        raise CallmonitorError(
            "the whisper backend needs the faster-whisper package",
            "install it: pip install faster-whisper (or pip install -e '.[whisper]')") from None
    return faster_whisper


def load_model(model_name: str, path: Path, compute_type: str, threads: int) -> Any:
    """Load a CTranslate2 Whisper folder on the CPU; ``threads`` 0 means one per core.

    Slow and large: callers cache the result.
    """
    faster_whisper = _import_faster_whisper()
    try:
        return faster_whisper.WhisperModel(str(path), device="cpu", compute_type=compute_type,
                                            cpu_threads=threads or os.cpu_count() or 1)
    except (RuntimeError, ValueError, OSError) as exc:
        raise CallmonitorError(f"faster-whisper could not load {model_name} from {path} ({exc})",
                               "check whisper_compute_type in the config, or reinstall the "
                               "model with `make models`") from None


class WhisperDecoder(SegmentDecoder):
    """Collects one segment's audio and transcribes it when the segment closes."""

    def __init__(self, recognizer: WhisperRecognizer, channel: Channel) -> None:
        super().__init__(channel)
        self._recognizer = recognizer
        self._t = 0.0
        self._chunks: list[bytes] = []

    def begin(self, t: float, pcm: bytes) -> None:
        self._t = t
        self._chunks = [pcm]

    def feed(self, pcm: bytes) -> None:
        self._chunks.append(pcm)

    def finish(self, start: float, end: float) -> Utterance | None:
        pcm, self._chunks = b"".join(self._chunks), []
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        if audio.size == 0:
            return None
        text, words = self._recognizer.transcribe(audio)
        if not text or self._recognizer.implausible(text, end - start):
            return None
        limit = self._t + audio.size / SAMPLE_RATE_HZ
        words = tuple(Word(min(self._t + w.start, limit), min(self._t + w.end, limit),
                           w.text, w.prob) for w in words)
        return Utterance(self.channel, start, end, text, words)


class WhisperRecognizer(Recognizer):
    """A loaded faster-whisper model (from ``load_model``) and how to decode with it.

    ``language`` is the profile's (how text is normalised), ``asr.whisper_language`` the
    language Whisper decodes in; ``asr`` also holds the safeguards against its habits.
    """

    backend = "whisper"

    def __init__(self, model_name: str, model: Any, language: str, asr: AsrConfig) -> None:
        super().__init__(model_name)
        self.language = language
        self._model = model
        self._asr = asr

    def decoder(self, channel: Channel) -> WhisperDecoder:
        return WhisperDecoder(self, channel)

    def _decode(self, audio: np.ndarray, repetition_penalty: float = 1.0) -> list[Any]:
        segments, _info = self._model.transcribe(
            audio, language=self._asr.whisper_language, beam_size=self._asr.whisper_beam_size,
            temperature=0.0,
            repetition_penalty=repetition_penalty, condition_on_previous_text=False,
            word_timestamps=True, vad_filter=False)
        return list(segments)  # a lazy generator: decoding happens here

    def transcribe(self, audio: np.ndarray) -> tuple[str, list[Word]]:
        """Normalised text and words (times from the start of ``audio``) of one utterance."""
        segments = self._decode(audio)
        if any(s.compression_ratio > self._asr.whisper_loop_compression_ratio for s in segments):
            segments = self._decode(audio, self._asr.whisper_loop_repetition_penalty)
        segments = _without_repeats(segments)
        words: list[Word] = []
        for segment in segments:
            for w in segment.words or ():
                words += word_units(w.word, float(w.start), float(w.end),
                                    float(w.probability), self.language)
        joiner = "" if self.language == "zh" else " "
        text = normalize_text(joiner.join(s.text.strip() for s in segments), self.language)
        return text, words

    def implausible(self, text: str, span_s: float) -> bool:
        """More speech than anyone fits into the VAD's span: Whisper made it up."""
        span_s = max(span_s, self._asr.whisper_min_span_s)
        return count_units(text, self.language) > self._asr.whisper_max_units_per_s * span_s


def _without_repeats(segments: list[Any]) -> list[Any]:
    """Drop a segment that says again exactly what the one before said: Whisper's way of
    filling an utterance's trailing silence, never a speaker's (one VAD segment is one turn)."""
    kept: list[Any] = []
    for segment in segments:
        if kept and segment.text.strip() == kept[-1].text.strip():
            continue
        kept.append(segment)
    return kept
