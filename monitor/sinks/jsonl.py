"""The JSON-lines contract of DESIGN.md on a stream: one object per line, flushed per line so a
consumer reading a pipe sees each record as soon as it exists."""

from __future__ import annotations

import json
from typing import Any, TextIO


class JsonlSink:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, record: dict[str, Any]) -> None:
        self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._stream.flush()

    def close(self, status: str) -> None:
        self._stream.flush()
