"""A sink that keeps the records in memory: for callers that want the call as data (a batch's
tables, ``monitor.analyse``, tests) rather than a stream."""

from __future__ import annotations

from typing import Any


class CollectSink:
    """Keeps every record of the session (a call of a few minutes is a few hundred records)
    and the status it closed with."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.status: str | None = None

    def write(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def close(self, status: str) -> None:
        self.status = status
