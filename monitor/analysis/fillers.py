"""Filled pauses (嗯, 啊, 呃, um, uh) heard in the agent's audio, without the recogniser.

Whisper writes few of them: it was trained on transcripts that leave them out. Acoustically a
filled pause is a sustained vowel or nasal: voiced, its pitch nearly level and its spectrum
still for a quarter of a second or more, and usually set off by silent pauses (Shriberg 2001;
Goto, Itou & Hayamizu 1999 detect them by the same two cues, small pitch movement and small
spectral change). Ordinary speech changes its spectrum at every consonant and, in Mandarin,
moves its pitch with the lexical tones.

Per 20 ms frame the detector takes the 40 ms window ending with it (the frame and the one
before, centred on the frame's start) and finds

- its pitch and periodicity with YIN (de Cheveigné & Kawahara 2002): the cumulative mean
  normalised difference, from an FFT autocorrelation, over ``pitch_min_hz``-``pitch_max_hz``;
- its spectral envelope as mel cepstra c1..cN: the shape of the spectrum without its level.

A frame is *steady* when it and the frame before are voiced and it moved its pitch and its
envelope little from that frame. A run of steady frames (a glitch of ``max_unsteady_frames``
tolerated) of ``min_s`` to ``max_s`` with a pause close before and after it is a filler. Quiet
frames (``quiet_dbfs``) are pauses and cost no FFT, so the detector costs nothing while the
agent listens.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from monitor.config import FillerConfig
from monitor.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE_HZ, Channel, Filler
from monitor.pcm import FULL_SCALE

_WINDOW = 2 * FRAME_SAMPLES
"""The analysis window: the newest frame and the one before (40 ms)."""
_FLOOR = 1e-3
"""Mel band power (int16 units squared) that stands for silence: the log needs no zero."""
_BATCH = 25
"""Windows analysed together at most: a stretch where steadiness matters is about this long."""

_Analysis = tuple[float, np.ndarray] | None
"""A window's pitch (semitones) and cepstra; None when it is unvoiced."""


