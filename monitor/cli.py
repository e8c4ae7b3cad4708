"""The ``callmonitor`` command: thin commands over the pipeline and the store.

A ``CallmonitorError`` (bad input, a missing model, a bad flag value) becomes one line on
stderr and exit status 2; anything else is a bug and keeps its traceback. A session ended by
a signal or a reader that went away exits as a shell reports a process killed by it
(128 + the signal's number), with its summary stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

import click

from monitor.batch.scoring import DEFAULT_TOLERANCE_S
from monitor.config import PROFILES, Config, load_config, session_config
from monitor.errors import CallmonitorError
from monitor.sinks.base import Sink
from monitor.sinks.jsonl import JsonlSink
from monitor.sinks.store import StoreSink, open_stored_session
from monitor.sinks.timeline import TimelineSink, clock, render
from monitor.sources.base import Source
from monitor.storage.database import describe, open_database, resolve_location
from monitor.storage.sessions import (
    SessionInfo,
    default_audio_dir,
    get_session,
    list_sessions,
    session_records,
)
from monitor.storage.writer import SessionWriter

if TYPE_CHECKING:
    from monitor.batch.local import Runner
    from monitor.devices import DeviceWatch
    from monitor.pipeline import Session
    from monitor.sinks.audio import AudioKeeper
    from monitor.sources.call_events import CallEventFeed
    from monitor.sources.live import DeviceInput, LiveSource
    from monitor.sources.recorded import ChannelLayout

EXIT_USAGE = 2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""What ends a session like Ctrl-C: a person, a service manager's stop, the terminal closed."""


class CallmonitorGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CallmonitorError as exc:
            click.echo(f"callmonitor: error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)


def _location(db: str | None, cfg: Config | None = None, site: Path | None = None) -> str:
    """The session database: --db, then $CALLMONITOR_DB (unless empty), then config [store]
    (url or path), checked by ``resolve_location`` for every command that takes --db."""
    store = (cfg or load_config(site=site)).store
    env = os.environ.get("CALLMONITOR_DB")
    if db is not None:
        return resolve_location(db, "--db", store.location)
    if env:
        return resolve_location(env, "$CALLMONITOR_DB", store.location)
    origin = "config [store] url" if store.url else "config [store] path"
    return resolve_location(store.location, origin, store.location)


db_option = click.option("--db", metavar="FILE|URL",
                         help="Session database: a SQLite file or a postgresql:// URL "
                              "(default: config [store]).")
config_option = click.option(
    "--config", "site", type=click.Path(dir_okay=False, path_type=Path), default=None,
    metavar="FILE", help="A site's own settings laid over the profile (default: "
                         "$CALLMONITOR_CONFIG); see README.")


def store_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Where the sessions are: --db, else [store] of the configuration (--config)."""
    return db_option(config_option(command))


@click.group(cls=CallmonitorGroup)
@click.version_option(package_name="callmonitor")
def main() -> None:
    """Check telephone service calls against the service standard."""


def session_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options replay and live share: what the call is checked against, and where to."""
    for option in reversed([
        click.option("--profile", type=click.Choice(PROFILES), default="zh-CN",
                     show_default=True),
        click.option("--company", default=None, help="Company name the greeting must contain."),
        click.option("--agent-name", default=None, help="Agent name the greeting must contain."),
        click.option("--asr", "asr_backend",
                     type=click.Choice(["auto", "vosk", "whisper", "none"]), default=None,
                     help="Speech recogniser (default: config; none = timing only)."),
        click.option("--json", "as_json", is_flag=True, help="JSON lines (DESIGN.md contract)."),
        db_option,
        config_option,
        click.option("--keep-audio", is_flag=True,
                     help="Keep the call's audio (stereo, agent left; config [store] "
                          "audio_format, Opus by default) in the audio folder (config [store] "
                          "audio_dir) for review in `callmonitor serve`."),
    ]):
        command = option(command)
    return command


channels_option = click.option(
    "--channels", "layout", type=click.Choice(["agent-left", "agent-right", "mixed", "agent-only"]),
    default=None, help="How the recording carries the sides (default: config [audio] channels, "
                       "agent-left): mixed = both in one channel.")


@dataclass
class _Setup:
    """What a replay or live session is made of, before its source."""

    cfg: Config
    recognizer: Any
    writer: SessionWriter
    extra: dict[str, Any]
    keeper: AudioKeeper | None

    def sinks(self) -> list[Sink]:
        """Where every session's output goes: the kept audio (first, so it takes each step's
        frames before analysis) and the store."""
        return [*([self.keeper] if self.keeper else []), StoreSink(self.writer)]

    def report(self) -> None:
        """Say if the audio could not be kept to the end (the call itself went on); fail if
        the database was given up, naming the spool that holds the records instead."""
        if self.keeper is not None and self.keeper.error is not None:
            _warn(str(self.keeper.error))
        failure = self.writer.failure
        if failure is not None:
            raise failure.as_error(self.writer.session_id)

    def header(self, mode: str, source: Source) -> str:
        r = self.recognizer
        return (f"callmonitor {mode}: {source.describe()}; profile {self.cfg.profile}; speech "
                "recognition " + (f"{r.backend} ({r.model_name})" if r else "off")
                + f"; session {self.writer.session_id}")


def _warn(line: str) -> None:
    click.echo(f"callmonitor: warning: {line}", err=True)


def _setup(mode: str, source_name: str, cfg: Config, asr_backend: str | None,
           db: str | None, keep_audio: bool) -> _Setup:
    """Load the recogniser and open the stored session: only once the input is known good,
    so bad input leaves the database untouched."""
    from monitor.asr import session_recognizer

    return _open_session(mode, source_name, cfg, session_recognizer(cfg, asr_backend), db,
                         keep_audio)


def _open_session(mode: str, source_name: str, cfg: Config, recognizer: Any, db: str | None,
                  keep_audio: bool) -> _Setup:
    """Open the stored session, with a recogniser already loaded (once for every call of
    ``live --softphone``)."""
    location = _location(db, cfg)
    writer, extra = open_stored_session(location, mode, source_name, cfg, recognizer, _warn)
    keeper = None
    if keep_audio:
        from monitor.sinks.audio import AudioKeeper, kept_audio_name

        name = kept_audio_name(writer.session_id, cfg.store.audio_format)
        try:
            keeper = AudioKeeper(_audio_dir(location, cfg) / name, cfg.store.audio_format,
                                 cfg.store.audio_bitrate_kbps)
        except CallmonitorError:
            writer.close("failed")
            raise
        writer.keep_audio(name)
        extra["kept_audio"] = str(keeper.path)
    return _Setup(cfg, recognizer, writer, extra, keeper)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@session_options
@click.option("--swap-channels", is_flag=True, help="Agent on the right channel.")
@channels_option
@click.option("--realtime", is_flag=True, help="Pace the replay at the recording's speed.")
@click.option("--call-events", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The softphone's events for this call (JSON lines: ring, answer, hold, "
                   "resume, hangup), in the recording's time.")
def replay(file: Path, profile: str, company: str | None, agent_name: str | None,
           asr_backend: str | None, as_json: bool, db: str | None, site: Path | None,
           keep_audio: bool, swap_channels: bool, layout: str | None, realtime: bool,
           call_events: Path | None) -> None:
    """Replay a recorded call (WAV, FLAC, Ogg Vorbis/Opus, MP3) and print its timeline."""
    from monitor.pipeline import Session
    from monitor.sources.call_events import read_call_events
    from monitor.sources.pacing import Paced
    from monitor.sources.recording import open_recording

    stdout = _stdout()
    events = read_call_events(call_events) if call_events else []
    cfg = session_config(profile, company, agent_name, asr_backend, site)
    source = open_recording(file, cfg.audio.agent_side, swap_channels,
                            cast("ChannelLayout | None", layout or cfg.audio.channels or None))
    for warning in source.warnings:
        _warn(warning)
    setup = _setup("replay", str(file), cfg, asr_backend, db, keep_audio)
    out: Sink = (JsonlSink(stdout) if as_json
                 else TimelineSink(stdout, setup.header("replay", source),
                                   show_speech=setup.recognizer is None))
    session = Session(setup.cfg, Paced(source) if realtime else source, setup.recognizer,
                      [*setup.sinks(), out], call_events=events)
    with _stop_on_signals(session.stop) as stopped:
        summary = session.run(setup.extra)
    setup.report()
    _exit(session, summary, stopped)


@main.command()
@session_options
@click.option("--agent-device", default=None, help="The agent's microphone.")
@click.option("--customer-device", default=None,
              help="The customer's side: usually the monitor of the softphone's output.")
@click.option("--stereo-device", default=None,
              help="One two-channel device carrying both sides ([audio] agent_side).")
@click.option("--headset-device", default=None, help="Where hints are whispered to the agent.")
@click.option("--no-whisper", is_flag=True, help="Do not whisper hints.")
@click.option("--softphone", default=None, metavar="baresip[:HOST:PORT]",
              help="Follow the softphone's calls (baresip's ctrl_tcp, default [softphone] "
                   "host and port): each incoming call is a session, from the incoming call "
                   "to its close.")
def live(profile: str, company: str | None, agent_name: str | None, asr_backend: str | None,
         as_json: bool, db: str | None, site: Path | None, keep_audio: bool,
         agent_device: str | None,
         customer_device: str | None, stereo_device: str | None, headset_device: str | None,
         no_whisper: bool, softphone: str | None) -> None:
    """Monitor a call live from sound devices (names from `callmonitor devices`); Ctrl-C ends
    the session with its summary. With --softphone, every call the softphone takes."""
    from monitor.asr import session_recognizer
    from monitor.devices import DeviceWatch

    stdout = _stdout()
    cfg = session_config(profile, company, agent_name, asr_backend, site)
    address = _softphone_address(softphone, cfg) if softphone is not None else None
    _live_inputs(cfg, agent_device, customer_device, stereo_device)  # bad flags fail now
    whisper = cfg.hints.enabled and not no_whisper
    if whisper and headset_device is None:
        raise CallmonitorError("hints need a headset device",
                               "give --headset-device (see `callmonitor devices`) or --no-whisper")
    devices = (agent_device, customer_device, stereo_device)
    names = [n for n in devices if n] + ([headset_device] if whisper and headset_device else [])
    watch = DeviceWatch(names, cfg.live.watch_s)
    rig = _LiveRig(cfg, devices, headset_device if whisper else None, as_json, stdout, db,
                   keep_audio, watch)
    session: Session | None
    summary: dict[str, Any] | None
    try:
        if address is None:
            source = rig.start_source()  # a wrong device fails before the model loads
            rig.recognizer = session_recognizer(cfg, asr_backend)
            session, summary, stopped = rig.run(source)
        else:
            rig.start_source().close()  # a wrong device fails now, not at the first call
            rig.recognizer = session_recognizer(cfg, asr_backend)
            session, summary, stopped = _serve_softphone(rig, address)
    finally:
        watch.close()
    if session is None or summary is None:  # stopped before any call came in
        sys.exit(128 + (stopped.signum or signal.SIGINT))
    _exit(session, summary, stopped)


def _serve_softphone(rig: _LiveRig, address: tuple[str, int]
                     ) -> tuple[Session | None, dict[str, Any] | None, _Stopped]:
    from monitor.softphone.desk import serve_calls

    click.echo(f"callmonitor live: waiting for calls from baresip at {address[0]}:"
               f"{address[1]}; Ctrl-C stops", err=True)
    return serve_calls(rig, address, rig.cfg.softphone, _stop_on_signals, _warn)


def _softphone_address(value: str, cfg: Config) -> tuple[str, int]:
    """``baresip``, ``baresip:HOST:PORT`` (HOST may be an IPv6 address in brackets)."""
    kind, _, rest = value.partition(":")
    fix = "give --softphone baresip or baresip:HOST:PORT (e.g. baresip:127.0.0.1:4444)"
    if kind != "baresip":
        raise CallmonitorError(f"unknown softphone {kind!r}", fix)
    if not rest:
        return cfg.softphone.host, cfg.softphone.port
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise CallmonitorError(f"--softphone {value}: no HOST:PORT after baresip:", fix)
    return host.strip("[]"), int(port)


@dataclass
class _LiveRig:
    """What the live sessions of one command share (devices, outputs, the recogniser): one
    session, or one per call of the softphone."""

    cfg: Config
    devices: tuple[str | None, str | None, str | None]  # agent, customer, stereo
    headset: str | None  # where hints go; None: no hints
    as_json: bool
    stdout: TextIO
    db: str | None
    keep_audio: bool
    watch: DeviceWatch
    recognizer: Any = None

    def start_source(self) -> LiveSource:
        """Open the devices now: audio time 0 of the session is here."""
        from monitor.sources.live import LiveSource

        source = LiveSource(_live_inputs(self.cfg, *self.devices), self.cfg.live, self.watch)
        source.start()
        return source

    def run(self, source: LiveSource, call_events: CallEventFeed | tuple[()] = ()
            ) -> tuple[Session, dict[str, Any], _Stopped]:
        """One session on ``source``, to its end (Ctrl-C, or the call's close)."""
        from rich.console import Console

        from monitor.pipeline import Session
        from monitor.sinks.console import LiveConsole

        hints = (_hint_sink(self.cfg, self.headset, self.watch) if self.headset is not None
                 else None)
        setup = _open_session("live", source.describe(), self.cfg, self.recognizer, self.db,
                              self.keep_audio)
        view = LiveConsole(setup.cfg, setup.header("live", source),
                           lambda: source.overruns + source.device_overflows,
                           Console(stderr=self.as_json),
                           store_trouble=lambda: setup.writer.trouble)
        sinks: list[Sink] = [*setup.sinks(), view]
        if self.as_json:
            sinks.append(JsonlSink(self.stdout))
        if hints is not None:
            sinks.append(hints)
        session = Session(setup.cfg, source, setup.recognizer, sinks, call_events=call_events,
                          asr_in_background=True)
        with _stop_on_signals(source.stop) as stopped:
            summary = session.run(setup.extra)
        setup.report()
        return session, summary, stopped


@main.command()
@click.option("--audiosocket-agent", metavar="HOST:PORT", default=None,
              help="Where Asterisk's AudioSocket legs of the agent's side connect (default: "
                   "config [tap] audiosocket_agent; \"\" for none).")
@click.option("--audiosocket-customer", metavar="HOST:PORT", default=None,
              help="Where the customer's side's legs connect (default: config [tap] "
                   "audiosocket_customer).")
@click.option("--websocket", metavar="HOST:PORT", default=None,
              help="Where WebSocket audio forks connect, a call each (FreeSWITCH "
                   "mod_audio_fork, jambonz listen; default: config [tap] websocket).")
@click.option("--profile", type=click.Choice(PROFILES), default="zh-CN", show_default=True)
@click.option("--company", default=None, help="Company name the greeting must contain.")
@click.option("--agent-name", default=None, help="Agent name the greeting must contain.")
@click.option("--asr", "asr_backend", type=click.Choice(["auto", "vosk", "whisper", "none"]),
              default=None, help="Speech recogniser (default: config; none = timing only).")
@store_options
def tap(audiosocket_agent: str | None, audiosocket_customer: str | None, websocket: str | None,
        profile: str, company: str | None, agent_name: str | None, asr_backend: str | None,
        db: str | None, site: Path | None) -> None:
    """Serve the calls a PBX forks (Asterisk AudioSocket, one connection per side; a WebSocket
    fork, one per call): each call becomes a session in the store. Ctrl-C or SIGTERM ends
    every open call as interrupted."""
    from monitor.asr import session_recognizer
    from monitor.tap.calls import TapContext
    from monitor.tap.service import Tap, listeners, log_to_stderr

    cfg = session_config(profile, company, agent_name, asr_backend, site)
    listening = listeners(cfg.tap, {("audiosocket", "agent"): audiosocket_agent,
                                    ("audiosocket", "customer"): audiosocket_customer,
                                    ("websocket", None): websocket})
    location = _location(db, cfg)
    open_database(location, cfg.store.lock_wait_s, create=True).close()  # reachable now
    server = Tap(TapContext(cfg, session_recognizer(cfg, asr_backend), location), listening)
    log_to_stderr()
    with _stop_on_signals(server.stop) as stopped:
        server.run()
    if stopped.signum is not None:
        sys.exit(128 + stopped.signum)


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the tables (Parquet and CSV), run.json and the part files.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: one per core this process may use).")
@click.option("--profile", type=click.Choice(PROFILES), default="zh-CN", show_default=True)
@click.option("--asr", "asr_backend", type=click.Choice(["auto", "vosk", "whisper", "none"]),
              default=None, help="Speech recogniser (default: config; none = timing only).")
