"""A private, real PulseAudio server for tests of live audio: null sinks stand in for devices.

    with PulseServer() as pulse:
        agent_mic = pulse.add_sink("call_agent")         # returns "call_agent.monitor"
        pulse.add_sink("headset")
        pulse.activate()                                 # this process's sounddevice uses it
        device = pulse.route(source=agent_mic)           # -> "pulse", reads call_agent.monitor
        with pulse.record("headset.monitor", out_wav):   # parecord, stopped on exit
            ...
        pulse.play(wav, "call_agent")                    # paplay into the "microphone"

How it is wired, and why:

* The daemon runs as the calling user, root included (`pulseaudio` only warns that it "is not
  intended to be run as root" without ``--system``), with ``-n`` (no default.pa, so no hardware
  or D-Bus modules), its own runtime and state directories in a temporary folder, a unix socket
  there, anonymous auth, ``--exit-idle-time=-1`` and no realtime scheduling. It gets
  PR_SET_PDEATHSIG, so it dies with the process that started it even when that one is killed.
* Clients find it through ``PULSE_SERVER=unix:<socket>``; ``PULSE_COOKIE`` keeps libpulse from
  writing a cookie into ~/.config/pulse, and ``PULSE_CLIENTCONFIG`` turns autospawn off, so no
  client ever starts a stray daemon.
* Debian 12's PortAudio (19.6) has no PulseAudio host API: sounddevice shows only ALSA devices,
  and reaches PulseAudio through the ALSA ``pulse`` plugin (libasound2-plugins, a dependency of
  the pulseaudio package). Its devices are ``pulse`` and ``default`` (the latter is routed to
  PulseAudio only when a server answers while ALSA loads its configuration). Which sink or
  source the ``pulse`` device uses is read from ``PULSE_SINK``/``PULSE_SOURCE`` each time a
  stream is opened (:meth:`route`). :meth:`alsa_device` instead names one PulseAudio device
  as an ALSA pcm that sounddevice lists by that name.
* A null sink renders in blocks of its largest latency, 2 s, while nobody asks for less, and
  a stream that connects to it waits for the current block to end: the first callback of a
  new stream came 1-2 s late and that audio was lost. :meth:`add_sink` therefore keeps a
  10 ms recording stream (``parec``) on each monitor and suspends and resumes the sink once,
  so every sink keeps running in 10 ms blocks like a sound card.
* When a sink goes away, PulseAudio moves its streams to the default sink or source instead
  of ending them (stream rescue is in the core since PulseAudio 14): see test_pulse.py.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from pathlib import Path

from testkit.harness import Harness, end_process

CLIENT_ENV = ("PULSE_SERVER", "PULSE_COOKIE", "PULSE_CLIENTCONFIG", "PULSE_SINK", "PULSE_SOURCE",
              "XDG_CONFIG_HOME")
KEEPALIVE_MS = 10
_PR_SET_PDEATHSIG = 1


def available() -> bool:
    """True when the programs the harness runs are installed."""
    return all(shutil.which(p) for p in ("pulseaudio", "pactl", "paplay", "parecord", "parec"))


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class PulseError(RuntimeError):
    pass


class Recording:
    """A ``parecord`` of one source into a WAV file, ended by :meth:`stop` or the with block."""

    def __init__(self, proc: subprocess.Popen, path: Path) -> None:
        self.proc = proc
        self.path = path

    def stop(self) -> Path:
        # parecord closes the WAV properly (header with the final length) on SIGINT.
        end_process(self.proc, signal.SIGINT)
        return self.path

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PulseServer(Harness):
    """A private PulseAudio daemon; everything it starts is stopped by :meth:`stop`."""

    def __init__(self, rate: int = 48000, channels: int = 1) -> None:
        self.rate = rate
        self.channels = channels
        self.dir: Path | None = None
        self.socket: Path | None = None
        self.daemon: subprocess.Popen | None = None
        self._children: list[subprocess.Popen] = []
        self._keepalive: dict[str, subprocess.Popen] = {}
        self._saved_env: dict[str, str | None] | None = None
        self._alsa_pcms: dict[str, str] = {}
        self._finalizer: weakref.finalize | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cm-pulse-", dir="/tmp"))  # short socket path
        runtime = self.dir / "runtime"
        state = self.dir / "state"
        runtime.mkdir(mode=0o700)
        state.mkdir(mode=0o700)
        self.socket = runtime / "native"
        (self.dir / "client.conf").write_text("autospawn = no\n")
        (state / "pulse").mkdir()
        (state / "pulse" / "daemon.conf").write_text(  # read from $XDG_CONFIG_HOME/pulse
            f"default-sample-rate = {self.rate}\ndefault-sample-channels = {self.channels}\n")
        daemon_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C",
            "HOME": str(state),
            "XDG_RUNTIME_DIR": str(runtime),
            "XDG_CONFIG_HOME": str(state),
            "PULSE_RUNTIME_PATH": str(runtime),
            "PULSE_STATE_PATH": str(state),
        }
        args = [
            "pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
            "--use-pid-file=no", "--realtime=no", "--high-priority=no",
            f"--log-target=file:{self.dir / 'pulseaudio.log'}",
            "-L", f"module-native-protocol-unix socket={self.socket} auth-anonymous=1",
        ]
        with open(self.dir / "pulseaudio.log", "ab") as log:  # also gets what fails early
            self.daemon = subprocess.Popen(
                args, env=daemon_env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=_die_with_parent)
        self._finalizer = weakref.finalize(self, _cleanup, self.daemon, self._children,
                                           self._keepalive)
        deadline = time.monotonic() + timeout
        while True:
            if self.daemon.poll() is not None:
                raise PulseError(f"pulseaudio exited with {self.daemon.returncode}:\n{self.log()}")
            if self.socket.exists() and self._run("pactl", "info", check=False).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise PulseError(f"pulseaudio did not answer in {timeout} s:\n{self.log()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """End every process started here, restore the environment, remove the folder."""
        if self._finalizer is not None:
            self._finalizer()  # idempotent: ends children, keepalives, then the daemon
        self._children.clear()
        self._keepalive.clear()
        self.deactivate()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def log(self) -> str:
        path = self.dir / "pulseaudio.log" if self.dir else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    # -- environment -------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The environment for a client process: this one's, pointed at this server."""
        env = {k: v for k, v in os.environ.items() if k not in ("PULSE_SINK", "PULSE_SOURCE")}
        env.update(self.client_env())
        return env

    def client_env(self) -> dict[str, str]:
        assert self.dir is not None and self.socket is not None, "server not started"
        return {
            "PULSE_SERVER": f"unix:{self.socket}",
            "PULSE_COOKIE": str(self.dir / "cookie"),
            "PULSE_CLIENTCONFIG": str(self.dir / "client.conf"),
        }

    def activate(self) -> None:
        """Point this process (sounddevice/PortAudio, libpulse) at the server until stop()."""
        if self._saved_env is None:
            self._saved_env = {k: os.environ.get(k) for k in CLIENT_ENV}
        os.environ.update(self.client_env())
        os.environ["XDG_CONFIG_HOME"] = str(self.dir)  # ALSA reads $XDG_CONFIG_HOME/alsa/asoundrc
        self._write_asoundrc()
        refresh_portaudio()

    def deactivate(self) -> None:
        if self._saved_env is None:
            return
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = None
        refresh_portaudio()

    def route(self, *, source: str | None = None, sink: str | None = None) -> str:
        """Choose what the next stream opened on sounddevice's ``pulse`` device connects to.

        libpulse reads PULSE_SOURCE/PULSE_SINK when the ALSA plugin opens a stream, so open
        streams keep theirs: open one, route again, open the next.
        """
        for key, value in (("PULSE_SOURCE", source), ("PULSE_SINK", sink)):
            if value is not None:
                os.environ[key] = value
        return "pulse"

    def alsa_device(self, name: str, pulse_device: str) -> str:
        """Make PulseAudio sink or source ``pulse_device`` an ALSA pcm ``name`` that
        sounddevice lists (ALSA host API, after :meth:`activate`); returns ``name``.

        This re-initialises PortAudio, which closes every open sounddevice stream."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"ALSA pcm names here are letters, digits and _: {name!r}")
        self._alsa_pcms[name] = pulse_device
        if self._saved_env is not None:
            self._write_asoundrc()
            refresh_portaudio()
        return name

    def _write_asoundrc(self) -> None:
        assert self.dir is not None
        conf = self.dir / "alsa" / "asoundrc"
        conf.parent.mkdir(exist_ok=True)
        conf.write_text("".join(
            f'pcm.{name} {{\n    type pulse\n    device "{dev}"\n'
            f'    hint {{ show on description "PulseAudio {dev}" }}\n}}\n'
            for name, dev in self._alsa_pcms.items()))

    # -- server control ----------------------------------------------------------------------

    def _run(self, *args: str, check: bool = True, timeout: float = 10.0
             ) -> subprocess.CompletedProcess:
        proc = subprocess.run(args, env=self.env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise PulseError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def pactl(self, *args: str) -> str:
        return self._run("pactl", *args).stdout

    def query(self, *what: str) -> list[dict]:
        """``pactl --format=json list WHAT``: query("sinks"), query("short", "sources")..."""
        return json.loads(self.pactl("--format=json", "list", *what) or "[]")

    def sinks(self) -> list[str]:
        return [s["name"] for s in self.query("short", "sinks")]

    def sources(self) -> list[str]:
        return [s["name"] for s in self.query("short", "sources")]

    def load_module(self, name: str, *args: str) -> int:
        return int(self.pactl("load-module", name, *args).strip())

    def unload_module(self, index: int) -> None:
        self.pactl("unload-module", str(index))

    def add_call_sinks(self, spare: str, *names: str) -> None:
        """Null sinks for a call's devices (``names``) behind a ``spare`` default sink and
        source: PulseAudio moves the streams of a removed device to the default, which must
        never be one of the call's."""
        self.add_sink(spare)
        self.pactl("set-default-sink", spare)
        self.pactl("set-default-source", f"{spare}.monitor")
        for name in names:
            self.add_sink(name)

    def add_sink(self, name: str, *, rate: int | None = None, channels: int | None = None,
                 description: str | None = None, keepalive: bool = True) -> str:
        """Load a null sink; returns the name of its monitor source (``<name>.monitor``)."""
        args = [f"sink_name={name}", f"rate={rate or self.rate}",
                f"channels={channels or self.channels}"]
        if description:
            args.append(f"sink_properties=device.description={description.replace(' ', '_')}")
        self.load_module("module-null-sink", *args)
        monitor = f"{name}.monitor"
        if keepalive:
            self._start_keepalive(name, monitor, rate or self.rate, channels or self.channels)
        return monitor

    def _start_keepalive(self, sink: str, monitor: str, rate: int, channels: int) -> None:
        proc = subprocess.Popen(
            ["parec", f"--device={monitor}", f"--latency-msec={KEEPALIVE_MS}",
             f"--rate={rate}", f"--channels={channels}", "--format=s16le",
             "--client-name=pulse-test-keepalive"],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self._keepalive[sink] = proc
        index = self._source_index(monitor)
        deadline = time.monotonic() + 5
        while not any(o["source"] == index for o in self.query("short", "source-outputs")):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise PulseError(f"keepalive recording of {monitor} did not start:\n{self.log()}")
            time.sleep(0.02)
        # Resuming restarts the sink's clock with the 10 ms block now asked for, instead of
        # waiting out the 2 s block it started with.
        self.pactl("suspend-sink", sink, "1")
        self.pactl("suspend-sink", sink, "0")

    def _source_index(self, source: str) -> int:
        for s in self.query("short", "sources"):
            if s["name"] == source:
                return s["index"]
        raise PulseError(f"no source {source!r}; sources: {self.sources()}")

    def remove_sink(self, name: str) -> None:
        """Unload a null sink, as when a device is unplugged (its keepalive goes first)."""
        owner = next((s["owner_module"] for s in self.query("sinks") if s["name"] == name), None)
        if owner is None:
            raise PulseError(f"no sink {name!r}; sinks: {self.sinks()}")
        keep = self._keepalive.pop(name, None)
        if keep is not None:
            end_process(keep)
        self.unload_module(owner)

    def add_source(self, name: str) -> str:
        """A microphone-like source ``name`` (not a monitor, so it can be the default source
        and PulseAudio treats it as a device); what is played into the null sink it reads,
        returned (``<name>_feed``), comes out of it."""
        feed = f"{name}_feed"
        self.add_sink(feed)
        self.load_module("module-remap-source", f"source_name={name}", f"master={feed}.monitor")
        return feed

    def remove_source(self, name: str) -> None:
        """Unload a source made by :meth:`add_source` (its feed sink stays), as when a
        microphone is unplugged; :meth:`add_source` again plugs it back in."""
        owner = next((s["owner_module"] for s in self.query("sources") if s["name"] == name),
                     None)
        if owner is None:
            raise PulseError(f"no source {name!r}; sources: {self.sources()}")
        self.unload_module(owner)
        feed = f"{name}_feed"
        if feed in self.sinks():
            self.remove_sink(feed)

    def source_outputs(self) -> list[dict]:
        """Recording streams, each with ``source`` (index) and ``source_name`` added."""
        names = {s["index"]: s["name"] for s in self.query("short", "sources")}
        outs = self.query("source-outputs")
        for o in outs:
            o["source_name"] = names.get(o.get("source"))
        return outs

    # -- audio in and out --------------------------------------------------------------------

    def play(self, wav: str | os.PathLike, sink: str, *, wait: bool = True,
             timeout: float = 30.0) -> subprocess.Popen:
        """``paplay`` a sound file into ``sink``; waits for the end unless ``wait=False``."""
        proc = self._spawn("paplay", f"--device={sink}", "--latency-msec=20", os.fspath(wav))
        if wait:
            try:
                proc.wait(timeout)
            finally:
                end_process(proc)
            if proc.returncode != 0:
                raise PulseError(f"paplay {wav} into {sink} failed ({proc.returncode}):\n"
                                 f"{(self.dir / 'clients.log').read_text(errors='replace')}")
        return proc

    def record(self, source: str, path: str | os.PathLike, *, rate: int | None = None,
               channels: int | None = None) -> Recording:
        """Start ``parecord`` of ``source`` (e.g. ``"headset.monitor"``) into a 16-bit WAV."""
        proc = self._spawn(
            "parecord", f"--device={source}", "--file-format=wav", "--format=s16le",
            f"--rate={rate or self.rate}", f"--channels={channels or self.channels}",
            "--latency-msec=10", os.fspath(path))
        deadline = time.monotonic() + 5
        # Return once its stream is connected, so that nothing played after this is missed.
        while not any(o.get("properties", {}).get("application.process.id") == str(proc.pid)
                      for o in self.query("source-outputs")):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise PulseError(f"parecord of {source} did not start: {proc.poll()}")
            time.sleep(0.02)
        return Recording(proc, Path(path))

    def _spawn(self, *args: str) -> subprocess.Popen:
        assert self.dir is not None, "server not started"
        with open(self.dir / "clients.log", "ab") as log:
            proc = subprocess.Popen(args, env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=log)
        self._children.append(proc)
        return proc


def _cleanup(daemon: subprocess.Popen, children: list[subprocess.Popen],
             keepalive: dict[str, subprocess.Popen]) -> None:
    for proc in [*children, *keepalive.values()]:
        end_process(proc, signal.SIGINT if proc.args[0] == "parecord" else signal.SIGTERM)
    end_process(daemon)


def refresh_portaudio() -> None:
    """Re-initialise PortAudio in this process (if sounddevice is loaded), so that it reads
    the ALSA configuration and the environment again and lists the devices anew."""
    import sys

    sd = sys.modules.get("sounddevice")
    if sd is not None:
        sd._terminate()
        sd._initialize()

