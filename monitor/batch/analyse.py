"""One call of a batch, through the same pipeline as ``callmonitor replay``: a ``CallTask`` in,
a ``CallResult`` (every record, the summary, the status, the one-line error) out.

A batch must go on past a bad file, so nothing here raises for one call: a
``CallmonitorError`` (bad audio, a missing call-events file) becomes the failed call's error
line, and any other exception (a bug) too, with its traceback kept for the parent to print.
The recogniser's model is loaded once per process (``monitor.asr`` caches it) and reused for
every call the process analyses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from monitor import __version__
from monitor.asr.base import Recognizer
from monitor.batch.inputs import CallTask
from monitor.config import Config, session_config
from monitor.errors import CallmonitorError
from monitor.sinks.collect import CollectSink

if TYPE_CHECKING:
    from monitor.sources.recorded import ChannelLayout, RecordedSource

HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class RunOptions:
    """What the command said for the whole run (per-call options are in ``CallTask``)."""

    asr: str | None = None
    """auto, vosk, whisper, none; None: the configuration's backend."""
    site: Path | None = None
    """The site configuration file (--config)."""
    whisper_threads: int | None = None
    """Whisper's threads per process when several processes share the cores."""

    def for_workers(self, jobs: int) -> RunOptions:
        """These options for ``jobs`` workers of one CPU each: with more than one, Whisper
        takes one thread per worker (unless told), so they share the cores."""
        if jobs > 1 and self.whisper_threads is None:
            return dataclasses.replace(self, whisper_threads=1)
        return self


@dataclass
class CallResult:
    """What became of one call: its records (the JSON contract, summary last) or its error."""

    task: CallTask
    sha256: str | None = None
    config_hash: str | None = None
    status: str = "failed"
    error: str | None = None
    elapsed_s: float = 0.0
    records: list[dict[str, Any]] = field(default_factory=list)
    bug: str | None = None
    """The traceback of an exception that is not a ``CallmonitorError``."""
    warnings: list[str] = field(default_factory=list)
    """What opening the recording worked around (``RecordedSource.warnings``, one line each, as
    ``replay`` prints them): a researcher filters the calls whose audio was odd."""
    skipped: bool = False
    """Done by an earlier run (``--resume``): read back, not analysed again."""

    @property
    def summary(self) -> dict[str, Any] | None:
        last = self.records[-1] if self.records else None
        return last if last is not None and last.get("type") == "summary" else None


