"""Recorded calls from WAV files, as the same 16 kHz frames a live call produces.

Telephone recordings come in whatever the PBX or recorder wrote: 8 kHz G.711, 44.1 kHz float,
WAVE_FORMAT_EXTENSIBLE headers, LIST chunks, files cut off mid-write. Python's ``wave`` module
only reads plain PCM, so the RIFF chunks are walked here and the ``data`` chunk is streamed a
block at a time: a ten-minute call never has to fit in memory, and a bad file is reported
before any processing starts.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np

from monitor.errors import CallmonitorError
from monitor.pcm import PCM_DTYPE, int16_to_float
from monitor.sources.recorded import (
    ChannelLayout,
    RecordedSource,
    check_shape,
    error,
    regular_file_size,
    unreadable,
)

SampleFormat = Literal["pcm_u8", "pcm_s16", "pcm_s32", "float32", "mulaw", "alaw"]

_TAG_PCM = 0x0001
_TAG_FLOAT = 0x0003
_TAG_ALAW = 0x0006
_TAG_MULAW = 0x0007
_TAG_EXTENSIBLE = 0xFFFE
_TAG_NAMES = {_TAG_PCM: "PCM", _TAG_FLOAT: "IEEE float", _TAG_ALAW: "A-law",
              _TAG_MULAW: "mu-law"}
# Every KSDATAFORMAT_SUBTYPE_* GUID for the classic tags is the tag followed by this tail.
_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")

_DESCRIPTIONS: dict[str, str] = {
    "pcm_u8": "8-bit PCM", "pcm_s16": "16-bit PCM", "pcm_s32": "32-bit PCM",
    "float32": "32-bit float", "mulaw": "mu-law", "alaw": "A-law",
}


def _mulaw_table() -> np.ndarray:
    """ITU-T G.711 mu-law expansion of all 256 codes, scaled to int16 (as sox and audioop do)."""
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


def _alaw_table() -> np.ndarray:
    """ITU-T G.711 A-law expansion of all 256 codes, scaled to int16 (as sox and audioop do)."""
    a = np.arange(256, dtype=np.int32) ^ 0x55
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    segment0 = (mantissa << 4) + 8
    upper = ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    magnitude = np.where(exponent == 0, segment0, upper)
    return np.where(a & 0x80, magnitude, -magnitude).astype(np.int16)


MULAW_TO_INT16 = _mulaw_table()
ALAW_TO_INT16 = _alaw_table()
_G711_FLOAT = {"mulaw": int16_to_float(MULAW_TO_INT16), "alaw": int16_to_float(ALAW_TO_INT16)}


@dataclass(frozen=True, slots=True)
class WavInfo:
    """What the file holds, as read from its header, for the timeline header and the review UI."""

    path: Path
    sample_rate_hz: int
    channels: int
    sample_format: SampleFormat
    duration_s: float
    warnings: tuple[str, ...] = ()
    """What the file gets wrong that reading it works around (one line each, naming it)."""


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the samples are and how wide each sample frame is: everything streaming needs."""

    data_offset: int
    n_samples: int
    block_align: int


def _not_a_wav(path: Path, why: str) -> CallmonitorError:
    return error(path, f"not a WAV file ({why})",
                 f"check the path, or convert the recording: sox {path} -b 16 out.wav")


def _read_riff_header(fh: BinaryIO, path: Path) -> None:
    head = fh.read(12)
    if len(head) < 12:
        raise _not_a_wav(path, f"truncated header, only {len(head)} bytes")
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise _not_a_wav(path, "no RIFF/WAVE header")


def _walk_chunks(fh: BinaryIO, path: Path, file_size: int) -> tuple[bytes, int, int, int]:
    """Return the ``fmt `` body, the data offset and size (clamped to what the file holds)
    and how many ``fmt `` chunks came before the audio.

    Unknown chunks (LIST, fact, bext ...) are skipped; RIFF pads odd-sized chunks to even. Of
    several ``fmt `` chunks the first counts, as in sox and ffmpeg, so a file plays here as
    it plays there.
    """
    fmt: bytes | None = None
    fmt_count = 0
    data: tuple[int, int] | None = None
    while True:
        header = fh.read(8)
        if len(header) < 8:
            break
        chunk_id, size = header[:4], struct.unpack("<I", header[4:])[0]
        start = fh.tell()
        available = file_size - start
        if chunk_id == b"fmt ":
            fmt_count += 1
            fmt = fmt if fmt is not None else fh.read(min(size, available))
        elif chunk_id == b"data":
            data = (start, min(size, available))
            if fmt is not None or size >= available:
                break
        fh.seek(start + size + (size & 1))
    if fmt is None:
        raise _not_a_wav(path, "no 'fmt ' chunk")
    if data is None:
        raise _not_a_wav(path, "no 'data' chunk")
    return fmt, data[0], data[1], fmt_count


def _format_tag(fmt: bytes, path: Path) -> int:
    """Resolve WAVE_FORMAT_EXTENSIBLE to the classic tag its SubFormat GUID stands for."""
    tag = struct.unpack("<H", fmt[:2])[0]
    if tag != _TAG_EXTENSIBLE:
        return tag
    if len(fmt) < 40:
        raise _not_a_wav(path, "WAVE_FORMAT_EXTENSIBLE header is truncated")
    guid = fmt[24:40]
    if guid[2:] != _GUID_TAIL:
        raise error(path, f"unknown WAVE_FORMAT_EXTENSIBLE sub-format {guid.hex()}",
                    f"convert it to 16-bit PCM: sox {path} -b 16 -e signed out.wav")
    return struct.unpack("<H", guid[:2])[0]


