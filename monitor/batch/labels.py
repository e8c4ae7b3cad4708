"""Researchers' labels: per call, the alerts it should raise, the rules that must stay quiet,
expected summary values and reference transcripts (the format is in docs/evaluate.md).

JSON lines is the main format, one call per line::

    {"path": "calls/0001.wav", "alerts": [{"rule": "dead_air", "t": 41.2}],
     "must_not_fire": ["interruption"], "transcripts": {"agent": "您好，诚美小王"}}

A CSV of alerts (header ``path,rule,t`` and optionally ``severity``) is accepted too: one row
per expected alert. A label that cannot be read is one error line naming the file, the line
and the fix, before any scoring: a typo in a rule id must not read as a missed alert.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.config.rules import RULE_IDS
from monitor.errors import CallmonitorError

SEVERITIES = ("info", "warn", "violation")
CHANNELS = ("agent", "customer")
CALL_KEYS = {"path", "sha256", "name", "alerts", "must_not_fire", "summary", "transcripts"}
ALERT_KEYS = {"rule", "t", "severity", "earliest"}
CSV_COLUMNS = ("path", "rule", "t", "severity")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class CallLabels:
    """The labels of one call. ``path`` is as written; ``resolved`` is it made absolute
    against the labels file's folder, which is how it is found among the batch's calls."""

    where: str
    path: str
    resolved: Path
    name: str
    sha256: str | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    must_not_fire: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    transcripts: dict[str, str] = field(default_factory=dict)

    def truth(self, duration_s: float) -> dict[str, Any]:
        """The labels in the layout ``monitor.batch.scoring`` scores."""
        return {"expect": self.alerts, "expect_none": self.must_not_fire,
                "expect_summary": self.summary, "transcripts": self.transcripts,
                "duration_s": duration_s}


class LabelError(CallmonitorError):
    """A label that cannot be read: where it is (``file:line``), what is wrong, the fix."""

    def __init__(self, where: str, problem: str, fix: str) -> None:
        super().__init__(f"{where}: {problem}", fix)


def read_labels(path: Path) -> list[CallLabels]:
    """Every call of a labels file (``.csv``: alerts only; anything else: JSON lines)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CallmonitorError(f"cannot read the labels file {path} ({exc})",
                               "give a UTF-8 JSON lines or CSV labels file "
                               "(docs/evaluate.md)") from None
    calls = _read_csv(path, text) if path.suffix.lower() == ".csv" else _read_jsonl(path, text)
    if not calls:
        raise LabelError(str(path), "no calls labelled",
                         "write one JSON object per call (docs/evaluate.md)")
    seen: dict[Path, str] = {}
    for call in calls:
        if call.resolved in seen:
            raise LabelError(call.where, f"{call.path} is labelled twice (first at "
                             f"{seen[call.resolved]})", "merge the two into one label")
        seen[call.resolved] = call.where
    return calls


def _read_jsonl(path: Path, text: str) -> list[CallLabels]:
    calls = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelError(where, f"not JSON ({exc.msg}, column {exc.colno})",
                             "write one JSON object per line") from None
        calls.append(_call(where, raw, path.parent))
    return calls


def _call(where: str, raw: Any, base: Path) -> CallLabels:
    if not isinstance(raw, dict):
        raise LabelError(where, "not a JSON object", 'write {"path": ..., "alerts": [...]}')
    _check_keys(where, raw, CALL_KEYS, "a call's")
    path = _path(where, raw.get("path"))
    alerts = _list(where, raw, "alerts")
    quiet = [_rule(f"{where}: must_not_fire", r) for r in _list(where, raw, "must_not_fire")]
    label = CallLabels(
        where, path, (base / path).resolve(), _text(where, raw, "name", path),
        _sha256(where, raw.get("sha256")),
        [_alert(f"{where}: alerts[{i}]", a) for i, a in enumerate(alerts)], quiet,
        _summary(where, raw.get("summary", {})), _transcripts(where, raw.get("transcripts", {})))
    both = sorted({a["rule"] for a in label.alerts} & set(quiet))
    if both:
        raise LabelError(where, f"{', '.join(both)} both expected and in must_not_fire",
                         "a rule the call should raise cannot also be one that must not fire")
    return label