@click.option("--resume", is_flag=True,
              help="Complete a run in --out: calls already done (same file, same "
                   "configuration) are not run again.")
@config_option
@click.option("--company", default=None, help="Company name the greeting must contain.")
@click.option("--agent-name", default=None, help="Agent name the greeting must contain.")
@click.option("--swap-channels", is_flag=True, help="Agent on the right channel.")
@channels_option
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="Worker processes of this machine, or Ray workers.")
@click.option("--address", default=None,
              help="With --engine ray: the head of a running Ray cluster (IP:PORT) to run "
                   "on (default: start Ray on this machine for the run).")
def batch(inputs: tuple[str, ...], out: Path, jobs: int | None, profile: str,
          asr_backend: str | None, resume: bool, site: Path | None, company: str | None,
          agent_name: str | None, swap_channels: bool, layout: str | None, engine: str,
          address: str | None) -> None:
    """Analyse a corpus of recorded calls: INPUT is files, folders (searched recursively),
    patterns, or a manifest CSV (path plus per-call profile, company, agent_name,
    swap_channels, call_events, channels). Writes one row per call, alert, utterance and
    speech segment (Parquet and CSV) and run.json into --out."""
    from monitor import __version__
    from monitor.batch.analyse import RunOptions, call_config, config_hash, planned_models
    from monitor.batch.inputs import CallTask, expand_inputs
    from monitor.batch.local import run_batch
    from monitor.batch.output import BatchDir

    if address is not None and engine != "ray":
        raise click.UsageError("--address needs --engine ray")
    defaults = CallTask(Path(), profile, company, agent_name, swap_channels, channels=layout)
    run = RunOptions(asr_backend, site)
    cfg = call_config(defaults, run)
    models = planned_models(cfg, run)
    tasks = expand_inputs(inputs, defaults)
    target = BatchDir(out)
    meta = {"version": __version__, "config_hash": config_hash(defaults, run, models),
            "models": models, "argv": sys.argv}
    target.check(resume)  # a used DIR is refused before Ray is started or joined
    with _engine(engine, address, jobs) as (workers, runner):
        target.prepare(resume)  # once the engine runs: a cluster not found leaves no DIR
        end = run_batch(tasks, run, target, workers, resume, meta, engine, runner)
    click.echo(end.line, err=True)
    sys.exit(end.code)


