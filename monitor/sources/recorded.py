"""What every recorded call shares, whatever its file format: which channel is whose, the
resampling to 16 kHz and the cutting into 20 ms frames.

A format's reader (``wavfile.py`` walks RIFF chunks itself, ``decoded.py`` asks PyAV) only
yields blocks of float samples at the file's own rate; everything after that is here, once, so
a call recorded as WAV and the same call recorded as FLAC become the same frames.
"""

from __future__ import annotations

import stat
from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, Protocol, get_args

import numpy as np
import soxr

from monitor.errors import CallmonitorError
from monitor.frames import (
    CHANNELS,
    FRAME_BYTES,
    FRAME_S,
    FRAME_SAMPLES,
    SAMPLE_RATE_HZ,
    Channel,
    Frame,
)
from monitor.pcm import PCM_DTYPE, float_to_int16, int16_to_float
from monitor.sources.base import Source

ChannelLayout = Literal["agent-left", "agent-right", "mixed", "agent-only"]
"""How a recorder put the two sides into the file (``--channels``, ``[audio] channels``)."""
CHANNEL_LAYOUTS: tuple[ChannelLayout, ...] = get_args(ChannelLayout)

MIN_RATE_HZ = 8000
MAX_RATE_HZ = 48000


def error(path: Path, problem: str, fix: str) -> CallmonitorError:
    """The one line a bad recording gives: the file, what is wrong, and what to do."""
    return CallmonitorError(f"{path}: {problem}", fix)


def unreadable(path: Path, exc: OSError) -> CallmonitorError:
    """A file the system would not let us read (permissions, a name too long, a disk error)."""
    return error(path, f"cannot be read ({exc.strerror})",
                 "check the file's permissions, its folders' and the disk")


def regular_file_size(path: Path) -> int:
    """The file's size, once it is known to be a non-empty regular file. A path that cannot be
    looked at (a folder without search permission, a name too long) raises ``OSError``."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise error(path, "file not found", "check the path of the recording") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(path, "not a regular file",
                    "give the path of a recording (WAV, FLAC, OGG, MP3)")
    if st.st_size == 0:
        raise error(path, "file is empty (0 bytes)",
                    "the recording did not get written; record or copy it again")
    return st.st_size


def check_shape(path: Path, channels: int, rate: int, mix_down: str, resample: str) -> None:
    """Refuse more channels than the layouts map (two) and rates outside the telephone-to-studio
    range; ``mix_down`` and ``resample`` are the command lines that fix each. (No channel at all
    each reader words itself: it is a damaged header.)"""
    if channels > 2:
        raise error(path, f"{channels} channels, at most 2 are supported",
                    f"mix down to stereo (agent left, customer right), e.g. with {mix_down}")
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise error(path, f"sample rate {rate} Hz is not supported "
                          f"({MIN_RATE_HZ} to {MAX_RATE_HZ} Hz are)",
                    f"resample it: {resample}")


class Resampler:
    """One channel to 16 kHz, streamed so block boundaries leave no clicks or gaps."""

    def __init__(self, rate: int) -> None:
        self._stream = (None if rate == SAMPLE_RATE_HZ else
                        soxr.ResampleStream(rate, SAMPLE_RATE_HZ, 1, dtype="float32",
                                            quality="HQ"))

    def push(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        if self._stream is None:
            return x
        return self._stream.resample_chunk(np.ascontiguousarray(x), last=last)


def layout_columns(path: Path, file_channels: int, agent_side: Literal["left", "right"],
                   swap_channels: bool, layout: ChannelLayout | None) -> tuple[int, ...] | None:
    """The file's columns for each output channel (agent first), or None for a mixed call
    (every column averaged into one).

    ``layout`` None is the configured ``agent_side``: ``agent-left`` unless set otherwise.
    ``swap_channels`` flips the side of a stereo layout. A mono file is the agent alone under
    either stereo layout (as it always was); ``agent-only`` is for mono files only, since which
    side of a stereo file is the agent is what ``agent-left``/``agent-right`` say.
    """
    if agent_side not in ("left", "right"):
        raise CallmonitorError(f"agent side {agent_side!r} is not left or right",
                               "set audio.agent_side to \"left\" or \"right\"")
    layout = layout or ("agent-left" if agent_side == "left" else "agent-right")
    if layout not in CHANNEL_LAYOUTS:
        raise CallmonitorError(f"channel layout {layout!r} is not one of "
                               f"{', '.join(CHANNEL_LAYOUTS)}",
                               "give --channels (or audio.channels) one of those")
    if layout == "mixed":
        if swap_channels:
            raise CallmonitorError("--swap-channels with a mixed recording",
                                   "a mixed recording has no sides to swap; drop one of them")
        return None
    if file_channels == 1:
        return (0,)
    if layout == "agent-only":
        raise error(path, "a stereo recording given as agent-only",
                    "give --channels agent-left or agent-right (which side is the agent), "
                    "or mixed (both sides together)")
    agent_right = (layout == "agent-right") != swap_channels
    return (1, 0) if agent_right else (0, 1)


class FileShape(Protocol):
    """What a reader's header parse tells the frame maker."""

    @property
    def sample_rate_hz(self) -> int: ...

    @property
    def channels(self) -> int: ...


