"""A call's result as rows of the four batch tables (calls, alerts, utterances, segments), each
with a fixed pyarrow schema.

The schemas are fixed, not inferred from the rows, so that every run has the same columns with
the same types whatever its calls said: a corpus whose first call failed, or in which no rule
fired, loads into pandas exactly like any other, and tables of two runs can be concatenated.
Summary arrays (holds, dead air ...) are kept whole as JSON text, with the numbers a
researcher filters on (how many, how long) beside them.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from monitor.batch.analyse import CallResult
from monitor.config.rules import RULE_IDS

_STR, _F64, _I64, _BOOL = pa.string(), pa.float64(), pa.int64(), pa.bool_()

CALL_FIELDS: list[tuple[str, pa.DataType]] = [
    ("path", _STR), ("sha256", _STR), ("config_hash", _STR), ("status", _STR),
    ("error", _STR), ("warnings", _STR), ("elapsed_s", _F64), ("duration_s", _F64),
    ("profile", _STR), ("language", _STR), ("company", _STR), ("agent_name", _STR),
    ("asr_backend", _STR), ("asr_model", _STR), ("rate_unit", _STR),
]
"""Who and what the call is, and how the batch fared with it."""

SUMMARY_SCALARS: list[tuple[str, pa.DataType]] = [
    ("rings_before_pickup", _I64), ("pickup_t", _F64), ("greeting_ok", _BOOL),
    ("apology_ok", _BOOL), ("agent_rate_cpm", _F64), ("talk_ratio_agent", _F64),
    ("longest_customer_turn_s", _F64), ("agent_loudest_dbfs", _F64), ("filler_count", _I64),
    ("agent_rate_window_max", _F64), ("agent_rate_window_min", _F64),
    ("agent_rate_est_cpm", _F64), ("closing_ok", _BOOL), ("score", _F64),
]
"""The summary's single values, under their own names."""

SUMMARY_OBJECTS: dict[str, list[tuple[str, pa.DataType]]] = {
    "talk_s": [("agent", _F64), ("customer", _F64)],
    "greeting": [("greeting", _BOOL), ("company", _BOOL), ("agent_name", _BOOL),
                 ("bad_opening", _STR)],
    "closing": [("asked_anything_else", _BOOL), ("thanked", _BOOL), ("said_goodbye", _BOOL),
                ("caller_spoke_last", _BOOL), ("caller_hung_up_first", _BOOL)],
}
"""Summary objects of single values, flattened as ``object.key``."""

SUMMARY_ARRAYS = ("holds", "dead_air", "interruptions", "backchannel_gaps", "forbidden",
                  "checks", "rules_skipped")
"""Summary lists, kept as JSON text."""

_SPANS = {"holds": "duration", "dead_air": "duration_s"}
"""The arrays of spans whose count and total length get a column each (and their length key)."""

SUMMARY_ELSEWHERE = ("type", "t", "status", "alerts_by_rule", "source")
"""Summary keys the calls table holds in another form (status, alert counts) or not at all
(the record type, its time = duration_s, the source = path)."""


def _call_schema() -> pa.Schema:
    cols = [*CALL_FIELDS, *SUMMARY_SCALARS]
    cols += [(f"{obj}.{key}", kind) for obj, keys in SUMMARY_OBJECTS.items()
             for key, kind in keys]
    cols += [(name, _STR) for name in SUMMARY_ARRAYS]
    for name in _SPANS:
        cols += [(f"{name}.count", _I64), (f"{name}.total_s", _F64)]
    cols += [("interruptions.count", _I64)]
    cols += [(f"alerts.{rule}", _I64) for rule in RULE_IDS]
    return pa.schema(cols)


CALLS = _call_schema()
ALERTS = pa.schema([("path", _STR), ("sha256", _STR), ("t", _F64), ("rule", _STR),
                    ("severity", _STR), ("message", _STR), ("say", _STR), ("start", _F64),
                    ("evidence", _STR)])
