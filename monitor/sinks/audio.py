"""The call's audio kept for review (``--keep-audio``): Opus in Ogg by default, or FLAC or PCM
WAV (``[store] audio_format``; ``monitor.sinks.audio_formats`` lays each out on disk).

16 kHz stereo, left = agent and right = customer (silence for a side the source does not
have), aligned to the session's audio clock: second N of the file is audio time N, and a gap
in the frames' times (none is expected, but a source may skip) is filled with silence.

It sits on the audio path, so that path only collects frames: every ``flush_s`` of audio the
collected block goes to the keeper's own writer thread, which encodes it and writes it, so
encoding never holds up the analysis (nor, live, the capture it must keep up with). After each
write the file is complete and playable (WAV sizes patched, whole Ogg pages, whole FLAC
frames), so a session that ends any way at all (Ctrl-C, a crash, kill -9) leaves a playable
file of everything up to the last write; ``kept_s`` says how far that is. A write that fails
mid-call does not end the session: the file keeps what was written, keeping stops, and
``error`` says why. Files are created 0640 (a folder made for them 0750): recordings of calls
are not for every local user.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import stat as stat_mod
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from monitor.errors import CallmonitorError
from monitor.frames import FRAME_BYTES, FRAME_S, FRAME_SAMPLES, SAMPLE_RATE_HZ, Frame
from monitor.sinks.audio_formats import (
    BYTES_PER_S,
    CHANNELS,
    SUFFIX,
    TRACKS,
    AudioFormat,
    Output,
    Track,
)

FLUSH_S = 0.5
"""Audio collected before a write: a few syscalls a second, and at most this much lost. A
multiple of 100 ms, so FLAC writes whole frames."""
MIN_FREE_S = 60.0
"""Room the disk must have at open time, in seconds of PCM audio (a disk that is nearly full
would fail within the first minute; compressed audio needs less, so this errs on the safe
side)."""
FILE_MODE = 0o640
DIR_MODE = 0o750
"""A folder the keeper makes: its listing (who called when) is not for every local user."""

_SIDE = {"agent": 0, "customer": 1}
_SILENCE = bytes(FRAME_BYTES)


def kept_audio_name(session_id: int, audio_format: AudioFormat) -> str:
    """The kept file's name in the audio folder: ``session-N`` and the format's suffix."""
    return f"session-{session_id}{SUFFIX[audio_format]}"


def _fix_for(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free some disk space, or keep the audio on another disk (--keep-audio)"
    return ("choose a writable directory for the kept audio (--keep-audio), "
            "or fix its permissions")


class AudioKeeper:
    """A sink for the call's audio: ``frames`` takes every step's frames (the pipeline hands
    them over before it analyses them), ``write`` ignores records, ``close`` writes what is
    left, finalises the file and waits for the writer thread.

    The file is created (with its directory, 0640) and its head written here, so a path that
    cannot be written fails before the session starts: ``CallmonitorError`` naming the file
    and the fix. ``audio_format`` defaults to WAV for callers that name a ``.wav`` path.
    """

    def __init__(self, path: Path | str, audio_format: AudioFormat = "wav",
                 bitrate_kbps: int = 24, flush_s: float = FLUSH_S) -> None:
        self.path = Path(path)
        self.error: CallmonitorError | None = None
        """Why keeping stopped mid-call (the file holds the audio up to ``kept_s``)."""
        self._flush_steps = max(1, round(flush_s / FRAME_S))
        self._left: list[bytes] = []
        self._right: list[bytes] = []
        self._next_step = 0  # the step (index of FRAME_S) the file expects next
        self._blocks: queue.SimpleQueue[np.ndarray | None] = queue.SimpleQueue()
        self._out: Output | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            self._out = Output(fd)
            if stat_mod.S_ISREG(os.fstat(fd).st_mode):  # an old file keeps its mode
                os.fchmod(fd, FILE_MODE)
            self._track: Track = TRACKS[audio_format](self._out, bitrate_kbps)
            stat = os.fstatvfs(fd)
            free = stat.f_bavail * stat.f_frsize
            if self.path.is_file() and free < MIN_FREE_S * BYTES_PER_S:
                self.path.unlink()
                raise OSError(errno.ENOSPC, f"the disk is nearly full, {free / 1e6:.1f} MB free")
        except OSError as exc:
            self._close_fd()
            raise CallmonitorError(f"{self.path}: cannot keep the call's audio here "
                                   f"({exc.strerror or exc})", _fix_for(exc)) from None
        self._thread = threading.Thread(target=self._run, name="audio-keeper", daemon=True)
        self._thread.start()

    @property
    def kept_s(self) -> float:
        """Audio time the file holds as it stands on disk (what a player would play)."""
        return self._track.kept_samples / SAMPLE_RATE_HZ

    def frames(self, frames: tuple[Frame, ...]) -> None:
        if self._out is None:
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
            self._hand_over()

    def write(self, record: dict[str, Any]) -> None:
        pass

    def close(self, status: str) -> None:
        """Write what is collected and finish the file, whatever ``status``."""
        if self._out is None:
            return
        self._hand_over()
        self._blocks.put(None)
        self._thread.join()

    def _hand_over(self) -> None:
        """The collected steps, as one (n, 2) block, to the writer thread."""
        if not self._left:
            return
        stereo = np.empty((len(self._left) * FRAME_SAMPLES, CHANNELS), "<i2")
        stereo[:, 0] = np.frombuffer(b"".join(self._left), "<i2")
        stereo[:, 1] = np.frombuffer(b"".join(self._right), "<i2")
        self._left, self._right = [], []
        self._blocks.put(stereo)

    def _run(self) -> None:
        """The writer thread: each block encoded and written, until the end (None); after a
        failed write the rest is only drained."""
        while (block := self._blocks.get()) is not None:
            if self.error is None:
                self._write(self._track.write, block)
        if self.error is None:
            self._write(self._track.finish)
        self._close_fd()

    def _write(self, action: Callable[..., None], *args: Any) -> None:
        out = self._out
        assert out is not None
        try:
            action(*args)
        except OSError as exc:
            self.error = CallmonitorError(
                f"{self.path}: audio kept only up to {self.kept_s:.1f} s "
                f"({exc.strerror or exc})", _fix_for(exc))
            # Drop what a short write left past the complete content (and free its space);
            # if that fails too, the file still plays up to where it was complete.
            with contextlib.suppress(OSError):
                out.cut()

    def _close_fd(self) -> None:
        out, self._out = self._out, None
        if out is not None:
            try:
                os.close(out.fd)
            except OSError as exc:  # a network file system reports a failed write late
                if self.error is None:
                    self.error = CallmonitorError(f"{self.path}: the kept audio may be "
                                                  f"incomplete ({exc.strerror or exc})",
                                                  _fix_for(exc))


__all__ = ["FLUSH_S", "AudioKeeper", "kept_audio_name"]