class RecordedSource(Source):
    """A recorded call, streamed: subclasses read blocks of float samples, this makes frames.

    ``mixed``: both sides were recorded into one channel (or the two are averaged into one),
    so the session has the ``agent`` channel only and the checks that need the sides apart
    are skipped (``Source.mixed``).
    """

    path: Path
    info: FileShape
    read_ahead_steps = 50  # the file is at hand: the session analyses a second at a time
    warnings: tuple[str, ...] = ()
    """What the file gets wrong that reading it works around (one line each, naming it)."""

    def _lay_out(self, block_s: float, agent_side: Literal["left", "right"],
                 swap_channels: bool, channels: ChannelLayout | None) -> None:
        """Once ``path`` and ``info`` are known: the block size, and which of the file's
        channels is whose (``layout_columns``)."""
        self._block_samples = max(1, int(block_s * self.info.sample_rate_hz))
        columns = layout_columns(self.path, self.info.channels, agent_side, swap_channels,
                                 channels)
        self._columns = columns
        self.mixed = columns is None
        self.channels: tuple[Channel, ...] = CHANNELS if columns and len(columns) == 2 else (
            "agent",)

    @property
    def sample_rate_hz(self) -> int:
        """The file's own sample rate, which the blocks come at."""
        return self.info.sample_rate_hz

    @abstractmethod
    def _blocks(self) -> Iterator[np.ndarray]:
        """Float32 blocks in [-1, 1], or int16 ones where the file holds 16-bit samples, shape
        (n, the file's channels), read lazily."""

    def layout_name(self) -> str:
        """How the channels are read, for the timeline header: "stereo" is agent left."""
        if self._columns is None:
            return "mixed (both sides in one channel)"
        if len(self._columns) == 1:
            return "mono"
        return "stereo (agent right)" if self._columns[0] == 1 else "stereo"

    def _pcm16k(self) -> Iterator[list[np.ndarray]]:
        """int16 16 kHz blocks, one array per output channel (agent first)."""
        resamplers = [Resampler(self.sample_rate_hz) for _ in self.channels]
        as_is = self.sample_rate_hz == SAMPLE_RATE_HZ and self._columns is not None
        for block in self._blocks():
            if block.dtype == PCM_DTYPE:
                if as_is and self._columns is not None:  # already the frames' samples
                    yield [block[:, c] for c in self._columns]
                    continue
                block = int16_to_float(block)  # float_to_int16 gives these samples back
            cols = ([block.mean(axis=1, dtype=np.float32)] if self._columns is None
                    else [block[:, c] for c in self._columns])
            yield [float_to_int16(r.push(x)) for r, x in zip(resamplers, cols, strict=True)]
        empty = np.zeros(0, np.float32)
        yield [float_to_int16(r.push(empty, last=True)) for r in resamplers]

    def frames(self) -> Iterator[tuple[Frame, ...]]:
        pending = [np.zeros(0, "<i2") for _ in self.channels]
        i = 0
        for chunk in self._pcm16k():
            pending = [np.concatenate((p, c)) for p, c in zip(pending, chunk, strict=True)]
            n = min(len(p) for p in pending) // FRAME_SAMPLES
            yield from self._steps(i, [p[:n * FRAME_SAMPLES] for p in pending])
            i += n
            pending = [p[n * FRAME_SAMPLES:] for p in pending]
        if max(len(p) for p in pending) > 0:
            yield from self._steps(i, [np.pad(p, (0, FRAME_SAMPLES - len(p))) for p in pending])

    def _steps(self, i: int, pcm: list[np.ndarray]) -> Iterator[tuple[Frame, ...]]:
        """The steps of whole frames of ``pcm`` (one array per channel), the first at step
        ``i``: each channel's bytes are taken once and cut, cheaper than a numpy slice and
        its bytes per frame; a channel's frames are made in one go and zipped into steps."""
        n = len(pcm[0]) // FRAME_SAMPLES
        per_channel = [[Frame(ch, (i + k) * FRAME_S, b[k * FRAME_BYTES:(k + 1) * FRAME_BYTES])
                        for k in range(n)]
                       for ch, b in zip(self.channels, (p.tobytes() for p in pcm), strict=True)]
        yield from zip(*per_channel, strict=True)


__all__ = ["CHANNEL_LAYOUTS", "MAX_RATE_HZ", "MIN_RATE_HZ", "ChannelLayout", "RecordedSource",
           "Resampler", "check_shape", "error", "layout_columns", "regular_file_size", "unreadable"]