UTTERANCES = pa.schema([("path", _STR), ("sha256", _STR), ("channel", _STR), ("start", _F64),
                        ("end", _F64), ("text", _STR), ("words", _STR)])
SEGMENTS = pa.schema([("path", _STR), ("sha256", _STR), ("channel", _STR), ("start", _F64),
                      ("end", _F64)])
SCHEMAS = {"calls": CALLS, "alerts": ALERTS, "utterances": UTTERANCES, "segments": SEGMENTS}
"""Every table by name, in the order they are written."""


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def call_row(result: CallResult) -> dict[str, Any]:
    """The call's row of ``calls``: nulls past the error for a call that failed."""
    row: dict[str, Any] = {name: None for name in CALLS.names}
    row.update(path=str(result.task.path), sha256=result.sha256,
               config_hash=result.config_hash, status=result.status, error=result.error,
               warnings=_json(result.warnings), elapsed_s=round(result.elapsed_s, 3))
    summary = result.summary
    if summary is None:
        return row
    for name in CALLS.names[CALLS.get_field_index("duration_s"):]:
        if name in summary:
            row[name] = summary[name]
    row["duration_s"] = summary["t"]
    row.update(_flattened(summary))
    return row


def _flattened(summary: dict[str, Any]) -> dict[str, Any]:
    """Objects as ``object.key``, arrays as JSON text with their counts and totals, and the
    alert count of every rule."""
    out: dict[str, Any] = {}
    for obj, keys in SUMMARY_OBJECTS.items():
        values = summary.get(obj) or {}
        out.update({f"{obj}.{key}": values.get(key) for key, _ in keys})
    for name in SUMMARY_ARRAYS:
        out[name] = _json(summary.get(name))
    for name, length in _SPANS.items():
        spans = summary.get(name) or []
        out[f"{name}.count"] = len(spans)
        out[f"{name}.total_s"] = round(sum(s[length] for s in spans), 3)
    out["interruptions.count"] = len(summary.get("interruptions") or [])
    counts = summary.get("alerts_by_rule") or {}
    out.update({f"alerts.{rule}": counts.get(rule, 0) for rule in RULE_IDS})
    return out


def alert_rows(result: CallResult) -> list[dict[str, Any]]:
    """One row per alert; ``start`` is where its evidence says the condition began."""
    rows = []
    for r in _of_type(result, "alert"):
        evidence = r.get("evidence") or {}
        start = evidence.get("word_start", evidence.get("start", r["t"]))
        rows.append({**_key(result), "t": r["t"], "rule": r["rule"], "severity": r["severity"],
                     "message": r.get("message"), "say": r.get("say"), "start": start,
                     "evidence": _json(evidence)})
    return rows


def utterance_rows(result: CallResult) -> list[dict[str, Any]]:
    """One row per recognised phrase, its words (with times) as JSON text."""
    return [{**_key(result), "channel": r["channel"], "start": r["start"], "end": r["end"],
             "text": r.get("text"), "words": _json(r.get("words"))}
            for r in _of_type(result, "utterance")]


def segment_rows(result: CallResult) -> list[dict[str, Any]]:
    """One row per speech segment the VAD found."""
    return [{**_key(result), "channel": r["channel"], "start": r["start"], "end": r["end"]}
            for r in _of_type(result, "speech")]


def rows(result: CallResult) -> dict[str, list[dict[str, Any]]]:
    """The call's rows of every table, by table name."""
    return {"calls": [call_row(result)], "alerts": alert_rows(result),
            "utterances": utterance_rows(result), "segments": segment_rows(result)}


def _key(result: CallResult) -> dict[str, Any]:
    return {"path": str(result.task.path), "sha256": result.sha256}


def _of_type(result: CallResult, kind: str) -> list[dict[str, Any]]:
    return [r for r in result.records if r.get("type") == kind]


def to_table(name: str, table_rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as a table of ``name``'s fixed schema."""
    return pa.Table.from_pylist(table_rows, schema=SCHEMAS[name])