def _alert(where: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise LabelError(where, "not an object", 'write {"rule": "dead_air", "t": 12.5}')
    _check_keys(where, raw, ALERT_KEYS, "an alert's")
    alert: dict[str, Any] = {"rule": _rule(where, raw.get("rule")),
                             "t": _seconds(where, "t", raw.get("t"))}
    if raw.get("severity") is not None:
        alert["severity"] = _severity(where, raw["severity"])
    if raw.get("earliest") is not None:
        alert["earliest"] = _seconds(where, "earliest", raw["earliest"])
        if alert["earliest"] > alert["t"]:
            raise LabelError(where, f"earliest {alert['earliest']:g} is after t {alert['t']:g}",
                             "earliest opens the window an alert may come in, up to t")
    return alert


def _read_csv(path: Path, text: str) -> list[CallLabels]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    if not {"path", "rule", "t"} <= set(header) or not set(header) <= set(CSV_COLUMNS):
        raise LabelError(f"{path}:1", f"the header is {','.join(header) or 'empty'}",
                         "the columns are path,rule,t and optionally severity")
    rows: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    for row in reader:
        where = f"{path}:{reader.line_num}"
        if None in row:
            raise LabelError(where, f"more cells than the {len(header)} columns of the header",
                             "one cell per column; put a path with a comma in quotes")
        raw = {k: v for k, v in row.items() if k in ("rule", "severity") and v}
        raw["t"] = _number(where, row.get("t"))
        call = _path(where, row.get("path"))
        rows.setdefault(call, (where, []))[1].append(_alert(where, raw))
    return [CallLabels(where, call, (path.parent / call).resolve(), call, alerts=alerts)
            for call, (where, alerts) in rows.items()]


def _number(where: str, value: str | None) -> Any:
    """A CSV cell as a number, or as it is (so the check of ``t`` names the bad value)."""
    try:
        return float(value) if value else value
    except ValueError:
        return value


# --------------------------------------------------------------------------- checks


def _check_keys(where: str, raw: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise LabelError(where, f"unknown key {', '.join(map(repr, unknown))}",
                         f"{what} keys are {', '.join(sorted(allowed))}")


def _path(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LabelError(where, "no path", "give the call's recording as path (absolute, or "
                                           "relative to the labels file's folder)")
    return value


def _text(where: str, raw: dict[str, Any], key: str, default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise LabelError(where, f"{key} {value!r} is not a string", f"write {key} in quotes")
    return value


def _list(where: str, raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise LabelError(where, f"{key} is not a list", f"write {key} as [...]")
    return value


def _sha256(where: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise LabelError(where, f"sha256 {value!r} is not 64 lower-case hex digits",
                         "give the sha256 of the file's bytes (sha256sum), or leave it out")
    return value


def _rule(where: str, value: Any) -> str:
    if value not in RULE_IDS:
        raise LabelError(where, "no rule" if value is None else f"unknown rule {value!r}",
                         f"the rule ids are {', '.join(sorted(RULE_IDS))}")
    return str(value)


def _seconds(where: str, key: str, value: Any) -> float:
    if (not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value)
            or value < 0):
        raise LabelError(where, f"{key} {value!r} is not a time",
                         f"give {key} in seconds from the start of the recording (>= 0)")
    return float(value)


def _severity(where: str, value: Any) -> str:
    if value not in SEVERITIES:
        raise LabelError(where, f"severity {value!r} is unknown",
                         f"give one of {', '.join(SEVERITIES)}, or leave it out")
    return str(value)


def _summary(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or any(isinstance(v, dict | list) for v in value.values()):
        raise LabelError(where, "summary is not an object of single values",
                         'write summary as {"column of calls": value, ...}, e.g. '
                         '{"greeting_ok": true}')
    return value


def _transcripts(where: str, value: Any) -> dict[str, str]:
    if (not isinstance(value, dict) or not set(value) <= set(CHANNELS)
            or not all(isinstance(v, str) for v in value.values())):
        raise LabelError(where, "transcripts is not an object of channel texts",
                         'write transcripts as {"agent": "...", "customer": "..."}')
    return value
