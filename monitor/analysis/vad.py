"""Voice activity per channel: webrtcvad's frame decisions, smoothed into speech segments.

webrtcvad judges each 20 ms frame on its own, which makes clicks look like speech and splits
sentences at every short pause. The hysteresis here fixes both: speech is confirmed only when
most of a short window is voiced (a click never is), and a segment closes only after
``hangover_s`` of unvoiced audio (a 150 ms breath never does). Segment bounds are the first
and last voiced frames, not the confirmation or hangover points, so they sit on the speech.
"""

from __future__ import annotations

from collections import deque
from functools import partial

import _webrtcvad
import numpy as np
import webrtcvad

from monitor.config import VadConfig
from monitor.frames import FRAME_S, SAMPLE_RATE_HZ, Channel, DecodedFrame, Speech, SpeechStart


class ChannelVad:
    """Speech segments of one channel, emitted as soon as the audio decides them."""

    def __init__(self, channel: Channel, cfg: VadConfig) -> None:
        self.channel = channel
        self._cfg = cfg
        # ``Vad.is_speech`` is a Python wrapper that passes the buffer's length in samples to
        # this C function (which rejects a frame not 10, 20 or 30 ms long); the wrapper cost a
        # fifth of the call, and a replay makes 100 calls a second.
        self._is_speech = partial(_webrtcvad.process, webrtcvad.Vad(cfg.aggressiveness)._vad,
                                  SAMPLE_RATE_HZ)
        # The floor's rise per frame and the level a voiced frame needs at least, worked out
        # once: ``process`` runs 100 times a second of a replay.
        self._floor_rise_db = cfg.floor_rise_db_per_s * FRAME_S
        self._margin_db, self._min_level_dbfs = cfg.energy_margin_db, cfg.min_level_dbfs
        self._window: deque[tuple[float, bool, float]] = deque(maxlen=cfg.onset_window_frames)
        self._start: float | None = None
        self._last_voiced_end = 0.0
        self._silent_s = 0.0
        self._floor_dbfs: float | None = None
        self._power_sum = 0.0
        self._power_frames = 0

    @property
    def speaking(self) -> bool:
        return self._start is not None

    def process(self, decoded: DecodedFrame, masked: bool = False) -> list[SpeechStart | Speech]:
        """Judge one frame; ``masked`` frames (call-progress tones) count as unvoiced.

        webrtcvad still hears masked frames: its noise model must keep adapting to the line.
        """
        frame, level = decoded.frame, decoded.level_dbfs
        # The noise floor follows the quietest level, rising slowly so it can find a louder
        # line again (written out here rather than in a method of its own: a call a frame).
        floor = self._floor_dbfs
        if floor is None or level < floor:
            floor = level
        else:
            floor += self._floor_rise_db
        self._floor_dbfs = floor
        threshold = floor + self._margin_db
        loud = level >= (threshold if threshold > self._min_level_dbfs else self._min_level_dbfs)
        pcm = frame.pcm
        voiced = self._is_speech(pcm, len(pcm) // 2) and loud and not masked
        power = 10.0 ** (level / 10.0) if voiced else 0.0
        if self._start is None:
            return self._while_quiet(frame.t, voiced, power)
        return self._while_speaking(frame.t, voiced, power)

    def flush(self) -> list[Speech]:
        """Close a segment still open when the audio ends."""
        if self._start is None:
            return []
        return [self._close()]

    def _while_quiet(self, t: float, voiced: bool, power: float) -> list[SpeechStart | Speech]:
        self._window.append((t, voiced, power))
        # Only a voiced frame can complete an onset (the window short of one before it is short
        # of one still), so the window is counted only then: most quiet frames are unvoiced.
        if not voiced or sum(v for _, v, _ in self._window) < self._cfg.onset_frames:
            return []
        first_voiced = next(ft for ft, v, _ in self._window if v)
        last_voiced = max(ft for ft, v, _ in self._window if v)
        self._power_sum = sum(p for _, _, p in self._window)
        self._power_frames = sum(v for _, v, _ in self._window)
        self._start = first_voiced
        self._last_voiced_end = last_voiced + FRAME_S
        self._silent_s = t + FRAME_S - self._last_voiced_end
        self._window.clear()
        return [SpeechStart(self.channel, first_voiced)]

    def _while_speaking(self, t: float, voiced: bool, power: float) -> list[SpeechStart | Speech]:
        if voiced:
            self._power_sum += power
            self._power_frames += 1
            self._last_voiced_end = t + FRAME_S
            self._silent_s = 0.0
            return []
        self._silent_s += FRAME_S
        if self._silent_s + 1e-9 < self._cfg.hangover_s:
            return []
        return [self._close()]

    def _close(self) -> Speech:
        assert self._start is not None
        level = 10.0 * np.log10(self._power_sum / max(self._power_frames, 1) + 1e-20)
        segment = Speech(self.channel, round(self._start, 3), round(self._last_voiced_end, 3),
                         round(float(level), 1))
        self._start = None
        self._power_sum, self._power_frames = 0.0, 0
        self._silent_s = 0.0
        return segment
