"""Known test signals for the live audio tests: tones written to and read from 16-bit WAV files,
and what was heard in them (the loud part, its frequency), so a test can tell which sound
reached which device."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 16000


def tone(freq: float, seconds: float, amp: float = 0.5, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wav(path: Path, x: np.ndarray, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0


def dominant_hz(x: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()])


def loud(x: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    """The samples from the first to the last one above the threshold."""
    idx = np.flatnonzero(np.abs(x) > threshold)
    return x[idx[0]:idx[-1] + 1] if len(idx) else x[:0]
