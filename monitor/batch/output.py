"""A batch's output folder: one part file per finished call, then the merged tables and
``run.json``.

Crash safety comes from two rules. A call's part is written under a temporary name, flushed to
disk and renamed, so a part either exists whole or not at all; and the tables are only ever
made from parts, under temporary names renamed at the end, so a kill at any moment leaves
either the old tables or the new ones, never a torn file. ``--resume`` then finds every call
whose part exists for the same path, content and configuration, and runs only the rest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import resource
import socket
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.batch.analyse import CallResult, RunOptions, analyse_call
from monitor.batch.inputs import CallTask
from monitor.errors import CallmonitorError

PARTS = "parts"
RUN_FILE = "run.json"
TMP_PREFIX = ".tmp-"


def utc_now() -> str:
    """Now, as run.json's times are written (UTC, ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def part_name(path: str, sha256: str | None, config_hash: str | None) -> str:
    """A call's part file name: the same call (path, content, configuration) always gets the
    same name, and any change gives another."""
    key = "\0".join([path, sha256 or "", config_hash or ""])
    return hashlib.sha256(key.encode()).hexdigest()[:32] + ".json"


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A temporary path beside ``final``, renamed to it once the body wrote it (and its bytes
    reached the disk); removed if the body fails."""
    fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=final.suffix, dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


class BatchDir:
    """The output folder of one batch run (``--out DIR``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.parts = path / PARTS

    def holds_a_run(self) -> bool:
        return (self.path / RUN_FILE).exists() or self.parts.is_dir()

    def check(self, resume: bool) -> None:
        """Refuse a folder that holds a run already unless resuming it: asked before any
        engine starts (a Ray started for nothing costs seconds), and again by ``prepare``."""
        if self.holds_a_run() and not resume:
            raise CallmonitorError(f"{self.path} already holds a batch run",
                                   "add --resume to complete it, or give another --out")

    def prepare(self, resume: bool) -> None:
        """Make the folder (``check`` first) and drop the temporary files of a run that was
        killed."""
        self.check(resume)
        try:
            self.parts.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CallmonitorError(f"cannot make the output folder {self.path} "
                                   f"({exc.strerror or exc})", "give another --out") from None
        for leftover in [*self.parts.glob(TMP_PREFIX + "*"), *self.path.glob(TMP_PREFIX + "*")]:
            leftover.unlink(missing_ok=True)

    def part_path(self, result: CallResult) -> Path:
        return self.parts / part_name(str(result.task.path), result.sha256, result.config_hash)

    def write_part(self, result: CallResult) -> Path:
        """The call's result, whole or not at all (see module doc)."""
        final = self.part_path(result)
        with atomic_path(final) as tmp:
            tmp.write_text(encode_part(result), encoding="utf-8")
        return final

    def find_part(self, result: CallResult) -> CallResult | None:
        """The earlier result of the same call (``--resume``), or None."""
        path = self.part_path(result)
        return read_part(path) if path.is_file() else None


def encode_part(result: CallResult) -> str:
    """A part file's text (what ``read_part`` reads back): apart from the file, so that a
    worker with no access to DIR (a Ray node) can send it to the process that writes it."""
    data = dataclasses.asdict(result)
    data["task"] = {k: None if v is None else (v if isinstance(v, bool) else str(v))
                    for k, v in data["task"].items()}
    data.pop("skipped")
    return json.dumps(data, ensure_ascii=False)


def read_part(path: Path) -> CallResult:
    data = json.loads(path.read_text(encoding="utf-8"))
    task = data.pop("task")
    for key in ("path", "call_events"):
        task[key] = None if task[key] is None else Path(task[key])
    return CallResult(task=CallTask(**task), **data)


def write_tables(out: BatchDir, parts: Iterable[Path]) -> None:
    """Merge the parts (in input order) into every table, as Parquet and CSV."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from monitor.batch.tables import SCHEMAS, rows, to_table

    merged: dict[str, list[dict[str, Any]]] = {name: [] for name in SCHEMAS}
    for part in parts:
        for name, table_rows in rows(read_part(part)).items():
            merged[name] += table_rows
    for name, table_rows in merged.items():
        table = to_table(name, table_rows)
        with atomic_path(out.path / f"{name}.parquet") as tmp:
            pq.write_table(table, tmp)
        with atomic_path(out.path / f"{name}.csv") as tmp:
            pa_csv.write_csv(table, tmp)


def write_run(out: BatchDir, run: dict[str, Any]) -> None:
    """``run.json``: what ran, with which models, how many calls of each status, and when."""
    with atomic_path(out.path / RUN_FILE) as tmp:
        tmp.write_text(json.dumps(run, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Outcome:
    """What the process that ran a call tells the one that merges: small, so sending it
    between processes (or Ray workers) costs nothing; the records stay in the part file."""

    part: str
    status: str
    error: str | None
    duration_s: float
    elapsed_s: float
    skipped: bool
    bug: str | None
    host: str
    """The machine the call ran on (its name): with ``pid``, which worker ran it, also on a
    cluster, where two machines may give their workers the same pid."""
    pid: int
    peak_rss_mib: float
    """The process's peak resident memory so far (the batch's memory figure per worker)."""
    cpu_s: float = 0.0
    """The CPU time the process spent on the call, its part file included ..."""
    busy_s: float = 0.0
    """... and the wall time it took (``elapsed_s`` and the part file): a ``cpu_s`` well
    below it says the process waited, for a core or for the disk."""


def process_call(task: CallTask, run: RunOptions, out: BatchDir, resume: bool) -> Outcome:
    """Analyse one call (or find it done, with ``resume``) and write its part: the unit of
    work of every engine."""
    since = work_clock()
    result = analyse_call(task, run, out.find_part if resume else None)
    part = out.part_path(result) if result.skipped else out.write_part(result)
    return outcome_of(result, part, since)


def work_clock() -> tuple[float, float]:
    """This process's CPU time and the wall clock: where a call's work began."""
    return time.process_time(), time.perf_counter()


def outcome_of(result: CallResult, part: Path, since: tuple[float, float] | None = None
               ) -> Outcome:
    """What this process tells the merging one about a call whose part is ``part``; its CPU
    and busy time are those since ``since`` (``work_clock`` when the call began; None: none
    spent here)."""
    summary = result.summary
    cpu, wall = work_clock()
    cpu_s, busy_s = (0.0, 0.0) if since is None else (cpu - since[0], wall - since[1])
    return Outcome(str(part), result.status, result.error,
                   float(summary["t"]) if summary else 0.0, result.elapsed_s, result.skipped,
                   result.bug, socket.gethostname(), os.getpid(), peak_rss_mib(), cpu_s,
                   busy_s)


def peak_rss_mib() -> float:
    """This process's peak resident set size (Linux reports it in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def status_counts(outcomes: Iterable[Outcome]) -> dict[str, int]:
    return dict(Counter(o.status for o in outcomes))


