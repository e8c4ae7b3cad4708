"""Helpers for tests that run the real pipeline and compare it with a scenario's truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from monitor.asr.base import Recognizer
from monitor.config import Config
from monitor.pipeline import Session
from monitor.sources.wavfile import WavSource


class ListSink:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.status: str | None = None

    def write(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def close(self, status: str) -> None:
        self.status = status


def replay(path: Path, cfg: Config, recognizer: Recognizer | None = None,
           asr_in_background: bool = False) -> list[dict[str, Any]]:
    sink = ListSink()
    Session(cfg, WavSource(path), recognizer, [sink],
            asr_in_background=asr_in_background).run({})
    return sink.records


def of_type(records: list[dict[str, Any]], kind: str, **match: Any) -> list[dict[str, Any]]:
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
