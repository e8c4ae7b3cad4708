"""What a batch is asked to analyse: the INPUT arguments expanded into one ``CallTask`` per call.

A researcher's corpus comes as files, folders of recordings (searched recursively), shell
patterns the shell did not expand (quoted, or too many files for a command line), or a
manifest CSV that also says, per call, what differs from the command's options (another
profile, the agent's name, the softphone's events). The expansion is deterministic (folders
and patterns sorted), because the tables are written in input order: the same arguments give
the same tables whatever runs them.
"""

from __future__ import annotations

import csv
import glob
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import get_args

from monitor.errors import CallmonitorError
from monitor.sources.recorded import ChannelLayout

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3")
"""What a folder is searched for (the recording formats callmonitor reads)."""

MANIFEST_EXTENSION = ".csv"
_GLOB_CHARS = "*?["
_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"0", "false", "no", "n"}
_MANIFEST_FIX = ("a manifest is a CSV with a header row: path, and optionally profile, "
                 "company, agent_name, swap_channels, call_events, channels")


@dataclass(frozen=True)
class CallTask:
    """One call and what it is checked against. ``path`` is absolute; the other fields are
    the command's options unless the manifest said otherwise for this call."""

    path: Path
    profile: str = "zh-CN"
    company: str | None = None
    agent_name: str | None = None
    swap_channels: bool = False
    call_events: Path | None = None
    channels: str | None = None


OVERRIDES = tuple(f.name for f in fields(CallTask) if f.name != "path")
"""The manifest columns a call may set besides its path."""


def expand_inputs(args: Iterable[str], defaults: CallTask) -> list[CallTask]:
    """Every call the arguments name, in order; ``defaults`` holds the command's options
    (its ``path`` is ignored). An argument that names nothing is an error: a typo should not
    quietly give a smaller corpus."""
    tasks: list[CallTask] = []
    for arg in args:
        found = list(_expand_one(arg, defaults))
        if not found:
            raise CallmonitorError(f"{arg} names no recording",
                                   "give audio files, folders holding them, patterns that "
                                   "match them, or a manifest CSV")
        tasks += found
    return tasks


def _expand_one(arg: str, defaults: CallTask) -> Iterator[CallTask]:
    path = Path(arg).expanduser()
    if path.is_dir():
        for found in sorted(p for p in path.rglob("*") if _is_audio(p)):
            yield replace(defaults, path=found.resolve())
    elif path.suffix.lower() == MANIFEST_EXTENSION and path.is_file():
        yield from read_manifest(path, defaults)
    elif not path.exists() and any(c in arg for c in _GLOB_CHARS):
        for match in sorted(glob.glob(str(path), recursive=True)):
            yield from _expand_one(match, defaults)
    else:
        # A file, or one that does not exist: that call fails with its own row.
        yield replace(defaults, path=path.resolve())


def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file()


def read_manifest(path: Path, defaults: CallTask) -> list[CallTask]:
    """The calls of a manifest CSV; relative paths (of the recordings and the call events)
    are relative to the manifest's folder, and an empty cell keeps the command's option."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CallmonitorError(f"cannot read manifest {path} ({exc})", _MANIFEST_FIX) from None
    if not rows or "path" not in rows[0]:
        raise CallmonitorError(f"manifest {path} has no path column", _MANIFEST_FIX)
    unknown = set(rows[0]) - {"path", *OVERRIDES}
    if unknown:
        raise CallmonitorError(f"manifest {path} has unknown columns: {', '.join(sorted(unknown))}",
                               _MANIFEST_FIX)
    return [_manifest_task(row, n, path, defaults) for n, row in enumerate(rows, start=2)]


def _manifest_task(row: dict[str, str], line: int, manifest: Path,
                   defaults: CallTask) -> CallTask:
    where = f"{manifest}, line {line}"
    cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
    if not cells.get("path"):
        raise CallmonitorError(f"{where} has no path", _MANIFEST_FIX)
    task = replace(defaults, path=_relative(manifest, cells["path"]))
    text = {k: cells[k] for k in ("profile", "company", "agent_name", "channels")
            if cells.get(k)}
    task = replace(task, **text)  # type: ignore[arg-type]  # these four fields are strings
    if cells.get("call_events"):
        task = replace(task, call_events=_relative(manifest, cells["call_events"]))
    if cells.get("swap_channels"):
        task = replace(task, swap_channels=_flag(cells["swap_channels"], where))
    if task.channels is not None and task.channels not in get_args(ChannelLayout):
        raise CallmonitorError(f"{where}: channels {task.channels!r} is not one of "
                               + ", ".join(get_args(ChannelLayout)), _MANIFEST_FIX)
    return task


def _relative(manifest: Path, value: str) -> Path:
    return (manifest.parent / Path(value).expanduser()).resolve()


def _flag(value: str, where: str) -> bool:
    if value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise CallmonitorError(f"{where}: swap_channels {value!r} is not true or false",
                           "write true, false, 1, 0, yes or no (or leave it empty)")
