"""A ``callmonitor tap`` server in this process, on free loopback ports, for the tests and
``scripts/bench_tap.py``: the same ``Tap`` the command runs, with its store in a file."""

from __future__ import annotations

import threading
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from monitor.asr.base import Recognizer
from monitor.config import Config
from monitor.storage.database import open_database
from monitor.storage.sessions import SessionInfo, list_sessions, session_records
from monitor.tap.calls import TapContext
from monitor.tap.server import Listener
from monitor.tap.service import Tap


@dataclass
class RunningTap:
    tap: Tap
    db: str
    agent_port: int
    customer_port: int
    websocket_port: int

    def sessions(self) -> list[tuple[SessionInfo, list[dict[str, Any]]]]:
        """Every stored session, oldest first, with its records."""
        infos = sorted(list_sessions(self.db, 10_000), key=lambda s: s.id)
        return [(info, list(session_records(self.db, info.id))) for info in infos]


@contextmanager
def running_tap(cfg: Config, db: str | Path, recognizer: Recognizer | None = None
                ) -> Iterator[RunningTap]:
    """A tap listening for both sides' AudioSocket legs and for WebSocket forks until the
    block ends (then stopped: calls still open end as interrupted)."""
    listening = [Listener("audiosocket", "agent", "127.0.0.1", 0),
                 Listener("audiosocket", "customer", "127.0.0.1", 0),
                 Listener("websocket", None, "127.0.0.1", 0)]
    open_database(db, create=True).close()  # as the command does before it listens
    tap = Tap(TapContext(cfg, recognizer, str(db)), listening)
    ready = threading.Event()
    thread = threading.Thread(target=tap.run, args=(ready.set,), name="tap-server")
    thread.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the tap server did not start listening")
        yield RunningTap(tap, str(db), *tap.server.ports)
    finally:
        tap.stop()
        thread.join(60)


def stereo_8k(wav: Path, out: Path, rate_hz: int = 8000) -> tuple[Path, np.ndarray]:
    """A 16-bit stereo WAV (a synthesised call) at 8 kHz (or ``rate_hz``), as a PBX carries
    it: the file for ``replay`` and its samples for the AudioSocket legs or a fork."""
    with wave.open(str(wav), "rb") as w:
        rate, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, channels)
    x = soxr.resample(pcm.astype(np.float32) / 32768.0, rate, rate_hz, quality="HQ")
    samples = (x * 32768.0).round().clip(-32768, 32767).astype("<i2")
    with wave.open(str(out), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(samples.tobytes())
    return out, samples
