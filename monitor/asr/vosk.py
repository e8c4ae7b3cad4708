"""The Vosk (Kaldi) backend: streaming recognition as the frames arrive, with word times.

Vosk's clock counts the audio given to one recogniser, and it does not restart after
``FinalResult`` nor after ``Reset`` (measured with vosk 0.3.45): the second segment fed to a
recogniser reports times after the first one's. Each decoder therefore counts the samples it
fed and maps Vosk's time back to audio time per segment; the tests feed two segments through
one decoder to catch a change of that behaviour.

Vosk's partial result (the words of the audio so far, with times: ``SetPartialWords``) is the
decoder's ``hypothesis``, taken on the thread that feeds it (a recogniser is not thread-safe),
so the incremental path treats both backends alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from monitor.asr.base import Hypothesis, Recognizer, SegmentDecoder
from monitor.asr.vosk_view import dither_free
from monitor.errors import CallmonitorError
from monitor.frames import SAMPLE_RATE_HZ, Channel, Utterance, Word
from monitor.pcm import PCM_DTYPE
from monitor.text import normalize_text, word_units


def _import_vosk() -> Any:
    try:
        import vosk
    except ImportError:
        raise CallmonitorError("the vosk backend needs the vosk package",
                               "install it: pip install vosk (or pip install -e '.[vosk]')"
                               ) from None
    vosk.SetLogLevel(-1)
    return vosk


def load_model(model_name: str, path: Path) -> Any:
    """Load a Vosk model folder (seconds, hundreds of MB): callers cache the result.

    A model whose features are dithered is loaded from a view without dither
    (``vosk_view``), so the same audio always gives the same words.
    """
    vosk = _import_vosk()
    try:
        return vosk.Model(str(dither_free(model_name, path)))
    except Exception as exc:  # vosk raises bare Exception
        raise CallmonitorError(f"vosk could not load {model_name} from {path} ({exc})",
                               "reinstall the model: remove the folder and run `make models`"
                               ) from None


class VoskDecoder(SegmentDecoder):
    """One ``KaldiRecognizer`` per phrase: phrases can then be recognised while the next is
    heard, and word times count from the phrase's first sample."""

    def __init__(self, recognizer: VoskRecognizer, channel: Channel) -> None:
        super().__init__(channel)
        self._language = recognizer.language
        self._name = recognizer.model_name
        try:
            self._rec = _import_vosk().KaldiRecognizer(recognizer.model, SAMPLE_RATE_HZ)
        except Exception as exc:  # vosk raises bare Exception
            raise CallmonitorError(f"vosk could not open a recogniser on {self._name} ({exc})",
                                   "reinstall the model") from None
        self._rec.SetWords(True)
        self._rec.SetPartialWords(True)
        self._origin_s = 0.0
        self._fed_bytes = 0
        self._words: list[dict[str, Any]] = []

    def begin(self, t: float, pcm: bytes) -> None:
        self._origin_s = t
        self._fed_bytes = 0
        self._words = []
        self.feed(pcm)

    def feed(self, pcm: bytes) -> None:
        if not pcm:
            return
        self._fed_bytes += len(pcm)
        try:
            endpoint = self._rec.AcceptWaveform(pcm)
        except Exception as exc:  # vosk raises bare Exception
            raise CallmonitorError(f"vosk failed on audio of the {self.channel} channel "
                                   f"({exc})", "check that the audio is 16 kHz int16 mono"
                                   ) from None
        if endpoint:  # vosk heard a pause inside the segment: keep what it finalised
            self._words += self._parse(self._rec.Result())

    def finish(self, start: float, end: float) -> Utterance | None:
        words = self._words + self._parse(self._rec.FinalResult())
        self._words = []
        text = normalize_text(self._join(w["word"] for w in words), self._language)
        if not text:
            return None
        return Utterance(self.channel, start, end, text, self._units(words))

    def hypothesis(self, start: float, end: float | None) -> Callable[[], Hypothesis]:
        """Vosk's partial result, after the words it has finalised at pauses; taken now."""
        words = self._units(self._words + self._parse(self._rec.PartialResult(),
                                                      "partial_result"))
        heard_to = self._origin_s + self._fed_bytes / PCM_DTYPE.itemsize / SAMPLE_RATE_HZ
        found = Hypothesis(heard_to, words, exact=False)
        return lambda: found

    def _units(self, words: list[dict[str, Any]]) -> tuple[Word, ...]:
        out: list[Word] = []
        for w in words:
            out += word_units(w["word"], self._origin_s + w["start"],
                              self._origin_s + w["end"], w.get("conf", 1.0), self._language)
        return tuple(out)

    def _join(self, words: Any) -> str:
        return ("" if self._language == "zh" else " ").join(words)

    def _parse(self, result: str, key: str = "result") -> list[dict[str, Any]]:
        try:
            return list(json.loads(result).get(key, []))
        except (json.JSONDecodeError, AttributeError) as exc:
            raise CallmonitorError(f"vosk returned a result that is not JSON ({exc})",
                                   "report it with the vosk version") from None


class VoskRecognizer(Recognizer):
    """A loaded Vosk model (from ``load_model``) and the language its text is written in.

    Each channel gets its own decoder on the shared model.
    """

    backend = "vosk"

    def __init__(self, model_name: str, model: Any, language: str) -> None:
        super().__init__(model_name)
        self.model = model
        self.language = language

    def decoder(self, channel: Channel, names: Mapping[str, str] | None = None
                ) -> VoskDecoder:
        """A decoder; the small models' fixed vocabulary cannot take new ``names``."""
        return VoskDecoder(self, channel)
