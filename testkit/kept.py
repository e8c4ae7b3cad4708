"""Kept audio read back the way a player reads it: decoded by FFmpeg (PyAV), whatever the
format (WAV, FLAC, Opus in Ogg), as 16 kHz 16-bit stereo, for tests and the benchmark."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

RATE_HZ = 16_000


def read_kept(path: Path) -> np.ndarray:
    """The file's samples as (n, 2) int16 at 16 kHz (Opus decodes at 48 kHz: resampled)."""
    resampler = av.AudioResampler(format="s16", layout="stereo", rate=RATE_HZ)
    parts: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            frame.pts = None  # the resampler follows the samples, not the stamps
            parts += [f.to_ndarray().reshape(-1, 2) for f in resampler.resample(frame)]
    parts += [f.to_ndarray().reshape(-1, 2) for f in resampler.resample(None)]
    return np.concatenate(parts) if parts else np.zeros((0, 2), np.int16)


def decoded_s(path: Path) -> float:
    """How long the file plays: its decoded samples at the codec's own rate."""
    with av.open(str(path)) as container:
        rate = container.streams.audio[0].sample_rate
        return sum(frame.samples for frame in container.decode(audio=0)) / rate


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two signals over their common length."""
    n = min(len(a), len(b))
    x, y = a[:n].astype(np.float64), b[:n].astype(np.float64)
    return float(np.corrcoef(x, y)[0, 1])
