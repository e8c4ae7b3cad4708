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

Greedy decoding gives the same text for the same audio on one machine, but not on every
machine: CTranslate2 runs on whatever int8 and float kernels the CPU offers (oneDNN's AVX-512
VNNI and bfloat16 ones on a recent Xeon or EPYC, Intel MKL on any Intel CPU, AVX2 elsewhere).
Each rounds differently, and where two words are nearly tied the other one wins: on the
scenario set, the same build heard 请您稍等，我帮您查询一下 as 请您收等，我帮您采讯一下 with
AVX-512 VNNI and as 请您收等，我帮您查询一下 with AVX2. ``whisper_cpu_isa`` therefore pins the
kernels (the oneDNN ceiling, CTranslate2's own ISA, no MKL) before CTranslate2 is loaded, so
a call replayed on a supervisor's server gives the timeline the agent's PC gave live.

Whisper hears a phrase up to ``whisper_tail_s`` after its last speech, not the pause that
closed it: how long that silence lasted must not change the words. A recogniser that knows the
call's proper names writes them right more often: ``whisper_hotwords`` (the company, the
agent) are handed to Whisper as its hint phrases, where the profile finds that they help.

Whisper's encoder takes 30 s of audio and faster-whisper pads every shorter input to that, so a
2 s phrase cost as much as a 30 s one, and the encoder was most of a replay's time. A phrase is
encoded in the shortest of ``whisper_windows_s`` that holds its audio and
``whisper_window_margin_s`` of silence after it (``_WindowedModel``; CTranslate2 takes inputs
under 3000 mel frames), which costs a fraction as much; a longer one falls back to 30 s. The
margin is what keeps the words: a window the speech fills nearly to its edge loses them. The
rest of a shortened window is the features of silence (``_SilencePadded``: what the phrase
followed by zero samples gives), not faster-whisper's padding of 0, a steady sound louder than
the phrase's own pauses: with that, phrases of an 8 kHz call in 10 and 15 s windows lost words.

The decoder also answers ``hypothesis`` (the words of the audio so far, for the incremental
path), and remembers its last decode: the phrase's final decode, of the audio a hypothesis
already decoded, reuses it.
"""

from __future__ import annotations

import os
import platform
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from monitor.asr.base import Hypothesis, Recognizer, SegmentDecoder
from monitor.config import AsrConfig
from monitor.errors import CallmonitorError
from monitor.frames import SAMPLE_RATE_HZ, Channel, Utterance, Word
from monitor.pcm import PCM_DTYPE, int16_to_float
from monitor.text import count_units, normalize_text, word_units

WHISPER_WINDOW_S = 30
"""The audio Whisper was trained to hear at once, and its encoder's longest input."""

# A ``whisper_cpu_isa`` value as CTranslate2 (CT2_FORCE_CPU_ISA) and oneDNN
# (ONEDNN_MAX_CPU_ISA) spell it, and the /proc/cpuinfo flags a CPU needs to run it.
_ISAS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "AVX": ("AVX", "AVX", ("avx",)),
    "AVX2": ("AVX2", "AVX2", ("avx2", "fma")),
    "AVX512": ("AVX512", "AVX512_CORE", ("avx512f", "avx512bw", "avx512dq", "avx512vl")),
}


def pin_cpu_kernels(isa: str) -> dict[str, str]:
    """Make CTranslate2 compute with the same kernels on every x86-64 CPU that has ``isa``.

    Sets, unless the environment already does: ONEDNN_MAX_CPU_ISA (oneDNN's int8 and float
    GEMMs use nothing above ``isa``: no AVX-512 VNNI, no bfloat16), CT2_USE_MKL=0 (Intel MKL,
    CTranslate2's default on Intel CPUs, rounds otherwise) and CT2_FORCE_CPU_ISA (its own
    kernels), the last only where the CPU runs ``isa``, as CTranslate2 refuses it otherwise.
    Both libraries read these once per process, when the first model is loaded, so they must be
    set before that. ``isa`` "" leaves the choice to the libraries (the fastest the CPU has).
    Returns what was set.
    """
    if not isa:
        return {}
    if isa not in _ISAS:
        raise CallmonitorError(f"whisper_cpu_isa {isa!r} is not known",
                               f"use one of: {', '.join(_ISAS)}, or \"\" for the CPU's own")
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return {}  # ARM: CTranslate2 uses its own kernels there, nothing to pin
    ct2, onednn, flags = _ISAS[isa]
    wanted = {"ONEDNN_MAX_CPU_ISA": onednn, "CT2_USE_MKL": "0"}
    if _cpu_flags() >= set(flags):
        wanted["CT2_FORCE_CPU_ISA"] = ct2
    set_now = {k: v for k, v in wanted.items() if k not in os.environ}
    os.environ.update(set_now)
    return set_now


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _import_faster_whisper() -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import faster_whisper
    except ImportError:
        raise CallmonitorError(
            "the whisper backend needs the faster-whisper package",
            "install it: pip install faster-whisper (or pip install -e '.[whisper]')") from None
    return faster_whisper