class FillerDetector:
    """Filled pauses of one channel, confirmed frame by frame.

    ``process`` takes each 20 ms frame's samples and returns the fillers that frame confirmed
    (at most one). A filler is confirmed when the pause after it is: at most
    ``pause_within_s + min_pause_s`` after its end.
    """

    def __init__(self, cfg: FillerConfig, channel: Channel = "agent") -> None:
        self._cfg = cfg
        self._channel = channel
        self._spectrum = _Spectrum(cfg)
        # The last three frames, oldest first: the newest window is the last two, the window
        # before it the first two (kept, so a frame passed over can still be analysed once it
        # is needed). Joined only for an analysis: most frames are never analysed.
        self._frames = deque([np.zeros(FRAME_SAMPLES)] * 3, maxlen=3)
        self._energy = 0.0  # the newest frame's sum of squares
        self._count = 0  # frames taken so far: the index of the next one
        self._ahead = np.zeros((0, FRAME_SAMPLES))  # frames known before they are taken
        self._ahead_from = 0  # the index of the first of them
        self._ahead_energy: list[float] = []  # their sums of squares
        self._ahead_quiet: list[bool] = []  # and whether each one's window is quiet
        self._analysed: dict[int, _Analysis] = {}  # by frame index
        self._prev: _Analysis = None
        self._prev_unanalysed = False  # the frame before was loud but not analysed
        # A run cannot outlast the pause that would move ``_pause_end`` (it ends at its
        # unsteady frames first), so a run starting too long after the last pause can never
        # be a filler: frames that could only start such a run need no analysis.
        self._skips = not cfg.max_unsteady_frames * FRAME_S >= cfg.min_pause_s - 1e-9
        self._quiet_frames = 0
        self._pause_end: float | None = None  # where the latest long enough pause ended
        self._run: list[float] | None = None  # [start, end] of the steady run
        self._unsteady = 0
        self._pitch_span = (math.inf, -math.inf)  # lowest and highest pitch of the run
        self._pending: tuple[float, float] | None = None  # a run awaiting its pause after

    def prepare(self, frames: np.ndarray) -> None:
        """The frames the next ``process`` calls will take, in order (rows of samples), where
        the caller has them at hand (a recording). Then an analysis that is needed is made
        with those of the frames after it: numpy's calls cost more than the arithmetic on one
        40 ms window, so some frames analysed in vain cost less than a call for each. Only
        loud windows are ever analysed: a batch ends at the first quiet one."""
        self._ahead, self._ahead_from = frames, self._count
        # Exact in any order, as in ``process``: sums of squares of int16 values.
        self._ahead_energy = np.einsum("ij,ij->i", frames, frames).tolist()
        before = [self._energy, *self._ahead_energy[:-1]]
        self._ahead_quiet = [self._quiet(a + b) for a, b in zip(before, self._ahead_energy,
                                                                 strict=True)]

    def process(self, samples: np.ndarray, t: float) -> list[Filler]:
        """Take the 20 ms frame starting at ``t`` (int16 samples as float64)."""
        row = self._count - self._ahead_from
        self._count += 1
        self._frames.append(samples)
        if 0 <= row < len(self._ahead_energy):
            energy, quiet = self._ahead_energy[row], self._ahead_quiet[row]
        else:
            # Sums of squares of int16 values are exact in float64 (below 2**53): the
            # window's is the sum of its two frames', in any order.
            energy = float(samples.dot(samples))
            quiet = self._quiet(self._energy + energy)
        self._energy = energy
        if quiet:
            steady, self._prev, self._prev_unanalysed = False, None, False
        elif self._matters(t):
            steady = self._steady()
        else:
            steady, self._prev, self._prev_unanalysed = False, None, True
        if steady or self._run is not None:  # (else no run grows or ends: most frames)
            self._track_run(steady, t)
        if steady and self._prev is not None and self._run is not None:
            pitch = self._prev[0]
            self._pitch_span = (min(self._pitch_span[0], pitch), max(self._pitch_span[1], pitch))
        return self._track_pause(quiet, t)

    def _quiet(self, energy: float) -> bool:
        """Whether a window of this sum of squares is a pause."""
        power = energy / _WINDOW
        return 10.0 * math.log10(power / FULL_SCALE**2 + 1e-20) < self._cfg.quiet_dbfs

    def _matters(self, t: float) -> bool:
        """Whether this frame's steadiness can change what is reported: it can while a run
        goes on, or where a run starting now would follow the last pause closely enough."""
        if self._run is not None or not self._skips:
            return True
        start = t - FRAME_S - FRAME_S / 2.0  # as ``_track_run`` starts a run and judges it
        return self._pause_end is not None and start - self._pause_end <= self._cfg.pause_within_s

    def _steady(self) -> bool:
        """Voiced, and its pitch and envelope close to the previous frame's."""
        cfg = self._cfg
        newest = self._count - 1
        prev = self._analysis(newest - 1) if self._prev_unanalysed else self._prev
        self._prev = current = self._analysis(newest)
        self._prev_unanalysed = False
        if current is None or prev is None:
            return False
        # ``np.mean``'s own sum and division, without its wrapper's cost on 8 values.
        squares = (current[1] - prev[1]) ** 2
        step_db = math.sqrt(float(np.add.reduce(squares)) / len(squares))
        return (abs(current[0] - prev[0]) <= cfg.max_pitch_step_st
                and step_db <= cfg.max_spectral_step_db)

    def _analysis(self, index: int) -> _Analysis:
        """The analysis of the window ending with frame ``index`` (the newest or the one
        before), made with those of the loud frames known after it (up to ``_BATCH``)."""
        if index not in self._analysed:
            newest = self._count - 1
            stop = max(newest + 1, self._batch_end(index))
            frames = np.array([self._frames[i - newest + 2] if i <= newest
                               else self._ahead[i - self._ahead_from]
                               for i in range(index - 1, stop)])
            windows = np.concatenate((frames[:-1], frames[1:]), axis=1)
            self._analysed = dict(zip(range(index, stop), self._spectrum.analyse(windows),
                                      strict=True))
        return self._analysed[index]

    def _batch_end(self, index: int) -> int:
        """Where a batch of windows from ``index`` on ends: at ``_BATCH``, the end of the frames
        known ahead, or the first quiet window after ``index`` (never analysed)."""
        first = max(index + 1, self._ahead_from)
        end = min(index + _BATCH, self._ahead_from + len(self._ahead))
        for i in range(first, end):
            if self._ahead_quiet[i - self._ahead_from]:
                return i
        return end

    def _track_run(self, steady: bool, t: float) -> None:
        """Grow the steady run; an ended run of the right length awaits its pause after."""
        if steady:
            if self._run is None:  # the frame before was part of the steadiness
                self._run = [t - FRAME_S - FRAME_S / 2.0, t + FRAME_S / 2.0]
                self._pitch_span = (math.inf, -math.inf)
            else:
                self._run[1] = t + FRAME_S / 2.0
            self._unsteady = 0
            return
        if self._run is None:
            return
        self._unsteady += 1
        if self._unsteady <= self._cfg.max_unsteady_frames:
            return
        start, end = self._run
        self._run, self._unsteady = None, 0
        cfg = self._cfg
        before = self._pause_end is not None and start - self._pause_end <= cfg.pause_within_s
        level = self._pitch_span[1] - self._pitch_span[0] <= cfg.max_pitch_range_st
        if before and level and cfg.min_s <= end - start <= cfg.max_s:
            self._pending = (start, end)

    def _track_pause(self, quiet: bool, t: float) -> list[Filler]:
        """Note where long enough pauses end; a pending run followed by one is a filler."""
        cfg = self._cfg
        if not quiet:
            if self._quiet_frames * FRAME_S >= cfg.min_pause_s - 1e-9:
                self._pause_end = t - FRAME_S / 2.0
            self._quiet_frames = 0
            return []
        self._quiet_frames += 1
        pending = self._pending
        if pending is None or self._quiet_frames * FRAME_S < cfg.min_pause_s - 1e-9:
            return []
        self._pending = None
        pause_start = t - self._quiet_frames * FRAME_S + FRAME_S / 2.0
        if pause_start - pending[1] > cfg.pause_within_s:
            return []
        return [Filler(self._channel, round(pending[0], 3), round(pending[1], 3))]


