"""Call-progress tones (ringback) on the customer channel.

Ringback is a steady tone at a few known frequencies; webrtcvad calls it speech. This detector
finds it so the VAD can ignore it and the engine can count rings before pickup. A frame is
tonal when nearly all of the recent spectrum sits within a few hertz of a known ringback
frequency and the frame itself is loud: a voice spreads its energy over moving harmonics, a
ringback tone does not.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from monitor.config import ToneConfig
from monitor.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE_HZ, DecodedFrame, Ring


@lru_cache(maxsize=16)
def _band_dft(n: int, freqs_hz: tuple[float, ...], band_hz: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The window, the ringback bands' DFT bin frequencies and their DFT matrix. Only the
    band's bins are needed (Parseval gives the total): a small real matrix product (cosines
    over sines) instead of a whole FFT keeps the detector cheap enough to run on every frame.
    Made once per process for each setting (read-only, shared by every call's detector):
    making it cost about a millisecond a call, a batch's short call spends a few dozen."""
    window = np.hanning(n)
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE_HZ)
    band = np.zeros(freqs.shape, dtype=bool)
    for f in freqs_hz:
        band |= np.abs(freqs - f) <= band_hz
    band_freqs = freqs[band]
    phase = 2.0 * np.pi * np.outer(band_freqs, np.arange(n)) / SAMPLE_RATE_HZ
    dft = np.vstack([np.cos(phase), np.sin(phase)]) * window
    for array in (window, band_freqs, dft):
        array.flags.writeable = False
    return window, band_freqs, dft


class ToneDetector:
    """Marks tonal frames and reports each ring burst when it ends."""

    def __init__(self, cfg: ToneConfig) -> None:
        self._cfg = cfg
        n = round(cfg.window_s * SAMPLE_RATE_HZ)
        # The frames the window spans, oldest first. Only a loud frame needs the window, and few
        # are: keeping the frames and joining them then is cheaper than shifting a buffer each
        # frame.
        kept = math.ceil(n / FRAME_SAMPLES)
        self._recent = deque([np.zeros(FRAME_SAMPLES)] * kept, maxlen=kept)
        self._window, self._band_freqs, self._dft = _band_dft(n, cfg.freqs_hz, cfg.band_hz)
        self._count = 0  # frames taken so far: the index of the next one
        # Peaks judged by ``prepare`` for the frames from index ``_ahead_from`` on (None: not
        # tonal; a quiet frame has none, as ``_tonal_peak_hz`` gives it).
        self._ahead: list[float | None] = []
        self._ahead_from = 0
        self._run_start: float | None = None
        self._run_end = 0.0
        self._peaks: list[float] = []

    def prepare(self, frames: np.ndarray, levels: Sequence[float]) -> None:
        """The frames the next ``process`` calls will take, in order (rows of samples, with
        their levels), where the caller has them at hand (a recording): their loud ones are
        judged together, numpy's calls costing more than the arithmetic on one window. Each
        comes out as alone: row-wise products and sums, ``matmul`` over a stack."""
        self._ahead_from = self._count
        loud = [i for i, level in enumerate(levels) if level >= self._cfg.min_level_dbfs]
        self._ahead = [None] * len(frames)
        if not loud:
            return
        n, before = len(self._window), len(self._recent)
        audio = np.concatenate((*self._recent, frames.ravel()))
        # Each loud frame's window (the n samples up to its end) copied out of a view of every
        # window, a row at a time: indexing the samples with a matrix of n indices per window
        # made that matrix and gathered sample by sample (a tenth of the numpy instructions of a
        # timing-only replay, by callgrind).
        starts = (np.array(loud) + before + 1) * FRAME_SAMPLES - n
        bufs = np.lib.stride_tricks.sliding_window_view(audio, n)[starts]
        windowed = bufs * self._window
        totals = np.matmul(windowed[:, None, :], windowed[:, :, None])[:, 0, 0] * n / 2.0
        peaks = self._tonal_peaks(totals.tolist(), np.matmul(self._dft, bufs[:, :, None])[:, :, 0])
        for i, peak in zip(loud, peaks, strict=True):
            self._ahead[i] = peak

    def process(self, decoded: DecodedFrame) -> tuple[bool, list[Ring]]:
        """Is this frame tone? And the ring that ended just before it, if one did."""
        self._recent.append(decoded.samples)
        row = self._count - self._ahead_from
        self._count += 1
        peak = (self._ahead[row] if 0 <= row < len(self._ahead)
                else self._tonal_peak_hz(decoded.level_dbfs))
        if peak is not None:
            t = decoded.frame.t
            if self._run_start is None:
                self._run_start = t
                self._peaks = []
            self._run_end = t + FRAME_S
            self._peaks.append(peak)
            return True, []
        # (Most frames end no run: ``flush`` is called only for one that does.)
        return False, self.flush() if self._run_start is not None else []

    def flush(self) -> list[Ring]:
        """End a tone run; a run long enough is a ring."""
        if self._run_start is None:
            return []
        start, self._run_start = self._run_start, None
        if self._run_end - start + 1e-9 < self._cfg.min_ring_s:
            return []
        return [Ring(round(start, 3), round(self._run_end, 3), float(np.median(self._peaks)))]

    def _tonal_peak_hz(self, level_dbfs: float) -> float | None:
        """The strongest ringback frequency of the window, if the newest frame is loud and the
        window tonal."""
        if level_dbfs < self._cfg.min_level_dbfs:
            return None
        buf = np.concatenate(self._recent)[-len(self._window):]
        windowed = buf * self._window
        total = len(windowed) * float(windowed @ windowed) / 2.0
        return self._tonal_peaks([total], (self._dft @ buf)[None, :])[0]

    def _tonal_peaks(self, totals: list[float], parts: np.ndarray) -> list[float | None]:
        """Each window's strongest ringback frequency, if it is tonal: from its total power
        (Parseval) and its rows of the band's DFT (cosine parts, then sine parts)."""
        half = len(self._band_freqs)
        squares = np.square(parts)
        in_band = squares[:, :half] + squares[:, half:]
        sums = in_band.sum(axis=1).tolist()
        strongest = np.argmax(in_band, axis=1).tolist()
        ratio = self._cfg.tonal_ratio
        return [None if total <= 0.0 or band < ratio * total else float(self._band_freqs[i])
                for total, band, i in zip(totals, sums, strongest, strict=True)]