def _windowed_model_class(faster_whisper: Any) -> Any:
    """faster-whisper's model, encoding a window as long as the call's ``chunk_length``.

    ``transcribe(chunk_length=N)`` sets the feature extractor's window to N s but still pads
    every window to 30 s (3000 frames) before the encoder; this encoder cuts the padding back
    to N s, and its features (``_SilencePadded``) fill the window past the phrase with
    silence. The feature extractor's window is state of the model, so one decode at a time
    (``lock``).
    """

    class _SilencePadded(faster_whisper.feature_extractor.FeatureExtractor):
        """Features of a phrase and of silence after it, to the end of the window."""

        def __call__(self, waveform: np.ndarray, padding: int = 160,
                     chunk_length: int | None = None) -> np.ndarray:
            features = super().__call__(waveform, padding, chunk_length)
            short = self.nb_max_frames + 1 - features.shape[-1]
            if short <= 0 or self.n_samples >= WHISPER_WINDOW_S * self.sampling_rate:
                return features  # Whisper's own window stays as faster-whisper pads it
            # Log-mel values are clipped to 8 (2 once scaled) below the loudest: silence.
            return np.pad(features, ((0, 0), (0, short)), constant_values=features.max() - 2.0)

    class _WindowedModel(faster_whisper.WhisperModel):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.lock = threading.Lock()
            self.feature_extractor = _SilencePadded(**self.feat_kwargs)

        def encode(self, features: Any) -> Any:
            return super().encode(features[..., :self.feature_extractor.nb_max_frames])

    return _WindowedModel


def load_model(model_name: str, path: Path, compute_type: str, threads: int,
               cpu_isa: str = "") -> Any:
    """Load a CTranslate2 Whisper folder on the CPU; ``threads`` 0 means one per core, and
    ``cpu_isa`` pins the kernels (``pin_cpu_kernels``).

    Slow and large: callers cache the result.
    """
    pin_cpu_kernels(cpu_isa)
    model_class = _windowed_model_class(_import_faster_whisper())
    try:
        return model_class(str(path), device="cpu", compute_type=compute_type,
                           cpu_threads=threads or os.cpu_count() or 1)
    except (RuntimeError, ValueError, OSError) as exc:
        raise CallmonitorError(f"faster-whisper could not load {model_name} from {path} ({exc})",
                               "check whisper_compute_type in the config, or reinstall the "
                               "model with `make models`") from None


