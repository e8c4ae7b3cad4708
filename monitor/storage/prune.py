"""Clean-up of old calls (``callmonitor prune``): kept audio is most of what a site stores
(Opus keeps about 0.2 MB a minute, WAV 3.8 MB), so it goes first; with ``sessions`` the
sessions themselves go too, with their records and alert counts (the schema's foreign keys
cascade).

Only sessions started before the cut-off, and never one still running (its writer's heartbeat
is fresh): a session whose process died (``lost``) is finished for good and may go. A pruned
session's audio column is cleared, so the review app says no audio was kept rather than that
the file is missing. Files are removed before the database is told, so a failure half-way
leaves at worst a session whose file is reported missing, never a file nothing points to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from monitor.storage.database import open_database
from monitor.storage.sessions import Location, audio_file, sessions_started_before

_CHUNK = 500
"""Sessions changed per statement: a bounded parameter list on either engine."""


@dataclass(frozen=True, slots=True)
class Pruned:
    """What a prune removed (or, in a dry run, would remove)."""

    files: int
    bytes: int
    sessions: int
    running: int
    """Sessions before the cut-off left alone because they are still running."""

    def describe(self, cutoff: datetime, dry_run: bool) -> str:
        verb = "would remove" if dry_run else "removed"
        sessions = f" and {self.sessions} session{'s' * (self.sessions != 1)}"
        text = (f"prune: {verb} {self.files} audio file{'s' * (self.files != 1)} "
                f"({self.bytes / 1e6:.1f} MB){sessions if self.sessions else ''} of calls "
                f"started before {cutoff.isoformat(timespec='seconds')}")
        if self.running:
            text += f"; {self.running} still running, left alone"
        return text


def prune(location: Location, audio_dir: Path, cutoff: datetime, *, sessions: bool = False,
          dry_run: bool = False) -> Pruned:
    """Remove the kept audio (and with ``sessions`` the sessions) of calls started before
    ``cutoff`` (an aware UTC time); ``dry_run`` only counts."""
    infos = sessions_started_before(location, cutoff, with_audio_only=not sessions)
    done = [info for info in infos if info.status != "running"]
    files = [path for info in done if (path := audio_file(audio_dir, info)) is not None]
    size = sum(path.stat().st_size for path in files)
    if not dry_run:
        for path in files:
            path.unlink(missing_ok=True)
        _forget(location, [info.id for info in done], sessions)
    return Pruned(len(files), size, len(done) if sessions else 0, len(infos) - len(done))


def _forget(location: Location, ids: list[int], sessions: bool) -> None:
    """Delete the sessions, or clear their audio column, a chunk of ids at a time."""
    with open_database(location) as db, db.transaction():
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            if sessions:
                db.execute(f"DELETE FROM sessions WHERE id IN ({marks})", chunk)
            else:
                db.execute(f"UPDATE sessions SET audio = NULL WHERE id IN ({marks})", chunk)
