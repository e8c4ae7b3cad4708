"""How kept audio is laid out on disk: PCM WAV, FLAC, or Opus in Ogg (``[store] audio_format``).

Each track writes 16 kHz stereo blocks (agent left, customer right) to an open file descriptor
with explicit offsets (``pwrite``), and after every ``write`` the file is a complete, playable
file of everything written so far: a session that ends any way at all (a crash, kill -9)
leaves its audio up to the last write. Compressed tracks are encoded with FFmpeg's encoders
(libopus, FLAC, through PyAV), but framed here: FFmpeg's Ogg muxer keeps the last pages in
memory until more audio comes, so a killed process would lose a second or more of a call,
while the framing below puts every block on disk as whole Ogg pages or FLAC frames.

Ogg (RFC 3533) with Opus (RFC 7845): a page of the Opus head, a page of tags, then one or
more pages per block, each page's granule position the 48 kHz sample count through its last
packet, counted from the encoder's pre-skip. FLAC: ``fLaC``, the STREAMINFO block (its sample
count patched at close), then the frames; FLAC frames are found by their sync codes, so a file
cut after any frame plays.
"""

from __future__ import annotations

import errno
import os
import struct
import zlib
from fractions import Fraction
from typing import Literal, Protocol, cast

import av
import numpy as np
from av.audio.codeccontext import AudioCodecContext

from monitor.frames import SAMPLE_RATE_HZ

AudioFormat = Literal["opus", "flac", "wav"]
SUFFIX: dict[AudioFormat, str] = {"opus": ".opus", "flac": ".flac", "wav": ".wav"}
MIMETYPE = {".opus": "audio/ogg", ".ogg": "audio/ogg", ".flac": "audio/flac",
            ".wav": "audio/wav", ".wave": "audio/wav"}
"""What the review app sends each kept file as (Chromium plays and seeks all three)."""

CHANNELS = 2
SAMPLE_BYTES = 2
BLOCK_ALIGN = CHANNELS * SAMPLE_BYTES
BYTES_PER_S = SAMPLE_RATE_HZ * BLOCK_ALIGN
WAV_HEADER_BYTES = 44
"""RIFF/WAVE header of plain PCM: RIFF, the 16-byte ``fmt `` chunk, the ``data`` chunk's head."""
_RIFF_SIZE_AT = 4
_DATA_SIZE_AT = 40
MAX_WAV_DATA_BYTES = 0xFFFFFFFF - (WAV_HEADER_BYTES - 8)
"""A RIFF size is 32 bits: about 18.6 hours of this audio."""
FLAC_FRAME_SAMPLES = 1600
"""100 ms: a block of whole 20 ms steps (a multiple of 100 ms) encodes into whole frames, so
no audio waits in the encoder between two writes."""
OPUS_GRANULE_HZ = 48_000
"""Ogg Opus counts granule positions at 48 kHz whatever rate was encoded."""
_OGG_MAX_SEGMENTS = 255


def wav_header(data_bytes: int) -> bytes:
    """The 44-byte header of 16 kHz 16-bit stereo PCM holding ``data_bytes`` of samples."""
    return (b"RIFF" + struct.pack("<I", WAV_HEADER_BYTES - 8 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, CHANNELS, SAMPLE_RATE_HZ, BYTES_PER_S,
                                    BLOCK_ALIGN, 8 * SAMPLE_BYTES)
            + b"data" + struct.pack("<I", data_bytes))


_BIT_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def ogg_crc(data: bytes) -> int:
    """The Ogg page checksum: CRC-32, polynomial 0x04C11DB7, no reflection, initial value and
    final xor 0. zlib's CRC-32 is the same polynomial reflected, so it is run over the
    bit-reversed bytes from a zero register (``crc32(.., 0xFFFFFFFF)`` starts from ~0xFFFFFFFF)
    and its result bit-reversed back: all in C, cheap on the writer's thread."""
    reflected = ~zlib.crc32(data.translate(_BIT_REVERSED), 0xFFFFFFFF) & 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2)


def ogg_page(packets: list[bytes], granule: int, serial: int, sequence: int,
             flags: int = 0) -> bytes:
    """One Ogg page holding whole ``packets`` (at most 255 lacing values between them)."""
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    if len(lacing) > _OGG_MAX_SEGMENTS:
        raise ValueError("too many segments for one Ogg page")
    head = (b"OggS" + bytes([0, flags]) + struct.pack("<qII", granule, serial, sequence)
            + b"\0\0\0\0" + bytes([len(lacing)]) + bytes(lacing))
    page = head + b"".join(packets)
    return page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]


def _packet_end(packet: av.Packet) -> int:
    """Where a packet's audio ends, in samples at 16 kHz (the encoders stamp both)."""
    assert packet.pts is not None and packet.duration is not None
    return int(packet.pts + packet.duration)


def _segments(packet: bytes) -> int:
    return len(packet) // 255 + 1


class Track(Protocol):
    """A kept file being written: ``write`` appends a block and leaves the file complete."""

    kept_samples: int
    """Samples per channel a player decodes from the file as it stands."""

    def write(self, block: np.ndarray) -> None: ...

    def finish(self) -> None: ...


