"""16-bit PCM and float audio, converted one way everywhere.

Frames carry int16 samples; devices, decoders, resamplers and recognisers work in float.
Live capture and replay convert with the same function, so the same audio gives the same
frames bit for bit, and a replay of a kept recording reproduces the live call's timeline.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

PCM_DTYPE: np.dtype[np.int16] = np.dtype("<i2")
"""Frame audio: 16-bit little-endian signed samples."""

FULL_SCALE = 32768.0
"""The int16 magnitude that float 1.0 stands for; levels in dBFS are relative to it."""


def float_to_int16(x: npt.NDArray[np.float32]) -> npt.NDArray[np.int16]:
    """Float samples (full scale 1.0) as int16: scaled by 32768 and rounded half to even, so
    every int16 value read in as float comes back unchanged; clipped rather than wrapped,
    since a resampler or a device can overshoot full scale."""
    return (x * FULL_SCALE).round().clip(-32768, 32767).astype(PCM_DTYPE)


def int16_to_float(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
    """int16 samples as float32 with full scale 1.0, the inverse of ``float_to_int16``."""
    return samples.astype(np.float32) / np.float32(FULL_SCALE)