def _sample_format(tag: int, bits: int, path: Path) -> SampleFormat:
    if tag == _TAG_PCM:
        formats: dict[int, SampleFormat] = {8: "pcm_u8", 16: "pcm_s16", 32: "pcm_s32"}
        if bits in formats:
            return formats[bits]
        raise error(path, f"{bits}-bit PCM is not supported",
                    f"convert it to 16-bit: sox {path} -b 16 out.wav")
    if tag == _TAG_FLOAT and bits == 32:
        return "float32"
    if tag in (_TAG_MULAW, _TAG_ALAW) and bits == 8:
        return "mulaw" if tag == _TAG_MULAW else "alaw"
    if tag in _TAG_NAMES:
        raise error(path, f"{bits}-bit {_TAG_NAMES[tag]} is not supported",
                    f"convert it to 16-bit PCM: sox {path} -b 16 -e signed out.wav")
    raise error(path, f"unknown WAV format tag 0x{tag:04X}",
                f"convert it to 16-bit PCM: sox {path} -b 16 -e signed out.wav")


def _check_shape(channels: int, rate: int, path: Path) -> None:
    if channels < 1:
        raise _not_a_wav(path, "the header says 0 channels")
    check_shape(path, channels, rate, f"sox {path} out.wav remix 1 2",
                f"sox {path} -r 16000 out.wav")


def _open_checked(path: Path) -> tuple[WavInfo, _Layout]:
    """Read and validate the header so every user-fixable problem surfaces before processing."""
    try:
        file_size = regular_file_size(path)
        with path.open("rb") as fh:
            _read_riff_header(fh, path)
            fmt, data_offset, data_size, fmt_count = _walk_chunks(fh, path, file_size)
    except OSError as exc:
        raise unreadable(path, exc) from None
    if len(fmt) < 16:
        raise _not_a_wav(path, f"'fmt ' chunk is {len(fmt)} bytes, at least 16 needed")
    channels, rate = struct.unpack("<HI", fmt[2:8])
    bits = struct.unpack("<H", fmt[14:16])[0]
    sample_format = _sample_format(_format_tag(fmt, path), bits, path)
    _check_shape(channels, rate, path)
    block_align = channels * (bits // 8)
    n_samples = data_size // block_align
    if n_samples == 0:
        raise error(path, "the data chunk holds no audio samples",
                    "the recording is empty; check that the recorder captured the call")
    warnings = (f"{path}: {fmt_count} 'fmt ' chunks; the first is used, as sox and ffmpeg "
                "do",) if fmt_count > 1 else ()
    info = WavInfo(path, rate, channels, sample_format, n_samples / rate, warnings)
    return info, _Layout(data_offset, n_samples, block_align)


def decode(raw: bytes, sample_format: SampleFormat, channels: int,
           int16: bool = False) -> np.ndarray:
    """Whole sample frames of ``raw`` as float32 in [-1, 1], shape (n, channels).

    One common scale lets every format share the resampler and the int16 conversion; a
    trailing partial sample frame (a cut-off recording) is dropped. ``int16``: 16-bit PCM
    stays int16 (the samples frames carry: at 16 kHz they need no conversion at all).
    """
    width = 1 if sample_format in ("pcm_u8", "mulaw", "alaw") else (
        2 if sample_format == "pcm_s16" else 4)
    usable = len(raw) - len(raw) % (width * channels)
    buf = memoryview(raw)[:usable]
    x: np.ndarray
    if sample_format == "pcm_u8":
        x = (np.frombuffer(buf, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif sample_format == "pcm_s16":
        pcm = np.frombuffer(buf, PCM_DTYPE)
        x = pcm if int16 else int16_to_float(pcm)
    elif sample_format == "pcm_s32":
        x = (np.frombuffer(buf, "<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    elif sample_format == "float32":
        x = np.clip(np.nan_to_num(np.frombuffer(buf, "<f4")), -1.0, 1.0).astype(np.float32)
    else:
        x = _G711_FLOAT[sample_format][np.frombuffer(buf, np.uint8)]
    return x.reshape(-1, channels)


class WavSource(RecordedSource):
    """A recorded call: left = agent and right = customer by default, mono = agent only;
    ``channels`` (a ``ChannelLayout``) says otherwise, see ``layout_columns``."""

    info: WavInfo

    def __init__(self, path: Path | str, agent_side: Literal["left", "right"] = "left",
                 swap_channels: bool = False, block_s: float = 2.0,
                 channels: ChannelLayout | None = None) -> None:
        self.path = Path(path)
        self.info, self._layout = _open_checked(self.path)
        self.warnings = self.info.warnings
        self._lay_out(block_s, agent_side, swap_channels, channels)

    def describe(self) -> str:
        info = self.info
        return (f"{self.path.name}: {self.layout_name()}, {info.sample_rate_hz} Hz "
                f"{_DESCRIPTIONS[info.sample_format]}, {info.duration_s:.1f} s")

    def _blocks(self) -> Iterator[np.ndarray]:
        """Decoded float32 blocks of ``block_s`` seconds, read lazily from the data chunk."""
        layout = self._layout
        remaining = layout.n_samples
        with self.path.open("rb") as fh:
            fh.seek(layout.data_offset)
            while remaining > 0:
                want = min(remaining, self._block_samples)
                raw = fh.read(want * layout.block_align)
                block = decode(raw, self.info.sample_format, self.info.channels, int16=True)
                if len(block) == 0:
                    return
                remaining -= len(block)
                yield block


__all__ = ["ALAW_TO_INT16", "MULAW_TO_INT16", "WavInfo", "WavSource", "decode"]