class Output:
    """The file descriptor with explicit offsets: a write interrupted before it took effect
    is simply done again, and ``cut`` drops a torn tail."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.end = 0  # bytes of complete content

    def pwrite(self, data: bytes, offset: int) -> None:
        view = memoryview(data)
        while view:  # a short write (a disk filling up) writes the rest or raises ENOSPC
            done = os.pwrite(self.fd, view, offset)
            view, offset = view[done:], offset + done

    def append(self, data: bytes) -> None:
        self.pwrite(data, self.end)
        self.end += len(data)

    def cut(self) -> None:
        """Drop what a failed write left past the complete content (and free its space)."""
        os.ftruncate(self.fd, self.end)


class WavTrack:
    """PCM: the samples, then the header's sizes that cover them, so the file is a valid WAV
    between any two system calls."""

    def __init__(self, out: Output, bitrate_kbps: int) -> None:
        self._out = out
        out.append(wav_header(0))
        self.kept_samples = 0

    def write(self, block: np.ndarray) -> None:
        data = block.astype("<i2", copy=False).tobytes()
        written = self._out.end - WAV_HEADER_BYTES + len(data)
        if written > MAX_WAV_DATA_BYTES:
            raise OSError(errno.EFBIG, "the call is longer than a WAV file can hold")
        self._out.pwrite(data, self._out.end)
        self._out.pwrite(struct.pack("<I", WAV_HEADER_BYTES - 8 + written), _RIFF_SIZE_AT)
        self._out.pwrite(struct.pack("<I", written), _DATA_SIZE_AT)
        self._out.end += len(data)
        self.kept_samples += len(block)

    def finish(self) -> None:
        pass


class _Encoded:
    """A block through one of FFmpeg's encoders, at 16 kHz stereo 16-bit."""

    def __init__(self, codec: str, options: dict[str, str], bitrate_kbps: int | None) -> None:
        self.codec = cast(AudioCodecContext, av.CodecContext.create(codec, "w"))
        self.codec.sample_rate = SAMPLE_RATE_HZ
        self.codec.layout = "stereo"
        self.codec.format = "s16"
        self.codec.options = options
        if bitrate_kbps:
            self.codec.bit_rate = bitrate_kbps * 1000
        self.codec.open()
        self._pts = 0

    def encode(self, block: np.ndarray | None) -> list[av.Packet]:
        """The packets for ``block`` (None: what the encoder still holds, at the end)."""
        if block is None:
            return list(self.codec.encode(None))
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(block, "<i2").reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate, frame.time_base, frame.pts = SAMPLE_RATE_HZ, Fraction(
            1, SAMPLE_RATE_HZ), self._pts
        self._pts += len(block)
        return list(self.codec.encode(frame))


class OpusTrack:
    """Opus in Ogg, one page (or a few) per block; the last page is marked end of stream."""

    def __init__(self, out: Output, bitrate_kbps: int) -> None:
        self._out = out
        self._enc = _Encoded("libopus", {"application": "voip"}, bitrate_kbps)
        head = bytes(self._enc.codec.extradata or b"")  # OpusHead, with the pre-skip
        self._pre_skip = struct.unpack_from("<H", head, 10)[0] * SAMPLE_RATE_HZ // \
            OPUS_GRANULE_HZ
        self._serial = int.from_bytes(os.urandom(4), "little")
        self._sequence = 0
        vendor = b"callmonitor"
        tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
        self._page([head], 0, flags=2)  # beginning of stream
        self._page([tags], 0)
        self.kept_samples = 0

    def write(self, block: np.ndarray) -> None:
        self._pages(self._enc.encode(block), last=False)

    def finish(self) -> None:
        self._pages(self._enc.encode(None), last=True)

    def _pages(self, packets: list[av.Packet], last: bool) -> None:
        """Pages of whole packets; the granule is where the last packet ends, so a page
        ending the stream trims the encoder's padding."""
        chunk: list[bytes] = []
        end = self.kept_samples
        for i, packet in enumerate(packets):
            data = bytes(packet)
            if sum(map(_segments, chunk)) + _segments(data) > _OGG_MAX_SEGMENTS:
                self._page(chunk, self._granule(end))
                chunk = []
            chunk.append(data)
            end = _packet_end(packet)
            if i == len(packets) - 1:
                self._page(chunk, self._granule(end), flags=4 if last else 0)
        if last and not packets:
            self._page([], self._granule(end), flags=4)
        self.kept_samples = end

    def _granule(self, end: int) -> int:
        return (end + self._pre_skip) * OPUS_GRANULE_HZ // SAMPLE_RATE_HZ

    def _page(self, packets: list[bytes], granule: int, flags: int = 0) -> None:
        self._out.append(ogg_page(packets, granule, self._serial, self._sequence, flags))
        self._sequence += 1


class FlacTrack:
    """FLAC frames of ``FLAC_FRAME_SAMPLES``; STREAMINFO gets its sample count and MD5 at
    close (a file cut before that says "length unknown", which decoders accept)."""

    _STREAMINFO_AT = 8  # after "fLaC" and the metadata block's header

    def __init__(self, out: Output, bitrate_kbps: int) -> None:
        self._out = out
        self._enc = _Encoded("flac", {"frame_size": str(FLAC_FRAME_SAMPLES)}, None)
        info = bytes(self._enc.codec.extradata or b"")[:34]
        out.append(b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info)
        self.kept_samples = 0

    def write(self, block: np.ndarray) -> None:
        self._frames(self._enc.encode(block))

    def finish(self) -> None:
        self._frames(self._enc.encode(None))
        info = bytes(self._enc.codec.extradata or b"")[:34]  # now with samples and MD5
        self._out.pwrite(info, self._STREAMINFO_AT)

    def _frames(self, packets: list[av.Packet]) -> None:
        if packets:
            self._out.append(b"".join(bytes(p) for p in packets))
            self.kept_samples = _packet_end(packets[-1])


TRACKS: dict[AudioFormat, type[WavTrack] | type[OpusTrack] | type[FlacTrack]] = {
    "wav": WavTrack, "opus": OpusTrack, "flac": FlacTrack}


__all__ = ["MIMETYPE", "SUFFIX", "TRACKS", "AudioFormat", "Output", "Track", "ogg_crc",
           "ogg_page", "wav_header"]
