"""The VAD's smoothing rules (``ChannelVad``) on audio whose every frame's webrtcvad decision
is known: the decisions are taken from webrtcvad itself (the reference the class wraps), so
each test states what the hysteresis must make of them.

The rules, from vad.py and ``[vad]`` in config/default.toml: speech is confirmed when
``onset_frames`` of the last ``onset_window_frames`` frames are voiced; a segment runs from its
first voiced frame to the end of its last; it closes after ``hangover_s`` of unvoiced audio;
its level is the mean power of its voiced frames (docs/contract.md: levels to 0.1 dB, times to
the millisecond); a voiced frame must also be ``energy_margin_db`` above the noise floor and
at least ``min_level_dbfs``.
"""

from __future__ import annotations

import numpy as np
import webrtcvad

from monitor.analysis.vad import ChannelVad
from monitor.config import VadConfig, load_config
from monitor.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE_HZ, DecodedFrame, Frame, Speech

CFG = load_config().vad


def frames_of(samples: np.ndarray, t0: float = 0.0) -> list[DecodedFrame]:
    pcm = np.clip(np.round(samples), -32768, 32767).astype(np.int16)
    return [DecodedFrame.decode(Frame("agent", t0 + i * FRAME_S,
                                      pcm[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES].tobytes()))
            for i in range(len(pcm) // FRAME_SAMPLES)]


def segments(frames: list[DecodedFrame], cfg: VadConfig = CFG,
             masked: frozenset[int] = frozenset()) -> list[Speech]:
    vad = ChannelVad("agent", cfg)
    out = [e for i, d in enumerate(frames) for e in vad.process(d, i in masked)]
    return [e for e in [*out, *vad.flush()] if isinstance(e, Speech)]


def webrtc(frames: list[DecodedFrame], aggressiveness: int) -> list[bool]:
    vad = webrtcvad.Vad(aggressiveness)
    return [vad.is_speech(d.frame.pcm, SAMPLE_RATE_HZ) for d in frames]


def test_the_configured_aggressiveness_judges_the_frames():
    """Hiss at -30 dBFS after silence: webrtcvad at aggressiveness 0 calls nearly all of it
    speech, at the configured 3 only its first few frames (its own onset); the VAD's speech is
    those few frames, not two seconds."""
    rng = np.random.default_rng(3)
    frames = frames_of(np.concatenate([np.zeros(SAMPLE_RATE_HZ // 2),
                                       rng.normal(0.0, 1000.0, 2 * SAMPLE_RATE_HZ)]))
    strict, lenient = webrtc(frames, CFG.aggressiveness), webrtc(frames, 0)
    assert CFG.aggressiveness == 3
    assert sum(lenient) > 80
    assert sum(strict) <= 5
    assert sum(s.end - s.start for s in segments(frames)) <= 5 * FRAME_S + 1e-9