@contextlib.contextmanager
def _engine(engine: str, address: str | None, jobs: int | None
            ) -> Iterator[tuple[int, Runner]]:
    """The batch's engine, running for the ``with`` body: its worker count and runner."""
    if engine != "ray":
        from monitor.batch.local import run_local

        yield jobs or len(os.sched_getaffinity(0)), run_local
        return
    from monitor.batch.ray_engine import connected, run_ray

    with connected(address, jobs) as workers:
        yield workers, run_ray


def _stdout() -> TextIO:
    """Where the timeline goes. A closed stdout (``>&-``) is refused before anything is
    stored: Python leaves ``sys.stdout`` None, and the next file opened (the database) would
    take its descriptor."""
    if sys.stdout is None:
        raise CallmonitorError("the standard output is closed",
                               "give the command somewhere to write, e.g. > timeline.txt or "
                               "> /dev/null")
    return sys.stdout


@dataclass
class _Stopped:
    """Which signal asked the session to end (the first), for the exit status."""

    signum: int | None = None


@contextlib.contextmanager
def _stop_on_signals(stop: Callable[[], None]) -> Iterator[_Stopped]:
    """Ctrl-C, SIGTERM and SIGHUP end the session cleanly at the next frame (``stop`` only
    sets a flag); a second Ctrl-C interrupts at once, should closing ever hang. The handlers
    in place before are put back afterwards."""
    stopped = _Stopped()

    def handler(signum: int, _frame: Any) -> None:
        stopped.signum = stopped.signum or signum
        stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    before = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield stopped
    finally:
        for sig, handler_before in before.items():
            signal.signal(sig, handler_before)


