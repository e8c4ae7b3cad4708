"""``callmonitor report DIR``: a batch output's tables turned into one self-contained HTML page
(charts embedded as data URIs) with the same charts written beside it as PNG files.

The limits the charts mark (pace band, rings, hold limit) are read from each call's profile
through ``monitor.config`` with the same site file a batch takes, never written here. Every
chart's numbers are also a table on the page (``figures``), and a run with nothing to show in
a section (no alerts, every call failed, no agent names, no pace without recognition) says so
in that section instead of drawing an empty chart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from monitor.batch import figures as fig
from monitor.batch.charts import Mark, bar_chart, histogram_chart, panels_chart
from monitor.batch.page import Section, render
from monitor.config import Config, load_config
from monitor.errors import CallmonitorError

TALK_NOTE = ("Hours of talk are the agent's talk plus the customer's (talk_s.agent + "
             "talk_s.customer): speech in overlap counts twice.")


@dataclass(frozen=True)
class Batch:
    """What ``callmonitor batch`` wrote: the calls and alerts tables and run.json."""

    calls: pd.DataFrame
    alerts: pd.DataFrame
    run: dict[str, Any]


def load_batch(folder: Path) -> Batch:
    """Read DIR's calls.parquet, alerts.parquet and run.json (a missing run.json is left
    empty: the tables are the report's substance)."""
    calls_path = folder / "calls.parquet"
    if not calls_path.is_file():
        raise CallmonitorError(f"{folder} has no calls.parquet",
                               "give the --out folder of a finished `callmonitor batch`")
    alerts_path = folder / "alerts.parquet"
    alerts = (pd.read_parquet(alerts_path) if alerts_path.is_file()
              else pd.DataFrame({"path": [], "rule": []}))
    run_path = folder / "run.json"
    run = json.loads(run_path.read_text(encoding="utf-8")) if run_path.is_file() else {}
    return Batch(pd.read_parquet(calls_path), alerts, run)


def build(batch: Batch, site: Path | None = None) -> list[Section]:
    """Every section of the report, in page order."""
    run = Section("run", "The run", tables=[fig.run_facts(batch.run, batch.calls)])
    failed = fig.failed_calls(batch.calls)
    run.notes.append(f"{len(failed.rows)} call(s) failed." if failed.rows
                     else "No call failed.")
    if failed.rows:
        run.tables.append(failed)
    done = fig.analysed(batch.calls)
    if done.empty:
        return [run, Section("analysis", "Analysis",
                             ["No call was analysed (every call failed, or there were none): "
                              "there is nothing to chart."])]
    profiles = sorted(str(p) for p in done["profile"].dropna().unique())
    configs = {p: load_config(p, site=site) for p in profiles}
    return [run, _alerts(batch), _scores(batch), _agents(batch),
            *(s for p in profiles for s in _profile_sections(batch, p, configs[p])),
            _holds(batch, configs), _dead_air(batch)]


def _alerts(batch: Batch) -> Section:
    table = fig.alert_rates(batch.calls, batch.alerts)
    section = Section("alert-rates", "Alerts per hour of talk", [TALK_NOTE], [table])
    if batch.alerts.empty:
        section.notes.append("No alerts in this run.")
    elif fig.talk_hours(batch.calls) <= 0:
        section.notes.append("No talk in this run: rates per hour cannot be given.")
    else:
        section.charts.append(bar_chart(
            table.key, table.caption, [str(r[0]) for r in table.rows],
            [float(r[3] or 0.0) for r in table.rows], "alerts per hour of talk"))
    return section


def _scores(batch: Batch) -> Section:
    hist = fig.scores(batch.calls)
    table = hist.table("scores", "QA score distribution", "score")
    section = Section("scores", "QA scores", tables=[table])
    if sum(hist.counts):
        section.charts.append(histogram_chart(table.key, table.caption, hist, "QA score"))
    else:
        section.notes.append("No call has a score.")
    return section


