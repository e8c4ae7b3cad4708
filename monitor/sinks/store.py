"""The session store as a sink: records go to the store's writer thread as they happen."""

from __future__ import annotations

from typing import Any

from monitor.storage.writer import SessionWriter


class StoreSink:
    def __init__(self, writer: SessionWriter) -> None:
        self._writer = writer

    def write(self, record: dict[str, Any]) -> None:
        self._writer.add(record)

    def close(self, status: str) -> None:
        self._writer.close(status)
