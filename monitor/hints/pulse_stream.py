"""A PulseAudio playback stream that the server ends, instead of moving it, when its sink goes.

Why not sounddevice, as for every other device: when a sink disappears, PulseAudio (since 14,
stream rescue is in its core) moves each stream playing into it to the default sink, unless the
stream was connected with ``PA_STREAM_DONT_MOVE``; then the server kills the stream. For the
headset the default sink may be the call line, and a hint must never reach the customer. None of
the installed routes asks for that flag: Debian's PortAudio (19.6) has no PulseAudio host API,
the ALSA ``pulse`` plugin it goes through connects with AUTO_TIMING_UPDATE, INTERPOLATE_TIMING
and EARLY_REQUESTS only, and ``pa_simple`` fixes its own flags. The device watch polling
``pactl`` closes a moved stream only at its next look, and what played until then was heard on
the call line (tests/live/test_hint_path.py measured 52-185 ms in six runs). So ``pulse:``
headsets are played here, through libpulse's asynchronous API (libpulse0, installed with
pulseaudio-utils) via ctypes, with ``PA_STREAM_DONT_MOVE | PA_STREAM_ADJUST_LATENCY``.

The stream looks like a sounddevice output stream to the player: a callback filling
``outdata`` (frames x 1 float32), ``active``, ``abort`` and ``close``.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from monitor.errors import CallmonitorError

# pulse/def.h and pulse/sample.h, the stable libpulse ABI.
_PA_CONTEXT_NOAUTOSPAWN = 0x1
_PA_CONTEXT_READY, _PA_CONTEXT_FAILED, _PA_CONTEXT_TERMINATED = 4, 5, 6
_PA_STREAM_READY, _PA_STREAM_FAILED, _PA_STREAM_TERMINATED = 2, 3, 4
_PA_STREAM_DONT_MOVE = 0x0200
_PA_STREAM_ADJUST_LATENCY = 0x2000
_PA_SAMPLE_FLOAT32LE = 5
_PA_SEEK_RELATIVE = 0
_UNSET = 0xFFFFFFFF  # (uint32_t) -1: let the server choose
_BYTES_PER_FRAME = 4  # float32 mono
_CONNECT_TIMEOUT_S = 5.0  # a local server answers in milliseconds; this only stops a hang

_WRITE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)


class _SampleSpec(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("rate", ctypes.c_uint32), ("channels", ctypes.c_uint8)]


class _BufferAttr(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("maxlength", "tlength", "prebuf", "minreq",
                                                "fragsize")]


@functools.cache
def _libpulse() -> Any:
    """libpulse with the signatures used here (ctypes would otherwise truncate pointers)."""
    try:
        pa = ctypes.CDLL("libpulse.so.0")
    except OSError as exc:
        raise CallmonitorError(f"cannot load libpulse ({exc})",
                               "install the Debian package libpulse0") from None
    p, i, u32, size = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32, ctypes.c_size_t
    for name, restype, argtypes in (
            ("pa_threaded_mainloop_new", p, []), ("pa_threaded_mainloop_start", i, [p]),
            ("pa_threaded_mainloop_stop", None, [p]), ("pa_threaded_mainloop_free", None, [p]),
            ("pa_threaded_mainloop_lock", None, [p]), ("pa_threaded_mainloop_unlock", None, [p]),
            ("pa_threaded_mainloop_get_api", p, [p]),
            ("pa_context_new", p, [p, ctypes.c_char_p]),
            ("pa_context_connect", i, [p, ctypes.c_char_p, u32, p]),
            ("pa_context_get_state", i, [p]), ("pa_context_errno", i, [p]),
            ("pa_context_disconnect", None, [p]), ("pa_context_unref", None, [p]),
            ("pa_stream_new", p, [p, ctypes.c_char_p, ctypes.POINTER(_SampleSpec), p]),
            ("pa_stream_set_write_callback", None, [p, _WRITE_CB, p]),
            ("pa_stream_connect_playback", i,
             [p, ctypes.c_char_p, ctypes.POINTER(_BufferAttr), u32, p, p]),
            ("pa_stream_get_state", i, [p]),
            ("pa_stream_write", i, [p, p, size, p, ctypes.c_int64, i]),
            ("pa_stream_disconnect", i, [p]), ("pa_stream_unref", None, [p]),
            ("pa_strerror", ctypes.c_char_p, [i])):
        getattr(pa, name).restype = restype
        getattr(pa, name).argtypes = argtypes
    return pa


class PulsePlayback:
    """A started mono float32 playback stream on PulseAudio sink ``sink`` that is never moved.

    ``callback(outdata, frames, time, status)`` fills each block the server asks for, on
    libpulse's thread, as sounddevice's output callback does (``time`` and ``status`` are None).
    ``latency_s`` is the buffer the server keeps filled ahead of the sink.
    """

    def __init__(self, sink: str, rate_hz: int, latency_s: float,
                 callback: Callable[[np.ndarray, int, Any, Any], None]) -> None:
        self._pa = _libpulse()
        self._callback = callback
        self._on_write = _WRITE_CB(self._write)  # kept here: libpulse holds only the pointer
        self._context: int | None = None
        self._stream: int | None = None
        self._loop = self._pa.pa_threaded_mainloop_new()
        try:
            self._connect_context()
            self._connect_stream(sink, rate_hz, latency_s)
        except CallmonitorError:
            self.close()
            raise

    @property
    def active(self) -> bool:
        """False once the stream has ended: closed here, or killed by the server because its
        sink went away (which it does instead of moving the stream)."""
        if self._stream is None:
            return False
        with self._locked():
            return bool(self._pa.pa_stream_get_state(self._stream) == _PA_STREAM_READY)

    def abort(self) -> None:
        """Disconnect at once; what is buffered is dropped, not played."""
        stream, self._stream = self._stream, None
        if stream is not None:
            with self._locked():
                self._pa.pa_stream_disconnect(stream)
                self._pa.pa_stream_unref(stream)

    def close(self) -> None:
        """Abort the stream, leave the server, end libpulse's thread."""
        self.abort()
        context, self._context = self._context, None
        if context is not None:
            with self._locked():
                self._pa.pa_context_disconnect(context)
                self._pa.pa_context_unref(context)
        loop, self._loop = self._loop, None
        if loop is not None:
            self._pa.pa_threaded_mainloop_stop(loop)
            self._pa.pa_threaded_mainloop_free(loop)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._pa.pa_threaded_mainloop_lock(self._loop)
        try:
            yield
        finally:
            self._pa.pa_threaded_mainloop_unlock(self._loop)

    def _connect_context(self) -> None:
        """Connect to the server the environment names (PULSE_SERVER, else the user's)."""
        pa = self._pa
        self._context = pa.pa_context_new(pa.pa_threaded_mainloop_get_api(self._loop),
                                          b"callmonitor")
        if pa.pa_context_connect(self._context, None, _PA_CONTEXT_NOAUTOSPAWN, None) < 0 \
                or pa.pa_threaded_mainloop_start(self._loop) < 0:
            raise self._error("cannot connect to PulseAudio")
        self._wait(lambda: pa.pa_context_get_state(self._context), _PA_CONTEXT_READY,
                   (_PA_CONTEXT_FAILED, _PA_CONTEXT_TERMINATED), "cannot connect to PulseAudio")

    def _connect_stream(self, sink: str, rate_hz: int, latency_s: float) -> None:
        pa = self._pa
        spec = _SampleSpec(_PA_SAMPLE_FLOAT32LE, rate_hz, 1)
        target = round(latency_s * rate_hz) * _BYTES_PER_FRAME
        attr = _BufferAttr(_UNSET, target, _UNSET, _UNSET, _UNSET)
        problem = f"cannot open output device 'pulse:{sink}'"
        with self._locked():
            self._stream = pa.pa_stream_new(self._context, b"callmonitor hint", spec, None)
            failed = not self._stream
            if not failed:
                pa.pa_stream_set_write_callback(self._stream, self._on_write, None)
                failed = pa.pa_stream_connect_playback(
                    self._stream, sink.encode(), attr,
                    _PA_STREAM_DONT_MOVE | _PA_STREAM_ADJUST_LATENCY, None, None) < 0
        if failed:
            raise self._error(problem)
        self._wait(lambda: pa.pa_stream_get_state(self._stream), _PA_STREAM_READY,
                   (_PA_STREAM_FAILED, _PA_STREAM_TERMINATED), problem)

    def _wait(self, state: Callable[[], int], ready: int, ended: tuple[int, ...],
              problem: str) -> None:
        """Until ``state()`` is ``ready``; an error if it ends or the server does not answer."""
        deadline = time.monotonic() + _CONNECT_TIMEOUT_S
        while True:
            with self._locked():
                now = state()
            if now == ready:
                return
            if now in ended or time.monotonic() > deadline:
                raise self._error(problem)
            time.sleep(0.002)

    def _error(self, problem: str) -> CallmonitorError:
        reason = "no answer"
        if self._context:
            with self._locked():
                reason = self._pa.pa_strerror(self._pa.pa_context_errno(self._context)).decode()
        return CallmonitorError(f"{problem} ({reason})", "pick one from `callmonitor devices`")

    def _write(self, stream: int, nbytes: int, _userdata: Any) -> None:
        """libpulse asks for ``nbytes`` more (its lock is held): the callback's block."""
        frames = nbytes // _BYTES_PER_FRAME
        outdata = np.zeros((frames, 1), dtype=np.float32)
        self._callback(outdata, frames, None, None)
        self._pa.pa_stream_write(stream, outdata.ctypes.data, frames * _BYTES_PER_FRAME, None, 0,
                                 _PA_SEEK_RELATIVE)
