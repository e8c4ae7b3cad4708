"""Recorded calls in the compressed formats call recorders write: FLAC, Ogg Vorbis, Ogg Opus
and MP3, as the same frames a WAV of the call gives.

Read through PyAV (FFmpeg's decoders) rather than libsndfile via ``soundfile``: its wheels
carry the decoders themselves, so no system library has to be of a version built with MP3 and
Opus; FFmpeg drops the encoders' delay and padding (the MP3 LAME header, Opus pre-skip), so a
decoded call is as long as the WAV it was made from, sample for sample; and the same package
encodes the test recordings with the real encoders (testkit/encode.py). The file is decoded
packet by packet and handed on in blocks, so a long call never has to fit in
memory; resampling and framing are the WAV source's (``recorded.py``). Which format a file
is comes from its content (``recording.py``), and the container must agree: an Ogg file must
hold Vorbis or Opus, and so on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import numpy as np

from monitor.sources.recorded import (
    ChannelLayout,
    RecordedSource,
    check_shape,
    error,
    regular_file_size,
    unreadable,
)

Container = Literal["flac", "ogg", "mp3"]
"""What the file's first bytes say it is (``recording.sniff``)."""

CODECS: dict[Container, dict[str, str]] = {
    "flac": {"flac": "FLAC"},
    "ogg": {"vorbis": "Ogg Vorbis", "opus": "Ogg Opus", "flac": "Ogg FLAC"},
    "mp3": {"mp3": "MP3", "mp3float": "MP3"},
}
"""Per container, the FFmpeg decoders read here and how the timeline header names them."""

_SCALE = {"s16": 32768.0, "s32": 2147483648.0, "u8": 128.0}


@dataclass(frozen=True, slots=True)
class DecodedInfo:
    """What the file holds, as its headers and first packet say."""

    path: Path
    format: str
    sample_rate_hz: int
    channels: int
    duration_s: float | None


def _convert(path: Path, why: str) -> str:
    return f"check the recording, or convert it: ffmpeg -i {path} -ac 2 out.wav ({why})"


def _stream(container: av.container.InputContainer, path: Path,
            kind: Container) -> av.audio.stream.AudioStream:
    """The one audio stream, if it is of a codec this format is read with."""
    if not container.streams.audio:
        raise error(path, "holds no audio stream", _convert(path, "nothing to listen to"))
    stream = container.streams.audio[0]
    codec = stream.codec_context.name if stream.codec_context else "unknown"
    if codec not in CODECS[kind]:
        raise error(path, f"{kind.upper()} file with {codec} audio is not supported "
                          f"(read are: {', '.join(sorted(set(CODECS[kind].values())))})",
                    _convert(path, "WAV, FLAC, Ogg Vorbis/Opus and MP3 are read"))
    return stream


def probe(path: Path, kind: Container) -> DecodedInfo:
    """Open the file and decode its first frame, so an unreadable header, an unknown codec or
    a damaged start is one line before any processing starts."""
    try:
        regular_file_size(path)
        with av.open(str(path), "r") as container:
            stream = _stream(container, path, kind)
            first = next(container.decode(stream), None)
            duration = (float(stream.duration * stream.time_base)
                        if stream.duration and stream.time_base else None)
    except OSError as exc:  # before FFmpeg's errors: its "permission denied" is one too
        raise unreadable(path, exc) from None
    except av.FFmpegError as exc:
        raise error(path, f"not a readable {kind.upper()} file ({_reason(exc)})",
                    _convert(path, "it may be damaged or of another format")) from None
    if first is None:
        raise error(path, "holds no audio samples",
                    "the recording is empty; check that the recorder captured the call")
    # (A header that says 0 channels is refused by FFmpeg itself: "not a readable" above.)
    channels = first.layout.nb_channels
    check_shape(path, channels, first.sample_rate, f"ffmpeg -i {path} -ac 2 out.wav",
                f"ffmpeg -i {path} -ar 16000 out.wav")
    name = CODECS[kind][stream.codec_context.name]
    return DecodedInfo(path, name, first.sample_rate, channels, duration)


def _reason(exc: av.FFmpegError) -> str:
    """FFmpeg's own words for what went wrong, without the path it repeats."""
    return str(exc.strerror or exc).strip().rstrip(".")


def planar(frame: av.AudioFrame) -> np.ndarray:
    """A decoded frame's samples as the decoder gave them, shape (channels, n)."""
    x = frame.to_ndarray()
    return x if frame.format.is_planar else x.reshape(-1, frame.layout.nb_channels).T


def to_float(x: np.ndarray, sample_format: str) -> np.ndarray:
    """Planar samples of an FFmpeg ``sample_format`` (FLAC: s16/s32, Vorbis/MP3: fltp, Opus:
    flt) as float32 in [-1, 1], shape (n, channels). Done per block, not per frame: an Opus
    frame is 20 ms, and numpy's per-call cost would outweigh the decoding."""
    base = sample_format.rstrip("p")
    if base in _SCALE:  # integers at the scale of ``pcm.int16_to_float`` (exact: powers of 2)
        y = (x.astype(np.float64) - (128.0 if base == "u8" else 0.0)) / _SCALE[base]
    else:  # a fresh float array (the block's concatenation): cleaned in place
        y = np.nan_to_num(x.astype(np.float32, copy=False), copy=False)
        np.clip(y, -1.0, 1.0, out=y)
    return np.ascontiguousarray(y.T, dtype=np.float32)


class DecodedSource(RecordedSource):
    """A compressed recording: channels as ``layout_columns`` maps them (default: left =
    agent, right = customer; mono = agent only)."""

    info: DecodedInfo

    def __init__(self, path: Path | str, kind: Container,
                 agent_side: Literal["left", "right"] = "left", swap_channels: bool = False,
                 block_s: float = 2.0, channels: ChannelLayout | None = None) -> None:
        self.path = Path(path)
        self.kind = kind
        self.info = probe(self.path, kind)
        self._lay_out(block_s, agent_side, swap_channels, channels)

    def describe(self) -> str:
        info = self.info
        length = "" if info.duration_s is None else f", {info.duration_s:.1f} s"
        return (f"{self.path.name}: {self.layout_name()}, {info.sample_rate_hz} Hz "
                f"{info.format}{length}")

    def _blocks(self) -> Iterator[np.ndarray]:
        """Float32 blocks of about ``block_s`` seconds. A file that breaks off or turns to
        garbage mid-stream ends where the decoder stops, as a truncated WAV ends at its cut."""
        pending: list[np.ndarray] = []
        held, sample_format = 0, ""
        with av.open(str(self.path), "r") as container:
            frames = container.decode(container.streams.audio[0])
            while True:
                try:
                    frame = next(frames, None)
                except av.FFmpegError:
                    frame = None
                if frame is None:
                    break
                sample_format = frame.format.name
                pending.append(planar(frame))
                held += frame.samples
                if held >= self._block_samples:
                    yield to_float(np.concatenate(pending, axis=1), sample_format)
                    pending, held = [], 0
        if pending:
            yield to_float(np.concatenate(pending, axis=1), sample_format)


__all__ = ["CODECS", "Container", "DecodedInfo", "DecodedSource", "planar", "probe",
           "to_float"]
