"""Compressed copies of a WAV, made with a real encoder (FFmpeg's, through PyAV), for the
tests and the benchmark of the compressed-format reader.

Each format is written the way a call recorder writes it: FLAC lossless, Vorbis and Opus in
Ogg, MP3 at a telephone-recording bitrate. The WAV is 16-bit PCM (the synthesiser's), read
as is, so the copy holds the samples the WAV replay hears, before the codec's own loss.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class Codec:
    """How one format is encoded: FFmpeg encoder, container, sample format, options."""

    encoder: str
    container: str
    suffix: str
    sample_format: str
    bit_rate: int | None = None
    rate_hz: int | None = None
    """Opus encodes at 48 kHz (or 8/12/16/24); None keeps the WAV's rate."""


CODECS = {
    "flac": Codec("flac", "flac", ".flac", "s16"),
    "vorbis": Codec("vorbis", "ogg", ".ogg", "fltp", 96_000),
    "opus": Codec("libopus", "ogg", ".opus", "flt", 64_000, 48_000),
    "mp3": Codec("libmp3lame", "mp3", ".mp3", "s16p", 64_000),
}


def encode_samples(samples: np.ndarray, rate: int, out: Path, codec: str) -> Path:
    """``samples`` (int16, shape (n, channels)) at ``rate`` written as ``codec``."""
    spec = CODECS[codec]
    channels = samples.shape[1]
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(out), "w", format=spec.container) as container:
        stream = container.add_stream(spec.encoder, rate=spec.rate_hz or rate, layout=layout)
        stream.codec_context.format = spec.sample_format
        if spec.bit_rate:
            stream.codec_context.bit_rate = spec.bit_rate
        if spec.encoder == "vorbis":
            stream.codec_context.options = {"strict": "experimental"}
        resampler = av.AudioResampler(format=spec.sample_format, layout=layout,
                                      rate=spec.rate_hz or rate)
        step = rate  # one second at a time
        for start in range(0, len(samples), step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[start:start + step]).reshape(1, -1), format="s16",
                layout=layout)
            frame.sample_rate, frame.time_base, frame.pts = rate, Fraction(1, rate), start
            for resampled in resampler.resample(frame):
                container.mux(stream.encode(resampled))
        for resampled in resampler.resample(None):
            container.mux(stream.encode(resampled))
        container.mux(stream.encode(None))
    return out


def encode_wav(wav: Path, codec: str, out_dir: Path) -> Path:
    """A copy of ``wav`` (16-bit PCM) in ``codec``, named after it, in ``out_dir``."""
    with wave.open(str(wav), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{wav}: expected 16-bit PCM")
        rate, channels = w.getframerate(), w.getnchannels()
        samples = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, channels)
    return encode_samples(samples, rate, out_dir / (wav.stem + CODECS[codec].suffix), codec)