def _exit(session: Session, summary: dict[str, Any], stopped: _Stopped) -> None:
    """End as a shell reports a process killed by a signal: 128 + its number (Ctrl-C 130,
    SIGTERM 143, SIGHUP 129); a reader that went away (EPIPE) as SIGPIPE would (141), unless
    a signal came first. An output that could not be written (a full disk) is an error: one
    line, exit status 2."""
    broken = session.broken
    if broken is not None:
        _silence_stdout()
        if broken.errno != errno.EPIPE:
            raise CallmonitorError(
                f"could not write the output ({broken.strerror or broken})",
                f"the session is stored as {summary['status']} up to there (callmonitor "
                f"show {summary.get('session_id')}); check where the output goes")
    if stopped.signum is not None:
        sys.exit(128 + stopped.signum)
    if broken is not None:
        sys.exit(128 + signal.SIGPIPE)
    if summary["status"] == "interrupted":
        sys.exit(128 + signal.SIGINT)


def _silence_stdout() -> None:
    """Point stdout at /dev/null once its stream broke: what is still buffered would fail
    again when Python flushes it at exit ("Exception ignored ... BrokenPipeError"; the Python
    docs' note on SIGPIPE)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, io.UnsupportedOperation):  # not a file: output captured in memory
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _live_inputs(cfg: Config, agent: str | None, customer: str | None,
                 stereo: str | None) -> list[DeviceInput]:
    from monitor.sources.live import DeviceInput

    if stereo is not None:
        if agent or customer:
            raise CallmonitorError("--stereo-device carries both sides",
                                   "give either --stereo-device or --agent/--customer-device")
        agent_index = 0 if cfg.audio.agent_side == "left" else 1
        return [DeviceInput(stereo, {"agent": agent_index, "customer": 1 - agent_index})]
    if agent is None:
        raise CallmonitorError("no agent device given",
                               "give --agent-device (and --customer-device) or --stereo-device; "
                               "`callmonitor devices` lists them")
    inputs = [DeviceInput(agent, {"agent": 0})]
    if customer is not None:
        inputs.append(DeviceInput(customer, {"customer": 0}))
    return inputs


def _hint_sink(cfg: Config, headset: str, watch: DeviceWatch) -> Sink:
    from monitor.hints.player import OUTPUT_RATE_HZ, HeadsetPlayer
    from monitor.hints.voice import HintVoice
    from monitor.sinks.hints import HintSink

    cache = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "callmonitor"
    voice = HintVoice(cfg.hints, OUTPUT_RATE_HZ, cache / "hints")
    return HintSink(cfg, voice, HeadsetPlayer(headset, cfg.hints.output_latency_s, watch))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per device.")
def devices(as_json: bool) -> None:
    """List audio devices by the names --agent-device and the like take."""
    from monitor.devices import list_devices

    found = list_devices()
    for d in found:
        if as_json:
            click.echo(json.dumps(dataclasses.asdict(d), ensure_ascii=False))
            continue
        role = "/".join(r for r, n in (("in", d.inputs), ("out", d.outputs)) if n) or "-"
        rate = f"{d.rate_hz:.0f} Hz" if d.rate_hz else ""
        click.echo(f"{d.name:<48}  {role:<6}  {rate:>8}  {d.description}")


@main.command()
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
@store_options
def sessions(limit: int, db: str | None, site: Path | None) -> None:
    """List stored sessions, newest first."""
    rows = list_sessions(_location(db, site=site), limit)
    if not rows:
        click.echo("no sessions stored yet")
    for s in rows:
        duration = "-" if s.duration_s is None else f"{s.duration_s:7.1f} s"
        alerts = sum((s.summary or {}).get("alerts_by_rule", {}).values())
        click.echo(f"{s.id:5d}  {s.started_at}  {s.mode:<6}  {s.status:<11}  {duration:>9}  "
                   f"{s.profile}  alerts {alerts:<3d}  {s.source}")


@main.command()
@click.argument("session_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, as replay --json printed.")
@store_options
def show(session_id: int, as_json: bool, db: str | None, site: Path | None) -> None:
    """Print one stored session's timeline again."""
    path = _location(db, site=site)
    info = get_session(path, session_id)
    records = session_records(path, session_id)
    if as_json:
        for record in records:
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    click.echo(f"session {info.id}: {info.mode} of {info.source}, {info.started_at}, "
               f"profile {info.profile}, {info.status}")
    for line in render(records, show_speech=info.asr_backend is None):
        click.echo(line)
    if info.status == "running":
        click.echo(f"(still running: {_heartbeat(info)})")
    elif info.status == "lost":
        click.echo(f"(no summary: the session was lost; {_heartbeat(info)} is its cut-off)")