class _Spectrum:
    """Pitch (YIN) and mel cepstra of one 40 ms window; the fixed matrices made once."""

    def __init__(self, cfg: FillerConfig) -> None:
        self._cfg = cfg
        # The envelope's FFT size, which sets the mel filters' frequency grid.
        self._nfft = 1 << (2 * _WINDOW - 1).bit_length()
        self._min_lag = max(2, math.floor(SAMPLE_RATE_HZ / cfg.pitch_max_hz))
        self._max_lag = min(_WINDOW // 2, math.ceil(SAMPLE_RATE_HZ / cfg.pitch_min_hz))
        # The autocorrelation's FFT: zero-padded to at least window + largest lag, no lag up to
        # it wraps around onto another (exact as a sum), and no longer (half of 2048 with the
        # defaults: a 1024-point FFT costs less than half a 2048-point one).
        self._acf_nfft = 1 << (_WINDOW + self._max_lag - 1).bit_length()
        self._lags = np.arange(self._max_lag + 1)
        self._taper = np.hanning(_WINDOW)
        self._mel = _mel_matrix(cfg, self._nfft)
        bands = cfg.mel_bands
        k = np.arange(1, cfg.cepstra + 1)
        self._dct = np.cos(np.pi / bands * (np.arange(bands)[:, None] + 0.5) * k) * (2.0 / bands)

    def analyse(self, windows: np.ndarray) -> list[_Analysis]:
        """Each window's (pitch in semitones above 100 Hz, cepstra in dB); None for an
        unvoiced one (then nothing reads its cepstra).

        Windows are rows, analysed together; every row comes out as it would alone: the
        FFTs and cumulative sums go row by row, and each row's vector-matrix products are
        made one by one (``matmul`` over a stack), as for one window.
        """
        pitches = self._pitches(windows)
        voiced = [i for i, semitones in enumerate(pitches) if semitones is not None]
        out: list[_Analysis] = [None] * len(pitches)
        if voiced:
            spectrum = np.fft.rfft(windows[voiced] * self._taper, self._nfft, axis=1)
            power = spectrum.real**2 + spectrum.imag**2
            bands = np.matmul(power[:, None, :], self._mel)
            cepstra = np.matmul(10.0 * np.log10(bands + _FLOOR), self._dct)[:, 0, :]
            for i, row in zip(voiced, cepstra, strict=True):
                semitones = pitches[i]
                assert semitones is not None
                out[i] = (semitones, row)
        return out

    def _pitches(self, windows: np.ndarray) -> list[float | None]:
        """YIN: the first dip of the normalised difference under ``max_aperiodicity``."""
        spectrum = np.fft.rfft(windows, self._acf_nfft, axis=1)
        acf = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, self._acf_nfft,
                           axis=1)[:, : self._max_lag + 1]
        # Column i: the sum of squares of the first i samples.
        energy: np.ndarray = np.zeros((len(windows), _WINDOW + 1))
        np.cumsum(windows**2, axis=1, out=energy[:, 1:])
        # Each lag's energy of the window's last and first ``_WINDOW - lag`` samples: views.
        lags, last = self._lags, self._max_lag
        diff = (energy[:, _WINDOW - last:][:, ::-1] + (energy[:, _WINDOW:] - energy[:, :last + 1])
                - 2.0 * acf)
        diff[:, 0] = 0.0
        running = np.cumsum(diff[:, 1:], axis=1)
        cmnd = diff[:, 1:] * lags[1:] / np.maximum(running, 1e-9)  # index i: lag i + 1
        search = cmnd[:, self._min_lag - 1:]
        below = search < self._cfg.max_aperiodicity
        firsts = below.argmax(axis=1)
        # Down to the bottom of the dip: the first index from the first one under the
        # threshold on that the next value does not fall below (else the last index).
        cols = np.arange(search.shape[1] - 1)
        bottom = ~(search[:, 1:] < search[:, :-1]) & (cols >= firsts[:, None])
        bottoms = np.where(bottom.any(axis=1), bottom.argmax(axis=1), cols.size)
        return [12.0 * math.log2(SAMPLE_RATE_HZ / (i + self._min_lag) / 100.0) if voiced
                else None for i, voiced in zip(bottoms.tolist(), below.any(axis=1).tolist(),
                                               strict=True)]


def _mel_matrix(cfg: FillerConfig, nfft: int) -> np.ndarray:
    """Triangular mel filters, bins by bands, from ``band_low_hz`` to ``band_high_hz``."""
    def mel(hz: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    edges_mel = np.linspace(mel(np.array(cfg.band_low_hz)), mel(np.array(cfg.band_high_hz)),
                            cfg.mel_bands + 2)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    freqs = np.fft.rfftfreq(nfft, 1.0 / SAMPLE_RATE_HZ)
    lo, centre, hi = edges[:-2], edges[1:-1], edges[2:]
    rising = (freqs[:, None] - lo) / (centre - lo)
    falling = (hi - freqs[:, None]) / (hi - centre)
    return np.clip(np.minimum(rising, falling), 0.0, None)
