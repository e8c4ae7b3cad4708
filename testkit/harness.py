"""The life cycle the tests' private servers share (PulseAudio, PostgreSQL, Chromium)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from typing import Self


class Harness:
    """A ``with`` block runs ``start`` and always ``stop``: a start that fails half-way still
    stops whatever it had started, so no process outlives the test session."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def end_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 3.0) -> None:
    """Ask a child to stop with ``sig``; kill it if it has not within ``timeout`` seconds."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