def _heartbeat(info: SessionInfo) -> str:
    return (f"last heartbeat {info.heartbeat_at or info.started_at}, "
            f"{clock(info.heartbeat_t or 0.0)} into the call")


@main.command()
@click.argument("spool", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", metavar="FILE|URL",
              help="Where to put the session (default: the database the spool names).")
def recover(spool: Path, db: str | None) -> None:
    """Load a spool file, which a failing database left behind, into the session store."""
    from monitor.storage.spool import recover as load_spool

    done = load_spool(_location(db) if db is not None else None, spool)
    torn = "; its cut-off last line was skipped" if done.torn else ""
    click.echo(f"session {done.session_id} ({done.status}) in {done.database}: "
               f"{done.added} records added, {done.already} were already there{torn}")


@main.command()
@click.option("--older-than", "days", type=click.IntRange(min=1), default=None, metavar="DAYS",
              help="Calls started more than DAYS days ago (default: config [store] keep_days).")
@click.option("--sessions", "whole", is_flag=True,
              help="Remove the sessions too, with their records (else only their audio).")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@store_options
def prune(days: int | None, whole: bool, dry_run: bool, db: str | None,
          site: Path | None) -> None:
    """Remove the kept audio (and with --sessions the sessions) of old calls; never a call
    still running."""
    from datetime import UTC, datetime, timedelta

    from monitor.storage.prune import prune as prune_store

    cfg = load_config(site=site)
    days = days or cfg.store.keep_days
    if not days:
        raise CallmonitorError("nothing to prune: config [store] keep_days is 0 (keep forever)",
                               "give --older-than DAYS, or set [store] keep_days")
    location = _location(db, cfg)
    cutoff = datetime.now(UTC) - timedelta(days=days)
    done = prune_store(location, _audio_dir(location, cfg), cutoff, sessions=whole,
                       dry_run=dry_run)
    click.echo(done.describe(cutoff, dry_run))


