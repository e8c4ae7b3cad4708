"""Audio devices by a name a person can type: PortAudio's, and PulseAudio's where it runs.

A service desk PC runs PulseAudio or PipeWire, and the device that carries the customer is the
*monitor source* of the softphone's output, which PortAudio's ALSA host API does not list.
So device names come in two kinds:

* ``pulse:NAME`` is a PulseAudio (or PipeWire-pulse) source or sink, as ``pactl list short
  sources|sinks`` names it (``pulse:softphone.monitor``). It is opened through the ALSA
  ``pulse`` plugin, which reads PULSE_SOURCE / PULSE_SINK when a stream opens, so each stream
  gets its own device. PulseAudio moves a stream whose device disappears to the default
  device instead of ending it; ``DeviceWatch`` lets the live source notice that and stop
  using the wrong device. The headset, which could be moved onto the call line, is not
  opened here but through a stream PulseAudio may not move (monitor/hints/pulse_stream.py).
* anything else is a PortAudio device: its index, or a part of its name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from monitor.errors import CallmonitorError

PULSE_PREFIX = "pulse:"
Direction = Literal["input", "output"]
_ENV_LOCK = threading.Lock()  # PULSE_SOURCE/PULSE_SINK are process-wide while a stream opens


@dataclass(frozen=True, slots=True)
class Device:
    """One device as ``callmonitor devices`` lists it."""

    name: str  # what to pass to --agent-device and the like
    kind: str  # "portaudio" or "pulse"
    inputs: int
    outputs: int
    rate_hz: float | None
    description: str


def list_devices() -> list[Device]:
    """PortAudio's devices, then PulseAudio's sources and sinks when a server answers."""
    import sounddevice as sd

    found = [Device(d["name"], "portaudio", d["max_input_channels"], d["max_output_channels"],
                    d["default_samplerate"], sd.query_hostapis(d["hostapi"])["name"])
             for d in sd.query_devices()]
    for kind, inputs in (("sources", 1), ("sinks", 0)):
        for item in _pactl_list(kind) or []:
            found.append(Device(PULSE_PREFIX + item["name"], "pulse", item["channels"] * inputs,
                                item["channels"] * (1 - inputs), float(item["rate"]),
                                item["description"]))
    return found


class DeviceWatch:
    """Which ``pulse:`` devices exist, asked of PulseAudio every ``interval_s`` on a thread of
    its own, so the audio path never waits for ``pactl``.

    ``present`` answers from the last look: None when it cannot tell (a PortAudio device, or
    no answer from PulseAudio), in which case a vanished device shows only as audio that stops
    coming.
    """

    def __init__(self, names: list[str], interval_s: float) -> None:
        self._watched = any(n.startswith(PULSE_PREFIX) for n in names)
        self.interval_s = interval_s
        """Seconds between two looks."""
        self._names = _pulse_names() if self._watched else None
        self._stop = threading.Event()
        if self._watched:
            threading.Thread(target=self._run, name="device-watch", daemon=True).start()

    def present(self, name: str) -> bool | None:
        names = self._names
        if not name.startswith(PULSE_PREFIX) or names is None:
            return None
        return name[len(PULSE_PREFIX):] in names

    def close(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._names = _pulse_names()


def _pulse_names() -> set[str] | None:
    """Every PulseAudio source and sink name, or None when PulseAudio does not answer."""
    sources, sinks = _pactl_list("sources"), _pactl_list("sinks")
    if sources is None or sinks is None:
        return None
    return {item["name"] for item in sources + sinks}


def open_stream(name: str, direction: Direction, rate_hz: int, channels: int, blocksize: int,
                callback: Callable[..., None], latency: float | str = "low") -> Any:
    """A started sounddevice stream on device ``name``; a clear error when it cannot open."""
    import sounddevice as sd

    cls = sd.InputStream if direction == "input" else sd.OutputStream
    device: int | str = name
    env_key = "PULSE_SOURCE" if direction == "input" else "PULSE_SINK"
    pulse_name = name[len(PULSE_PREFIX):] if name.startswith(PULSE_PREFIX) else None
    if pulse_name is not None:
        device = "pulse"
    elif name.isdigit():
        device = int(name)
    with _ENV_LOCK:
        saved = os.environ.get(env_key)
        if pulse_name is not None:
            os.environ[env_key] = pulse_name
        try:
            stream = cls(device=device, samplerate=rate_hz, channels=channels, dtype="float32",
                         blocksize=blocksize, latency=latency, callback=callback)
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise CallmonitorError(f"cannot open {direction} device {name!r} ({exc})",
                                   "pick one from `callmonitor devices`") from None
        finally:
            if saved is None:
                os.environ.pop(env_key, None)
            else:
                os.environ[env_key] = saved
    return stream


def close_stream(stream: Any) -> None:
    """Stop and close a stream; one whose device vanished may fail to: it is gone anyway."""
    with contextlib.suppress(Exception):
        stream.abort()
        stream.close()


def _pactl_list(kind: str) -> list[dict[str, Any]] | None:
    """``pactl --format=json list KIND`` reduced to name, description, rate and channels;
    None when there is no pactl or no server."""
    if shutil.which("pactl") is None:
        return None
    try:
        done = subprocess.run(["pactl", "--format=json", "list", kind], capture_output=True,
                              text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    try:
        items = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        return None
    return [{"name": i["name"], "description": i.get("description", ""),
             "rate": _spec_rate(i.get("sample_specification", "")),
             "channels": _spec_channels(i.get("sample_specification", ""))} for i in items]


def _spec_rate(spec: str) -> int:
    """``s16le 2ch 48000Hz`` -> 48000."""
    return next((int(p[:-2]) for p in spec.split() if p.endswith("Hz") and p[:-2].isdigit()), 0)


def _spec_channels(spec: str) -> int:
    """``s16le 2ch 48000Hz`` -> 2."""
    return next((int(p[:-2]) for p in spec.split() if p.endswith("ch") and p[:-2].isdigit()), 0)
