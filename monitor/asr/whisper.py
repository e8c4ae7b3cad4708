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
from monitor.errors import CallmonitorError
from monitor.frames import SAMPLE_RATE_HZ, Channel, Utterance, Word

# Text whose gzip compression ratio is above this repeats itself: faster-whisper's own
# threshold for "too repetitive".
LOOP_COMPRESSION_RATIO = 2.4
# Strong enough to break a loop; not used otherwise, because it also drops repeated commas.
LOOP_REPETITION_PENALTY = 1.1
# Whisper invents a sentence for a short grunt (对 became 这次的节目是). Nobody speaks more than
# about 8 characters or words a second (the fast clips of the library: 5), so more than this
# over the VAD's speech span (at least MIN_SPAN_S) is a hallucination and is dropped.
MAX_UNITS_PER_S = 10.0
MIN_SPAN_S = 0.5


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
        span_s = max(end - start, MIN_SPAN_S)
        if not text or count_units(text, self._recognizer.language) > MAX_UNITS_PER_S * span_s:
            return None
        limit = self._t + audio.size / SAMPLE_RATE_HZ
        words = tuple(Word(min(self._t + w.start, limit), min(self._t + w.end, limit),
                           w.text, w.prob) for w in words)
        return Utterance(self.channel, start, end, text, words)


class WhisperRecognizer(Recognizer):
    """A loaded faster-whisper model (from ``load_model``) and how to decode with it.

    ``language`` is the profile's (how text is normalised), ``whisper_language`` the language
    Whisper decodes in.
    """

    backend = "whisper"

    def __init__(self, model_name: str, model: Any, language: str, *, whisper_language: str,
                 beam_size: int) -> None:
        super().__init__(model_name)
        self.language = language
        self._model = model
        self._whisper_language = whisper_language
        self._beam_size = beam_size

    def decoder(self, channel: Channel) -> WhisperDecoder:
        return WhisperDecoder(self, channel)

    def _decode(self, audio: np.ndarray, repetition_penalty: float = 1.0) -> list[Any]:
        segments, _info = self._model.transcribe(
            audio, language=self._whisper_language, beam_size=self._beam_size, temperature=0.0,
            repetition_penalty=repetition_penalty, condition_on_previous_text=False,
            word_timestamps=True, vad_filter=False)
        return list(segments)  # a lazy generator: decoding happens here

    def transcribe(self, audio: np.ndarray) -> tuple[str, list[Word]]:
        """Normalised text and words (times from the start of ``audio``) of one utterance."""
        segments = self._decode(audio)
        if any(s.compression_ratio > LOOP_COMPRESSION_RATIO for s in segments):
            segments = self._decode(audio, LOOP_REPETITION_PENALTY)
        words: list[Word] = []
        for segment in segments:
            for w in segment.words or ():
                words += word_units(w.word, float(w.start), float(w.end),
                                    float(w.probability), self.language)
        joiner = "" if self.language == "zh" else " "
        text = normalize_text(joiner.join(s.text.strip() for s in segments), self.language)
        return text, words
