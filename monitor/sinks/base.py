"""Where records go. A sink takes each record's JSON form as it is produced, and never blocks
the pipeline for long: slow work (disk, speech synthesis) belongs on the sink's own thread."""

from __future__ import annotations

from typing import Any, Protocol


class Sink(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...

    def close(self, status: str) -> None:
        """The session ended with ``status``: complete, interrupted or failed."""