def file_sha256(path: Path) -> str:
    """The content hash of a recording: a renamed or moved file is still the same call."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        raise CallmonitorError(f"{path} does not exist",
                               "check the path (or the manifest's path column)") from None
    except OSError as exc:
        raise CallmonitorError(f"cannot read {path} ({exc.strerror or exc})",
                               "check the file's permissions") from None
    return digest.hexdigest()


def call_config(task: CallTask, run: RunOptions) -> Config:
    """The call's configuration, made exactly as ``callmonitor replay`` makes it; made once
    per process for each combination of options (a corpus has few), as loading it (phrase
    patterns, pinyin costs) costs about as much as analysing a short call."""
    return _configured(task.profile, task.company, task.agent_name, run.asr, run.site,
                       run.whisper_threads)[0]


@functools.lru_cache(maxsize=64)
def _configured(profile: str, company: str | None, agent_name: str | None, asr: str | None,
                site: Path | None, whisper_threads: int | None) -> tuple[Config, str]:
    """A configuration and the digest of everything in it but the speed settings."""
    cfg = session_config(profile, company, agent_name, asr, site)
    if whisper_threads is not None:
        cfg = dataclasses.replace(cfg, asr=dataclasses.replace(
            cfg.asr, whisper_threads=whisper_threads))
    # Whisper's thread count sets the speed only: a --jobs 2 run (one thread per process)
    # must find the parts of a --jobs 1 run.
    speedless = dataclasses.replace(cfg, asr=dataclasses.replace(cfg.asr, whisper_threads=0))
    text = json.dumps(_plain(speedless), sort_keys=True, ensure_ascii=False)
    return cfg, hashlib.sha256(text.encode()).hexdigest()


def call_recognizer(cfg: Config, run: RunOptions) -> Recognizer | None:
    """The call's recogniser (None with ``--asr none``); its model is loaded once per
    process, on first use."""
    from monitor.asr import session_recognizer

    return session_recognizer(cfg, run.asr)


def preload(first: CallTask, run: RunOptions) -> None:
    """Load the recogniser a worker will need (that of the run's first call) when the worker
    starts, not in its first call. A model that cannot load is reported by the first call
    that needs it, as its failed row (a worker that failed to start would only be started
    again, for ever)."""
    with contextlib.suppress(Exception):
        call_recognizer(call_config(first, run), run)


def model_identity(backend: str | None, model: str | None) -> dict[str, str | None]:
    """Which recogniser runs: backend, model name and the folder it is loaded from."""
    if backend is None or model is None:
        return {"backend": None, "model": None, "path": None}
    from monitor.asr.models import find_model

    path = find_model(model)
    return {"backend": backend, "model": model, "path": str(path) if path else None}


def planned_models(cfg: Config, run: RunOptions) -> dict[str, str | None]:
    """The recogniser a run will use, found without loading it: a missing model is an error
    before any call starts, not a failed row per call."""
    if run.asr == "none":
        return model_identity(None, None)
    from monitor.asr import _auto_backend
    from monitor.asr.models import require_model

    backend: str = cfg.asr.backend
    if backend == "auto":
        backend = _auto_backend(cfg.asr, cfg.language)
    model = cfg.asr.vosk_model if backend == "vosk" else cfg.asr.whisper_model
    require_model(model)
    return model_identity(backend, model)


def config_hash(task: CallTask, run: RunOptions, models: dict[str, str | None]) -> str:
    """What decides a call's output besides its audio: its whole configuration, how its
    recording is read (channels), the softphone's events (by content), the recogniser and
    the callmonitor version."""
    config = _configured(task.profile, task.company, task.agent_name, run.asr, run.site,
                         run.whisper_threads)[1]
    # A missing file is left to read_call_events, whose error names it as call events.
    events = (file_sha256(task.call_events) if task.call_events and task.call_events.is_file()
              else None)
    call = {"swap_channels": task.swap_channels, "channels": task.channels,
            "call_events": events}
    ident = {"config": config, "call": call, "models": models, "version": __version__}
    text = json.dumps(ident, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(obj: Any) -> Any:
    """A configuration as JSON-able data (dataclasses, read-only mappings, tuples, enums)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        items = [_plain(v) for v in obj]
        return sorted(items, key=repr) if isinstance(obj, set | frozenset) else items
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, str | int | float | bool) or obj is None:
        return obj
    return repr(obj)


def open_source(task: CallTask, cfg: Config) -> RecordedSource:
    """The call's recording as a ``Source`` (with the warnings of opening it): the one place
    a batch opens audio."""
    from monitor.sources.recording import open_recording

    layout = task.channels or cfg.audio.channels or None
    return open_recording(task.path, cfg.audio.agent_side, task.swap_channels,
                          cast("ChannelLayout | None", layout))


Done = Callable[[CallResult], "CallResult | None"]
"""Looks up a call already done by an earlier run, by its path, content and config hash."""


def analyse_call(task: CallTask, run: RunOptions, done: Done | None = None) -> CallResult:
    """Run one call to its end; never raises for the call's own trouble (see module doc).

    ``done`` (``--resume``) is asked once the call's hashes are known: what it returns is the
    call's result, and the call is not analysed again."""
    started = time.perf_counter()
    result = CallResult(task)
    try:
        earlier = _run(result, run, done)
        if earlier is not None:
            return earlier
    except CallmonitorError as exc:
        result.status, result.error = "failed", str(exc)
    except Exception as exc:  # a bug: the batch goes on, the parent prints it once
        result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        result.bug = traceback.format_exc()
    if result.status == "failed":
        result.records = []
    result.elapsed_s = time.perf_counter() - started
    return result


def _run(result: CallResult, run: RunOptions, done: Done | None) -> CallResult | None:
    from monitor.pipeline import Session, session_facts
    from monitor.sources.call_events import read_call_events

    task = result.task
    result.sha256 = file_sha256(task.path)
    cfg = call_config(task, run)
    recognizer = call_recognizer(cfg, run)
    models = (model_identity(recognizer.backend, recognizer.model_name) if recognizer
              else model_identity(None, None))
    result.config_hash = config_hash(task, run, models)
    earlier = done(result) if done is not None else None
    if earlier is not None:
        return dataclasses.replace(earlier, task=task, skipped=True)
    events = read_call_events(task.call_events) if task.call_events else []
    source = open_source(task, cfg)
    result.warnings = list(source.warnings)
    sink = CollectSink()
    extra = session_facts(str(task.path), cfg, recognizer)
    Session(cfg, source, recognizer, [sink], call_events=events).run(extra)
    result.records = sink.records
    result.status = sink.status or "failed"
    if result.status != "complete":
        result.error = f"the session ended {result.status}"
    return None