def finish_run(out: BatchDir, outcomes: list[Outcome], meta: dict[str, Any]) -> None:
    """Merge the tables from the parts of every call (in input order) and write run.json with
    ``meta`` (version, config hash, models, engine, jobs, argv, started_at) completed."""
    write_tables(out, [Path(o.part) for o in outcomes])
    write_run(out, {**meta, "inputs": len(outcomes), "status_counts": status_counts(outcomes),
                    "skipped": sum(o.skipped for o in outcomes),
                    "workers": worker_figures(outcomes), "ended_at": utc_now()})


def worker_figures(outcomes: Iterable[Outcome]) -> list[dict[str, Any]]:
    """run.json's ``workers``: per worker process, keyed by its machine and pid (a pid alone
    names two workers of a cluster's two machines as one), what its calls took, sorted."""
    workers: dict[tuple[str, int], dict[str, Any]] = {}
    for o in outcomes:
        w = workers.setdefault((o.host, o.pid), {"host": o.host, "pid": o.pid, "calls": 0,
                                                 "peak_rss_mib": 0.0, "cpu_s": 0.0,
                                                 "busy_s": 0.0})
        w["calls"] += 0 if o.skipped else 1
        w["peak_rss_mib"] = max(w["peak_rss_mib"], o.peak_rss_mib)
        w["cpu_s"] = round(w["cpu_s"] + o.cpu_s, 3)
        w["busy_s"] = round(w["busy_s"] + o.busy_s, 3)
    return [workers[key] for key in sorted(workers)]
