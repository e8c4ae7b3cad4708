"""The hints' voice: each phrase synthesised once with pyttsx3, kept as samples to play.

pyttsx3 speaks only on the default output device, which during a call may be the line to the
customer. So it is only used to synthesise to WAV files; the samples are played on the headset
by ``monitor.hints.player``. The standard phrases (every rule's ``say``) are synthesised at
start-up, so the first hint does not wait a few hundred milliseconds for the synthesiser, and
files are cached between sessions under a name made of the voice, rate and text.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import wave
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from monitor.config import HintConfig
from monitor.errors import CallmonitorError
from monitor.pcm import PCM_DTYPE, int16_to_float


class HintVoice:
    """Samples (float32, mono, at ``rate_hz``) for each phrase, synthesised on first use."""

    def __init__(self, cfg: HintConfig, rate_hz: int, cache_dir: Path) -> None:
        self._cfg = cfg
        self._engine = _engine(cfg.voice_language, cfg.voice_rate_wpm, cfg.volume)
        self._voice = f"{self._engine.getProperty('voice')}-{cfg.voice_rate_wpm}-{cfg.volume}"
        self._rate_hz = rate_hz
        self._cache_dir = cache_dir
        self._audio: dict[str, np.ndarray] = {}

    def prepare(self, phrases: Iterable[str]) -> None:
        """Synthesise every phrase not yet cached on disk, and load them all."""
        wanted = {p: self._path(p) for p in set(phrases) - set(self._audio)}
        todo = {p: path for p, path in wanted.items() if not path.exists()}
        if todo:
            self._cache_dir.mkdir(parents=True, exist_ok=True)
        for phrase, path in todo.items():
            # One file per run: the espeak driver keeps only the last file it was given. It
            # prints "Audio saved to ..." on stdout, where --json writes records: silenced.
            self._engine.save_to_file(self._spelled(phrase), str(path))
            with contextlib.redirect_stdout(io.StringIO()):
                self._engine.runAndWait()
        for phrase, path in wanted.items():
            self._audio[phrase] = self._load(path)

    def audio(self, phrase: str) -> np.ndarray:
        if phrase not in self._audio:
            self.prepare([phrase])
        return self._audio[phrase]

    def duration_s(self, phrase: str) -> float:
        return len(self.audio(phrase)) / self._rate_hz

    def _spelled(self, phrase: str) -> str:
        """What the synthesiser is given: pinyin with tone numbers for a pinyin voice."""
        if not self._cfg.voice_pinyin:
            return phrase
        from pypinyin import Style, lazy_pinyin

        return " ".join(lazy_pinyin(phrase, style=Style.TONE3, neutral_tone_with_five=True))

    def _path(self, phrase: str) -> Path:
        key = hashlib.sha1(f"{self._voice}\n{phrase}".encode()).hexdigest()[:16]
        return self._cache_dir / f"{key}.wav"

    def _load(self, path: Path) -> np.ndarray:
        try:
            with wave.open(str(path), "rb") as wav:
                rate, width = wav.getframerate(), wav.getsampwidth()
                pcm = wav.readframes(wav.getnframes())
        except (OSError, EOFError, wave.Error) as exc:
            path.unlink(missing_ok=True)
            raise CallmonitorError(f"the hint voice wrote an unreadable file {path} ({exc})",
                                   "check that espeak-ng works: espeak-ng 'test'") from None
        if width != 2:
            raise CallmonitorError(f"the hint voice wrote {8 * width}-bit audio to {path}",
                                   "configure espeak-ng to write 16-bit WAV")
        samples = int16_to_float(np.frombuffer(pcm, PCM_DTYPE))
        # espeak-ng pads its speech with digital silence (40 ms before, 0.2 s after): cut, so
        # a hint's first sample is speech and the next hint is not held back by the tail.
        sounding = np.flatnonzero(samples)
        if len(sounding):
            samples = samples[sounding[0]:sounding[-1] + 1]
        return soxr.resample(samples, rate, self._rate_hz).astype(np.float32)


def _engine(language: str, wpm: int, volume: float) -> Any:
    """A pyttsx3 engine speaking ``language`` (an espeak-ng language tag: cmn, en-us)."""
    import pyttsx3

    try:
        engine = pyttsx3.init()
    except (OSError, RuntimeError, ImportError) as exc:
        raise CallmonitorError(f"no speech synthesiser for the hints ({exc})",
                               "install espeak-ng (make setup), or run with --no-whisper") from None
    voice = next((v for v in engine.getProperty("voices")
                  if language in (v.languages or []) or v.id.endswith(f"/{language}")), None)
    if voice is None:
        raise CallmonitorError(f"the speech synthesiser has no {language!r} voice for the hints",
                               "install espeak-ng-data, or set [hints] voice_language")
    engine.setProperty("voice", voice.id)
    engine.setProperty("rate", wpm)
    engine.setProperty("volume", volume)
    return engine
