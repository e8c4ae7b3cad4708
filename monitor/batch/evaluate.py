"""``callmonitor evaluate LABELS DIR``: researchers' labels against a batch output.

The batch output's tables (``calls``, ``alerts``, ``utterances`` Parquet, written by
``callmonitor batch``) are read back, each labelled call is found among the calls (by
``sha256`` when the label gives one, else by its path, else by its file name when exactly one
call has it) and scored by ``monitor.batch.scoring``. A labelled call the batch has not got,
or has only as failed or interrupted, is listed in the report, never silently dropped: it
changes what the figures cover.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.batch.labels import CallLabels, read_labels
from monitor.batch.scoring import Call, Report, score
from monitor.errors import CallmonitorError

TABLES: dict[str, list[str] | None] = {
    "calls": None, "alerts": ["path", "t", "rule", "severity"],
    "utterances": ["path", "channel", "start", "text"]}
"""The tables read and their columns read (None: all, a summary value may be labelled): the
words of every utterance of a large corpus stay on disk."""


@dataclass(frozen=True)
class BatchOutput:
    """The rows of a batch output's tables, grouped by call path."""

    calls: list[dict[str, Any]]
    alerts: dict[str, list[dict[str, Any]]]
    utterances: dict[str, list[dict[str, Any]]]


def evaluate(labels_path: Path, batch_dir: Path, tolerance_s: float) -> Report:
    """The report of ``callmonitor evaluate``: labels read and checked first (a bad label is
    an error before anything is scored), then the batch output."""
    labels = read_labels(labels_path)
    batch = read_batch(batch_dir)
    index, scored, not_analysed = CallIndex(batch.calls), [], []
    for label in labels:
        row = index.find(label)
        if row is None or row.get("status") != "complete":
            not_analysed.append(_not_analysed(label, row))
        else:
            scored.append(_call(label, row, batch))
    report = score(scored, tolerance_s)
    report.not_analysed = not_analysed
    return report


def read_batch(batch_dir: Path) -> BatchOutput:
    """The three tables of ``batch_dir``; a missing or unreadable one is an error naming it."""
    import pyarrow.parquet as pq

    rows = {}
    for table, columns in TABLES.items():
        path = batch_dir / f"{table}.parquet"
        try:
            rows[table] = pq.read_table(path, columns=columns).to_pylist()
        except (OSError, ValueError) as exc:
            problem = (f"cannot read {path} ({exc})" if path.exists()
                       else f"{batch_dir} has no {path.name}")
            raise CallmonitorError(problem, "give the folder `callmonitor batch --out` wrote, "
                                            "once it has finished (or finish it with --resume)"
                                   ) from None
    return BatchOutput(rows["calls"], _by_path(rows["alerts"]), _by_path(rows["utterances"]))


def _by_path(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["path"]].append(row)
    return grouped


class CallIndex:
    """The batch's calls by content hash, by path and by file name, built once: a corpus of
    ten thousand labelled calls is not searched call by call."""

    def __init__(self, calls: list[dict[str, Any]]) -> None:
        self.by_sha256 = {c["sha256"]: c for c in calls if c.get("sha256")}
        self.by_path = {Path(c["path"]).resolve(): c for c in calls}
        self.by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for call in calls:
            self.by_name[Path(call["path"]).name].append(call)

    def find(self, label: CallLabels) -> dict[str, Any] | None:
        """The row of a labelled call: by content hash when the label gives one (the
        recording may have moved since), else by path, else by a file name only one call has."""
        if label.sha256 is not None:
            return self.by_sha256.get(label.sha256)
        found = self.by_path.get(label.resolved)
        if found is not None:
            return found
        named = self.by_name.get(label.resolved.name, [])
        return named[0] if len(named) == 1 else None


def _not_analysed(label: CallLabels, row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {"call": label.name, "path": label.path, "status": "not in the batch output",
                "error": None}
    return {"call": label.name, "path": label.path, "status": row.get("status"),
            "error": row.get("error")}


def _call(label: CallLabels, row: dict[str, Any], batch: BatchOutput) -> Call:
    """One complete call in the scoring's terms: its labels, alerts, summary (the ``calls``
    row, ``rules_skipped`` read back from its JSON text) and what was heard per channel."""
    path = row["path"]
    summary = dict(row, rules_skipped=json.loads(row.get("rules_skipped") or "[]"))
    alerts = [{"t": a["t"], "rule": a["rule"], "severity": a.get("severity")}
              for a in batch.alerts.get(path, [])]
    heard: dict[str, str] | None = None
    if row.get("asr_backend"):
        heard = {}
        for u in sorted(batch.utterances.get(path, []), key=lambda u: u["start"]):
            heard[u["channel"]] = f"{heard.get(u['channel'], '')} {u['text'] or ''}".strip()
    return Call(label.name, label.truth(row.get("duration_s") or 0.0), alerts, summary,
                row.get("elapsed_s") or 0.0, row["language"], heard)


def write_report(report: Report, out: Path) -> None:
    """The JSON report in ``out``, written under a temporary name and renamed: a reader never
    sees half a report."""
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n",
                       encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        raise CallmonitorError(f"cannot write the report to {out} ({exc.strerror or exc})",
                               "give --out a file in a folder that exists and can be written"
                               ) from None