@main.command()
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="The HTML page (default: DIR/report/index.html); the "
                                   "charts' PNG files go beside it.")
@config_option
def report(folder: Path, out: Path | None, site: Path | None) -> None:
    """Write an HTML report (with PNG charts) of a `callmonitor batch` output folder."""
    from monitor.batch.report import write_report

    click.echo(f"report written to {write_report(folder, out, site)}")


@main.command()
@click.argument("labels", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("batch_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--tolerance", type=click.FloatRange(min=0), default=DEFAULT_TOLERANCE_S,
              show_default=True, help="Seconds an alert may be off its labelled time.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as JSON to this file.")
def evaluate(labels: Path, batch_dir: Path, tolerance: float, as_json: bool,
             out: Path | None) -> None:
    """Score a batch output (`callmonitor batch --out DIR`) against labels: per-rule
    precision, recall, timing error, and transcripts' error rate (docs/evaluate.md)."""
    from monitor.batch.evaluate import evaluate as run_evaluation
    from monitor.batch.evaluate import write_report
    from monitor.batch.scoring import format_report

    report = run_evaluation(labels, batch_dir, tolerance)
    if out is not None:
        write_report(report, out)
    click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2) if as_json
               else format_report(report))


@main.group()
def users() -> None:
    """Who may sign in to the review app (`callmonitor serve`)."""


