"""The session store as a sink: records go to the store's writer thread as they happen."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from monitor.storage.writer import SessionWriter

if TYPE_CHECKING:
    from monitor.asr.base import Recognizer
    from monitor.config import Config


def open_stored_session(location: str, mode: str, source_name: str, cfg: Config,
                        recognizer: Recognizer | None, on_trouble: Callable[[str], None]
                        ) -> tuple[SessionWriter, dict[str, Any]]:
    """A new stored session and the set-up facts its summary carries (``session_id`` and
    ``session_facts``; ``kept_audio`` None until a keeper is made): every command that stores
    calls (replay, live, tap) opens them alike."""
    from monitor.pipeline import session_facts  # the CLI imports this module at start-up

    writer = SessionWriter(location, mode=mode, source=source_name, profile=cfg.profile,
                           agent=cfg.agent_name, company=cfg.company,
                           asr_backend=recognizer.backend if recognizer else None,
                           store=cfg.store, on_trouble=on_trouble)
    return writer, {"session_id": writer.session_id,
                    **session_facts(source_name, cfg, recognizer), "kept_audio": None}


class StoreSink:
    """Also a scoring and a stepping sink (``monitor.pipeline``): the writer's live state
    scores with the engine's weights and counts silence from the VAD's view of who speaks,
    which no record carries until a segment ends."""

    def __init__(self, writer: SessionWriter) -> None:
        self._writer = writer
        self._speaking: tuple[str, ...] = ()

    def write(self, record: dict[str, Any]) -> None:
        self._writer.add(record)

    def score_weights(self, weights: Mapping[str, float]) -> None:
        self._writer.score_with(weights)

    def step(self, t: float, speaking: Mapping[str, bool]) -> list[dict[str, Any]]:
        now = tuple(sorted(c for c, on in speaking.items() if on))
        if now != self._speaking:
            self._speaking = now
            self._writer.speaking(t, now)
        return []

    def close(self, status: str) -> None:
        self._writer.close(status)