class WhisperDecoder(SegmentDecoder):
    """Collects one segment's audio and transcribes it when the segment closes (and, asked for
    a hypothesis, the audio so far)."""

    def __init__(self, recognizer: WhisperRecognizer, channel: Channel,
                 hotwords: str | None = None) -> None:
        super().__init__(channel)
        self._recognizer = recognizer
        self._hotwords = hotwords
        self._t = 0.0
        self._chunks: list[bytes] = []
        # The last decode: (samples heard, span it was judged on, its utterance).
        self._last: tuple[int, float, Utterance | None] | None = None

    def begin(self, t: float, pcm: bytes) -> None:
        self._t = t
        self._chunks = [pcm]
        self._last = None

    def feed(self, pcm: bytes) -> None:
        self._chunks.append(pcm)

    def finish(self, start: float, end: float) -> Utterance | None:
        audio = self._audio(end)
        self._chunks = []
        return self._utterance(audio, start, end)

    def hypothesis(self, start: float, end: float | None) -> Callable[[], Hypothesis] | None:
        """None once the phrase no longer fits a window of ``whisper_windows_s``: decoding it
        again and again with the 30 s window would cost more than a live desk's CPU has, and
        its final decode is left to the phrase's gap."""
        audio = self._audio(end)
        if audio.size > self._recognizer.window_samples:
            return None
        exact = end is not None and audio.size == self._keep(end)
        heard_to = self._t + audio.size / SAMPLE_RATE_HZ

        def decode() -> Hypothesis:
            utterance = self._utterance(audio, start, heard_to if end is None else end)
            return Hypothesis(heard_to, utterance.words if utterance else (), exact)
        return decode

    def _keep(self, end: float) -> int:
        """Samples up to ``whisper_tail_s`` after ``end``: the pause that closed the phrase
        is not part of it."""
        return max(round((end + self._recognizer.tail_s - self._t) * SAMPLE_RATE_HZ), 0)

    def _audio(self, end: float | None) -> np.ndarray:
        audio = int16_to_float(np.frombuffer(b"".join(self._chunks), PCM_DTYPE))
        return audio if end is None else audio[:self._keep(end)]

    def _utterance(self, audio: np.ndarray, start: float, end: float) -> Utterance | None:
        """The words of ``audio``, judged plausible over the span ``start``-``end``; the same
        audio and span as the last decode give its result again (greedy: it would be the
        same)."""
        if self._last is not None and self._last[:2] == (audio.size, end - start):
            return self._last[2]
        utterance = self._transcribe(audio, start, end)
        self._last = (audio.size, end - start, utterance)
        return utterance

    def _transcribe(self, audio: np.ndarray, start: float, end: float) -> Utterance | None:
        if audio.size == 0:
            return None
        text, found = self._recognizer.transcribe(audio, self._hotwords)
        if not text or self._recognizer.implausible(text, end - start):
            return None
        limit = self._t + audio.size / SAMPLE_RATE_HZ
        words = tuple(Word(min(self._t + w.start, limit), min(self._t + w.end, limit),
                           w.text, w.prob) for w in found)
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
        self.tail_s = asr.whisper_tail_s

    def decoder(self, channel: Channel, names: Mapping[str, str] | None = None
                ) -> WhisperDecoder:
        return WhisperDecoder(self, channel, self.hotwords(names or {}))

    def hotwords(self, names: Mapping[str, str]) -> str | None:
        """The hint phrases for a call: ``whisper_hotwords`` filled in with ``names``
        (``company``, ``agent_name``); entries that come out empty are left out, and None
        means there is nothing to hint."""
        values = {"company": "", "agent_name": "", **names}
        filled: list[str] = []
        for template in self._asr.whisper_hotwords:
            try:
                phrase = template.format_map(values).strip()
            except KeyError as exc:
                raise CallmonitorError(f"whisper_hotwords entry {template!r} names {exc}, "
                                       "which is not known",
                                       "use {company} and {agent_name} only") from None
            if phrase and phrase not in filled:
                filled.append(phrase)
        return ", ".join(filled) or None

    @property
    def window_samples(self) -> int:
        """The longest audio decoded in a window shorter than 30 s."""
        longest = self._asr.whisper_windows_s[-1] - self._asr.whisper_window_margin_s
        return max(round(longest * SAMPLE_RATE_HZ), 0)

    def window_s(self, audio_s: float) -> int:
        """The encoder window for ``audio_s`` of audio: the shortest of ``whisper_windows_s``
        with ``whisper_window_margin_s`` to spare after the audio, else Whisper's own 30 s."""
        needed = audio_s + self._asr.whisper_window_margin_s - 1e-9
        return next((w for w in self._asr.whisper_windows_s if w >= needed), WHISPER_WINDOW_S)

    def _decode(self, audio: np.ndarray, hotwords: str | None,
                repetition_penalty: float = 1.0) -> list[Any]:
        with self._model.lock:
            segments, _info = self._model.transcribe(
                audio, language=self._asr.whisper_language,
                beam_size=self._asr.whisper_beam_size, temperature=0.0,
                repetition_penalty=repetition_penalty, condition_on_previous_text=False,
                word_timestamps=True, vad_filter=False, hotwords=hotwords,
                chunk_length=self.window_s(audio.size / SAMPLE_RATE_HZ))
            return list(segments)  # a lazy generator: decoding happens here

    def transcribe(self, audio: np.ndarray, hotwords: str | None = None
                   ) -> tuple[str, list[Word]]:
        """Normalised text and words (times from the start of ``audio``) of one utterance;
        ``hotwords`` are the call's hint phrases (``hotwords``), if any."""
        segments = self._decode(audio, hotwords)
        if any(s.compression_ratio > self._asr.whisper_loop_compression_ratio for s in segments):
            segments = self._decode(audio, hotwords, self._asr.whisper_loop_repetition_penalty)
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