def _password(from_stdin: bool) -> str:
    """From a prompt (typed twice, not echoed), or the first line of stdin for scripts."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("password", hide_input=True, confirmation_prompt=True)


password_stdin_option = click.option("--password-stdin", is_flag=True,
                                     help="Read the password from the first line of stdin.")


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["supervisor", "agent"]), required=True)
@click.option("--agent-name", default=None,
              help="The agent name on this user's sessions (default: NAME); an agent sees "
                   "only those.")
@click.option("--time-zone", default=None,
              help="IANA time zone the review app shows this user's times and days in "
                   "(default: config [web] time_zone).")
@password_stdin_option
@store_options
def users_add(name: str, role: str, agent_name: str | None, time_zone: str | None,
              password_stdin: bool, db: str | None, site: Path | None) -> None:
    """Create a user; the password is stored as an Argon2 hash."""
    from monitor.storage.users import add_user

    location = _location(db, site=site)
    user = add_user(location, name, role, _password(password_stdin), agent_name, time_zone)
    click.echo(f"user {user.name} added ({user.role}, sessions of agent {user.agent!r})")


@users.command("passwd")
@click.argument("name")
@password_stdin_option
@store_options
def users_passwd(name: str, password_stdin: bool, db: str | None, site: Path | None) -> None:
    """Set a new password; the user's sign-ins end."""
    from monitor.storage.users import set_password

    set_password(_location(db, site=site), name, _password(password_stdin))
    click.echo(f"password of {name} changed")


@users.command("time-zone")
@click.argument("name")
@click.argument("zone", required=False)
@store_options
def users_time_zone(name: str, zone: str | None, db: str | None, site: Path | None) -> None:
    """Show NAME's times in ZONE (an IANA name); without ZONE, in the site's ([web] time_zone)."""
    from monitor.storage.users import set_time_zone

    set_time_zone(_location(db, site=site), name, zone)
    click.echo(f"time zone of {name}: {zone or 'the site default'}")


@users.command("remove")
@click.argument("name")
@store_options
def users_remove(name: str, db: str | None, site: Path | None) -> None:
    """Remove a user and end their sign-ins."""
    from monitor.storage.users import remove_user

    remove_user(_location(db, site=site), name)
    click.echo(f"user {name} removed")


@users.command("list")
@store_options
def users_list(db: str | None, site: Path | None) -> None:
    """List users with their role and agent name."""
    from monitor.storage.users import list_users

    for user in list_users(_location(db, site=site)):
        click.echo(f"{user.name:<24}  {user.role:<10}  {user.agent:<16}  {user.time_zone or ''}"
                   .rstrip())


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: config [web] host).")
@click.option("--port", type=int, default=None, help="Port (default: config [web] port).")
@click.option("--profile", type=click.Choice(PROFILES), default="zh-CN", show_default=True,
              help="Whose rate target and messages the pages show.")
@store_options
def serve(host: str | None, port: int | None, profile: str, db: str | None,
          site: Path | None) -> None:
    """Serve the review app: session list, timelines, transcripts, kept audio."""
    import logging

    import waitress

    from monitor.web.app import create_app

    # Sign-ins and refused sign-ins are worth a line each on the console of a shared server.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    cfg = load_config(profile, site=site)
    location = _location(db, cfg)
    open_database(location).close()  # a store that is not there is an error now, not per page
    host = host or cfg.web.host
    app = create_app(location, _audio_dir(location, cfg), cfg, host=host)
    port = port if port is not None else cfg.web.port
    click.echo(f"callmonitor serve: http://{host}:{port}/ (sessions in "
               f"{describe(location)}); Ctrl-C stops", err=True)
    waitress.serve(app, host=host, port=port, threads=cfg.web.threads, ident="callmonitor")


def _audio_dir(location: str, cfg: Config) -> Path:
    return (Path(cfg.store.audio_dir).expanduser() if cfg.store.audio_dir
            else default_audio_dir(location))
