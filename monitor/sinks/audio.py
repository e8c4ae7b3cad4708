"""The call's audio kept as a WAV file (``--keep-audio``), so a supervisor can replay it in review.

16 kHz 16-bit stereo, left = agent and right = customer (silence for a side the source does
not have), aligned to the session's audio clock: second N of the file is audio time N, and a
gap in the frames' times (none is expected, but a source may skip) is filled with silence.

It sits on the audio path, so it stays cheap: frames are only collected, and every
``flush_s`` of audio they are written in one ``pwrite``. The header's RIFF and data sizes are
patched after each write, so a session that ends any way at all (Ctrl-C, a crash, kill -9)
leaves a playable WAV of everything up to the last flush. A write that fails mid-call does not
end the session: the file keeps what was written, keeping stops, and ``error`` says why.
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from monitor.errors import CallmonitorError
from monitor.frames import FRAME_BYTES, FRAME_S, FRAME_SAMPLES, SAMPLE_RATE_HZ, Frame

CHANNELS = 2
SAMPLE_BYTES = 2
BLOCK_ALIGN = CHANNELS * SAMPLE_BYTES
BYTES_PER_S = SAMPLE_RATE_HZ * BLOCK_ALIGN
HEADER_BYTES = 44
"""RIFF/WAVE header of plain PCM: RIFF, the 16-byte ``fmt `` chunk, the ``data`` chunk's head."""
_RIFF_SIZE_AT = 4
_DATA_SIZE_AT = 40
MAX_DATA_BYTES = 0xFFFFFFFF - (HEADER_BYTES - 8)
"""A RIFF size is 32 bits: about 18.6 hours of this audio."""

FLUSH_S = 0.5
"""Audio collected before a write: a few syscalls a second, and at most this much lost."""
MIN_FREE_S = 60.0
"""Room the disk must have at open time, in seconds of audio (a disk that is nearly full
would fail within the first minute)."""

_SIDE = {"agent": 0, "customer": 1}
_SILENCE = bytes(FRAME_BYTES)


def wav_header(data_bytes: int) -> bytes:
    """The 44-byte header of 16 kHz 16-bit stereo PCM holding ``data_bytes`` of samples."""
    return (b"RIFF" + struct.pack("<I", HEADER_BYTES - 8 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, CHANNELS, SAMPLE_RATE_HZ, BYTES_PER_S,
                                    BLOCK_ALIGN, 8 * SAMPLE_BYTES)
            + b"data" + struct.pack("<I", data_bytes))


def _fix_for(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free some disk space, or keep the audio on another disk (--keep-audio)"
    return ("choose a writable directory for the kept audio (--keep-audio), "
            "or fix its permissions")


class AudioKeeper:
    """A sink for the call's audio: ``frames`` takes every step's frames (the pipeline hands
    them over before it analyses them), ``write`` ignores records, ``close`` finalises.

    The file is created (with its directory) here, so a path that cannot be written fails
    before the session starts: ``CallmonitorError`` naming the file and the fix.
    """

    def __init__(self, path: Path | str, flush_s: float = FLUSH_S) -> None:
        self.path = Path(path)
        self.error: CallmonitorError | None = None
        """Why keeping stopped mid-call (the file holds the audio up to ``kept_s``)."""
        self._flush_steps = max(1, round(flush_s / FRAME_S))
        self._left: list[bytes] = []
        self._right: list[bytes] = []
        self._next_step = 0  # the step (index of FRAME_S) the file expects next
        self._written = 0  # data bytes in the file, all covered by its header
        self._fd: int | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            self._pwrite(wav_header(0), 0)
            stat = os.fstatvfs(self._fd)
            free = stat.f_bavail * stat.f_frsize
            if self.path.is_file() and free < MIN_FREE_S * BYTES_PER_S:
                self.path.unlink()
                raise OSError(errno.ENOSPC, f"the disk is nearly full, {free / 1e6:.1f} MB free")
        except OSError as exc:
            self._close_fd()
            raise CallmonitorError(f"{self.path}: cannot keep the call's audio here "
                                   f"({exc.strerror or exc})", _fix_for(exc)) from None

    @property
    def kept_s(self) -> float:
        """Audio time the file holds, as its header says (what a player would play)."""
        return self._written / BYTES_PER_S

    def frames(self, frames: tuple[Frame, ...]) -> None:
        if self._fd is None:
            return
        step = round(frames[0].t / FRAME_S)
        if step < self._next_step:
            return  # a step already kept: the file's clock never runs backwards
        while self._next_step < step:  # a gap in the source's clock: silence keeps alignment
            self._left.append(_SILENCE)
            self._right.append(_SILENCE)
            self._next_step += 1
        left = right = _SILENCE
        for frame in frames:
            pcm = frame.pcm if len(frame.pcm) == FRAME_BYTES else (
                frame.pcm[:FRAME_BYTES].ljust(FRAME_BYTES, b"\0"))
            if _SIDE[frame.channel]:
                right = pcm
            else:
                left = pcm
        self._left.append(left)
        self._right.append(right)
        self._next_step += 1
        if len(self._left) >= self._flush_steps:
            self._flush()

    def write(self, record: dict[str, Any]) -> None:
        pass

    def close(self, status: str) -> None:
        """Write what is buffered and close the file: a complete WAV, whatever ``status``."""
        if self._fd is not None:
            self._flush()
        self._close_fd()

    def _flush(self) -> None:
        """Write the buffered steps, then the sizes that cover them: the header never claims
        more than the file holds, so the file is a valid WAV between any two system calls.

        Offsets are explicit (``pwrite``), so a flush interrupted before it took effect is
        simply done again by the next one.
        """
        fd = self._fd
        if fd is None or not self._left:
            return
        n = len(self._left) * FRAME_SAMPLES
        stereo = np.empty((n, CHANNELS), "<i2")
        stereo[:, 0] = np.frombuffer(b"".join(self._left), "<i2")
        stereo[:, 1] = np.frombuffer(b"".join(self._right), "<i2")
        data = stereo.tobytes()
        written = self._written + len(data)
        try:
            if written > MAX_DATA_BYTES:
                raise OSError(errno.EFBIG, "the call is longer than a WAV file can hold")
            self._pwrite(data, HEADER_BYTES + self._written)
            self._pwrite(struct.pack("<I", HEADER_BYTES - 8 + written), _RIFF_SIZE_AT)
            self._pwrite(struct.pack("<I", written), _DATA_SIZE_AT)
        except OSError as exc:
            self.error = CallmonitorError(
                f"{self.path}: audio kept only up to {self.kept_s:.1f} s "
                f"({exc.strerror or exc})", _fix_for(exc))
            # Drop what a short write left past the header's sizes (and free its space); if
            # that fails too, the header still says where the audio ends.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, HEADER_BYTES + self._written)
            self._close_fd()
            return
        self._written = written
        self._left, self._right = [], []

    def _pwrite(self, data: bytes, offset: int) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:  # a short write (a disk filling up) writes the rest or raises ENOSPC
            done = os.pwrite(self._fd, view, offset)
            view, offset = view[done:], offset + done

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError as exc:  # a network file system reports a failed write late
                if self.error is None:
                    self.error = CallmonitorError(f"{self.path}: the kept audio may be "
                                                  f"incomplete ({exc.strerror or exc})",
                                                  _fix_for(exc))


__all__ = ["AudioKeeper", "wav_header"]
