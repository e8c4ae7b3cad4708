"""Replaying a WAV through the real pipeline into a list of records, the way every test and
script that compares the pipeline with a truth needs it, and small helpers to read the list."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor.asr.base import Recognizer
from monitor.config import Config
from monitor.pipeline import Session
from monitor.sinks.base import Sink
from monitor.sinks.collect import CollectSink
from monitor.sources.recorded import ChannelLayout
from monitor.sources.recording import open_recording


def replay_records(path: Path, cfg: Config, recognizer: Recognizer | None = None, *,
                   sinks: Sequence[Sink] = (), summary_extra: dict[str, Any] | None = None,
                   asr_in_background: bool = False,
                   channels: ChannelLayout | None = None) -> list[dict[str, Any]]:
    """Run the pipeline on a recording as ``callmonitor replay`` does (``channels``: its
    ``--channels``); every record, summary last.

    ``sinks`` also receive the records (a store, a kept-audio file), and ``summary_extra``
    goes into the summary as the CLI's session id does. A replay that does not complete
    raises, so a comparison never runs on half a call.
    """
    sink = CollectSink()
    source = open_recording(path, cfg.audio.agent_side, channels=channels)
    Session(cfg, source, recognizer, [*sinks, sink],
            asr_in_background=asr_in_background).run(summary_extra or {})
    if sink.status != "complete":
        raise RuntimeError(f"the pipeline stopped on {path}: {sink.status}")
    return sink.records


def of_type(records: list[dict[str, Any]], kind: str, **match: Any) -> list[dict[str, Any]]:
    """The records of one type whose fields equal ``match``."""
    return [r for r in records if r["type"] == kind
            and all(r.get(k) == v for k, v in match.items())]


def merge(spans: list[list[float]], gap_s: float) -> list[list[float]]:
    """Join spans separated by less than ``gap_s``."""
    out: list[list[float]] = []
    for start, end in sorted(spans):
        if out and start - out[-1][1] < gap_s:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out