def _agents(batch: Batch) -> Section:
    table = fig.per_agent(batch.calls, batch.alerts)
    section = Section("agents", "Agents", [TALK_NOTE], [table])
    if [r[0] for r in table.rows] == [fig.NO_NAME]:
        section.notes.append(f"No call has an agent name: all are grouped as {fig.NO_NAME}.")
    labels = [str(r[0]) for r in table.rows]
    section.charts.append(panels_chart(table.key, table.caption, labels, [
        (measure, [_number(r[i]) for r in table.rows])
        for measure, i in (("mean score", 5), ("alerts per hour of talk", 4),
                           ("mean pace", 6))]))
    return section


def _number(cell: fig.Cell) -> float:
    """A chart's value of a table cell: no value (None) is drawn as no bar."""
    return float(cell) if isinstance(cell, int | float) else float("nan")


def _profile_sections(batch: Batch, profile: str, cfg: Config) -> list[Section]:
    """Pace against the band and rings against the limit, as this profile sets them."""
    done = fig.analysed(batch.calls)
    mine = done[done["profile"] == profile]
    return [_pace(mine["agent_rate_cpm"].dropna().tolist(), profile, fig.Band.of(cfg)),
            _rings([int(r) for r in mine["rings_before_pickup"].dropna()], profile,
                   cfg.rules.ring_late_pickup.max_rings)]


def _pace(values: list[float], profile: str, band: fig.Band) -> Section:
    section = Section(f"pace-{profile}", f"Agent pace ({profile}, {band.unit})")
    if not values:
        section.notes.append("No call has a speaking rate (it needs speech recognition: "
                             "a batch with --asr none has none).")
        return section
    hist = fig.histogram(values, fig.pace_edges(values, band))
    table = hist.table(f"pace-{profile}", f"Agent pace distribution ({profile})",
                       f"pace ({band.unit})")
    section.tables += [table, fig.pace_against_band(values, band, f"pace-band-{profile}")]
    section.charts.append(histogram_chart(
        table.key, table.caption, hist, band.unit,
        [Mark(band.slow_below, f"too slow below {band.slow_below:g}"),
         Mark(band.target, f"target {band.target:g}", target=True),
         Mark(band.fast_above, f"too fast above {band.fast_above:g}")],
        band=(band.slow_below, band.fast_above, "target band")))
    return section


def _rings(values: list[int], profile: str, max_rings: int) -> Section:
    section = Section(f"rings-{profile}", f"Rings before pickup ({profile})")
    if not values:
        section.notes.append("No call has a ring count.")
        return section
    hist = fig.rings(values, max_rings)
    table = fig.ring_table(hist, f"rings-{profile}", max_rings)
    section.tables.append(table)
    section.charts.append(histogram_chart(table.key, table.caption, hist, "rings",
                                          [Mark(max_rings + 0.5, f"limit {max_rings}")]))
    return section


def _holds(batch: Batch, configs: dict[str, Config]) -> Section:
    limits = sorted({c.rules.hold_too_long.limit_s for c in configs.values()})
    durations = fig.hold_durations(batch.calls)
    section = Section("holds", "Holds",
                      tables=[fig.holds_table(batch.calls, durations, limits)])
    if not durations:
        section.notes.append("No holds in this run.")
        return section
    hist = fig.histogram(durations, fig.hold_edges(durations, limits))
    table = hist.table("hold-durations", "Hold durations", "duration (s)", "holds")
    section.tables.append(table)
    section.charts.append(histogram_chart(table.key, table.caption, hist, "seconds",
                                          [Mark(x, f"limit {x:g} s") for x in limits],
                                          ylabel="holds"))
    return section


def _dead_air(batch: Batch) -> Section:
    table = fig.dead_air_table(batch.calls)
    section = Section("dead-air", "Dead air", [TALK_NOTE], [table])
    if not table.rows[0][1]:
        section.notes.append("No dead air in this run.")
    return section


def write_report(folder: Path, out: Path | None = None, site: Path | None = None) -> Path:
    """Write the report of the batch output ``folder`` (default ``folder/report/index.html``)
    and each chart as a PNG beside it; return the page's path."""
    page = out or folder / "report" / "index.html"
    batch = load_batch(folder)
    sections = build(batch, site)
    page.parent.mkdir(parents=True, exist_ok=True)
    for section in sections:
        for chart in section.charts:
            (page.parent / f"{chart.name}.png").write_bytes(chart.png)
    page.write_text(render(f"callmonitor report: {folder}", sections), encoding="utf-8")
    return page
