"""The report's numbers, computed from a batch output's tables (pandas), apart from how they
are drawn (``charts``) or written (``report``, ``page``): every figure a chart shows is a row
of one of these tables, so a reader who cannot see the picture, and a test, read the same
numbers.

Talk time is the agent's talk plus the customer's (``talk_s.agent + talk_s.customer``), so
speech in overlap counts twice; the report says so beside every rate per hour.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from monitor.config import Config

NO_NAME = "(no name)"
SCORE_EDGES = tuple(float(x) for x in range(0, 101, 10))
"""The QA score is out of 100: ten bins of ten points."""
PACE_BIN = 10.0
"""Width of a pace bin, in the profile's unit (characters or words a minute)."""
HOLD_BINS_PER_LIMIT = 6
"""Hold durations are counted in bins of a sixth of the hold limit (5 s for 30 s)."""
SECONDS_PER_HOUR = 3600.0

Cell = str | int | float | None


@dataclass(frozen=True)
class Table:
    """One HTML table: ``key`` is its id (and names its chart), rows hold raw values."""

    key: str
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True)
class Histogram:
    """Counts between consecutive edges (the last bin includes its upper edge)."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]

    def table(self, key: str, caption: str, what: str, counted: str = "calls") -> Table:
        rows = tuple((lo, hi, n) for lo, hi, n in
                     zip(self.edges[:-1], self.edges[1:], self.counts, strict=True))
        return Table(key, caption, (f"{what} from", "to", counted), rows)


@dataclass(frozen=True)
class Band:
    """The pace the profile asks for: below ``slow_below`` or above ``fast_above`` alerts."""

    slow_below: float
    target: float
    fast_above: float
    unit: str

    @classmethod
    def of(cls, cfg: Config) -> Band:
        rules = cfg.rules
        return cls(rules.rate_too_slow.too_slow_below, rules.rate_too_fast.target_per_min,
                   rules.rate_too_fast.too_fast_above, cfg.rate_unit)


def histogram(values: Sequence[float], edges: Sequence[float]) -> Histogram:
    counts, _ = np.histogram(np.asarray(values, dtype=float), bins=np.asarray(edges))
    return Histogram(tuple(float(e) for e in edges), tuple(int(c) for c in counts))


def analysed(calls: pd.DataFrame) -> pd.DataFrame:
    """The calls that have a summary (complete or interrupted): a failed call has none."""
    return calls[calls["status"] != "failed"]


def talk_seconds(calls: pd.DataFrame) -> pd.Series:
    return calls["talk_s.agent"].fillna(0.0) + calls["talk_s.customer"].fillna(0.0)


def talk_hours(calls: pd.DataFrame) -> float:
    return float(talk_seconds(analysed(calls)).sum()) / SECONDS_PER_HOUR


def per_hour(count: float, hours: float) -> float | None:
    """A count per hour of talk; None (shown as a dash) when there was no talk."""
    return count / hours if hours > 0 else None


def rule_ids(calls: pd.DataFrame, alerts: pd.DataFrame) -> list[str]:
    """Every rule of the run (the ``alerts.<rule>`` columns, in the rule table's order), then
    any other rule that raised alerts."""
    listed = [c.removeprefix("alerts.") for c in calls.columns if c.startswith("alerts.")]
    return listed + sorted(set(alerts["rule"]) - set(listed))


def alert_rates(calls: pd.DataFrame, alerts: pd.DataFrame) -> Table:
    """Alerts of each rule, the calls they fell in, and the rate per hour of talk."""
    hours = talk_hours(calls)
    counts = alerts.groupby("rule").size()
    calls_with = alerts.groupby("rule")["path"].nunique()
    rows = tuple((rule, int(counts.get(rule, 0)), int(calls_with.get(rule, 0)),
                  per_hour(float(counts.get(rule, 0)), hours))
                 for rule in rule_ids(calls, alerts))
    return Table("alert-rates", f"Alerts per rule per hour of talk ({hours:.3f} h)",
                 ("rule", "alerts", "calls with it", "per hour of talk"), rows)


def scores(calls: pd.DataFrame) -> Histogram:
    return histogram(analysed(calls)["score"].dropna().tolist(), SCORE_EDGES)


def agent_names(calls: pd.DataFrame) -> pd.Series:
    """The agent of each call, "(no name)" where none was given."""
    names = calls["agent_name"].astype(object).where(calls["agent_name"].notna(), None)
    return names.map(lambda n: n if isinstance(n, str) and n.strip() else NO_NAME)


def per_agent(calls: pd.DataFrame, alerts: pd.DataFrame) -> Table:
    """Each agent's calls, talk, alerts per hour of talk, mean score and mean pace."""
    done = analysed(calls)
    alert_counts = alerts.groupby("path").size()
    frame = pd.DataFrame({
        "agent": agent_names(done), "talk": talk_seconds(done),
        "alerts": done["path"].map(alert_counts).fillna(0).astype(int),
        "score": done["score"], "pace": done["agent_rate_cpm"]})
    rows = []
    for agent, group in frame.groupby("agent", sort=True):
        hours = float(group["talk"].sum()) / SECONDS_PER_HOUR
        rows.append((str(agent), len(group), hours, int(group["alerts"].sum()),
                     per_hour(float(group["alerts"].sum()), hours),
                     _mean(group["score"]), _mean(group["pace"])))
    return Table("agents", "Per agent", ("agent", "calls", "talk h", "alerts",
                                         "alerts per hour of talk", "mean score", "mean pace"),
                 tuple(rows))


def _mean(values: pd.Series) -> float | None:
    present = values.dropna()
    return float(present.mean()) if len(present) else None


def pace_edges(values: Sequence[float], band: Band) -> list[float]:
    """Bins of ``PACE_BIN`` wide enough for every call and the whole band."""
    low = math.floor(min([*values, band.slow_below]) / PACE_BIN) * PACE_BIN
    high = (math.floor(max([*values, band.fast_above]) / PACE_BIN) + 1) * PACE_BIN
    return [low + PACE_BIN * i for i in range(round((high - low) / PACE_BIN) + 1)]


def pace_against_band(values: Sequence[float], band: Band, key: str) -> Table:
    """How many calls' pace fell below, inside and above the band."""
    slow = sum(v < band.slow_below for v in values)
    fast = sum(v > band.fast_above for v in values)
    rows = ((f"below {band.slow_below:g} {band.unit}", slow),
            (f"{band.slow_below:g} to {band.fast_above:g} {band.unit} "
             f"(target {band.target:g})", len(values) - slow - fast),
            (f"above {band.fast_above:g} {band.unit}", fast))
    return Table(key, "Agent pace against the target band", ("pace", "calls"), rows)


def rings(values: Sequence[int], max_rings: int) -> Histogram:
    """One bin per ring count, from 0 to past the limit or the most rings heard."""
    top = max([*values, max_rings + 1])
    return histogram(values, [r - 0.5 for r in range(top + 2)])


def ring_table(hist: Histogram, key: str, max_rings: int) -> Table:
    rows = tuple((round(lo + 0.5), n, "yes" if lo + 0.5 > max_rings else "")
                 for lo, n in zip(hist.edges[:-1], hist.counts, strict=True))
    return Table(key, f"Rings before pickup (limit {max_rings})",
                 ("rings", "calls", "over the limit"), rows)


def hold_durations(calls: pd.DataFrame) -> list[float]:
    """Every hold's duration, from each call's ``holds`` (JSON text)."""
    out: list[float] = []
    for text in analysed(calls)["holds"].dropna():
        out.extend(float(h["duration"]) for h in json.loads(text)
                   if h.get("duration") is not None)
    return out


def hold_edges(durations: Sequence[float], limits: Sequence[float]) -> list[float]:
    """Bins from 0 of a ``HOLD_BINS_PER_LIMIT``th of the shortest limit, so that a bin edge
    falls on the limit, far enough for the longest hold and every limit."""
    width = min(limits) / HOLD_BINS_PER_LIMIT
    count = math.floor(max([*durations, *limits]) / width) + 1
    return [width * i for i in range(count + 1)]


def holds_table(calls: pd.DataFrame, durations: Sequence[float],
                limits: Sequence[float]) -> Table:
    done = analysed(calls)
    rows: tuple[tuple[Cell, ...], ...] = (
        ("holds", int(done["holds.count"].fillna(0).sum())),
        ("calls with a hold", int((done["holds.count"].fillna(0) > 0).sum())),
        ("total s", float(done["holds.total_s"].fillna(0).sum())),
        ("mean s", float(np.mean(durations)) if durations else None),
        ("longest s", max(durations) if durations else None),
        *((f"longer than the limit of {x:g} s", sum(d > x for d in durations))
          for x in limits))
    return Table("holds", "Holds", ("", "value"), rows)


def dead_air_table(calls: pd.DataFrame) -> Table:
    done = analysed(calls)
    count = int(done["dead_air.count"].fillna(0).sum())
    rows: tuple[tuple[Cell, ...], ...] = (
        ("dead air spells", count),
        ("calls with dead air", int((done["dead_air.count"].fillna(0) > 0).sum())),
        ("total s", float(done["dead_air.total_s"].fillna(0).sum())),
        ("spells per hour of talk", per_hour(count, talk_hours(calls))))
    return Table("dead-air", "Dead air", ("", "value"), rows)


def run_facts(run: dict[str, Any], calls: pd.DataFrame) -> Table:
    """The run's header: what ran, on what, and how the calls ended."""
    statuses = run.get("status_counts") or calls["status"].value_counts().to_dict()
    rows: list[tuple[Cell, ...]] = [
        ("callmonitor version", run.get("version")),
        ("engine", f"{run.get('engine')} ({run.get('jobs')} jobs)"),
        ("calls", int(run.get("inputs", len(calls)))),
        *((f"calls {status}", int(n)) for status, n in sorted(statuses.items())),
        ("audio hours", float(calls["duration_s"].fillna(0).sum()) / SECONDS_PER_HOUR),
        ("talk hours (agent + customer)", talk_hours(calls)),
        ("models", _text(run.get("models"))),
        ("config hash", run.get("config_hash")),
        ("started", run.get("started_at")), ("ended", run.get("ended_at"))]
    return Table("run", "The run", ("", "value"), tuple(rows))


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value)
    return "" if value is None else str(value)


def failed_calls(calls: pd.DataFrame) -> Table:
    failed = calls[calls["status"] == "failed"]
    rows = tuple((str(p), _text(e)) for p, e in zip(failed["path"], failed["error"], strict=True))
    return Table("failed", "Failed calls", ("path", "error"), rows)
