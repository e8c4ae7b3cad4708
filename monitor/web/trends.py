"""The ``trends`` blueprint: how an agent, or the whole floor, does week by week.

``/trends`` charts, per week (Monday to Sunday in the user's time zone), the mean QA score,
the alerts of each rule per hour of calls (alerts over the summed length of the week's
calls), the agent's mean pace, their mean share of the talk and the mean handle time (call
length), over the ``[web] trend_weeks`` weeks up to the latest with a finished call.
``?agent=NAME`` is one agent's page; without it a supervisor sees the team. An agent sees
only their own page (any other is "not found"). ``/trends.json`` gives the same figures.

The charts are SVG drawn on the server: no script, nothing the page's CSP forbids.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from statistics import fmean
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, jsonify, render_template, request

from monitor.storage.sessions import agents, day_start_utc
from monitor.storage.trends import TrendRow, latest_start, trend_rows
from monitor.web.context import settings, time_zone, user
from monitor.web.labels import rule_label

bp = Blueprint("trends", __name__)

# The charts' drawing box (SVG user units; the page scales it to the column's width).
CHART_W, CHART_H, PAD_L, PAD_R, PAD_T, PAD_B = 320.0, 150.0, 40.0, 10.0, 10.0, 24.0


@bp.get("/trends")
def page() -> str:
    report = trend_report(_agent_asked())
    cfg = settings()
    return render_template("trends.html", report=report, charts=charts(report),
                           agents=agents(cfg.location) if user().sees_all else [])


@bp.get("/trends.json", endpoint="json")
def export_json() -> Response:
    return jsonify(trend_report(_agent_asked()))


def _agent_asked() -> str | None:
    """Whose trends: ``?agent=``, for a supervisor (None: the team); an agent's own only."""
    asked = request.args.get("agent")
    who = user()
    if who.sees_all:
        return asked
    if not who.sees_any or (asked is not None and asked != who.agent):
        abort(404)
    return who.agent


def trend_report(agent: str | None) -> dict[str, Any]:
    """The weeks' figures for ``agent`` (None: everyone), in the user's time zone."""
    cfg = settings()
    zone = time_zone()
    latest = latest_start(cfg.location, agent)
    weeks: list[dict[str, Any]] = []
    if latest is not None:
        first = week_of(latest, zone) - timedelta(weeks=cfg.cfg.web.trend_weeks - 1)
        weeks = weekly(trend_rows(cfg.location, agent, day_start_utc(first, zone)), zone)
    rules = sorted({rule for week in weeks for rule in week["alerts_per_hour"]})
    return {"agent": agent, "time_zone": zone, "rate_unit": cfg.cfg.rate_unit,
            "rules": rules, "weeks": weeks}


def week_of(started_at: str, zone: str) -> date:
    """The Monday of the week (in ``zone``) a stored UTC time falls in."""
    day = datetime.fromisoformat(started_at).astimezone(ZoneInfo(zone)).date()
    return day - timedelta(days=day.weekday())


def weekly(rows: list[TrendRow], zone: str) -> list[dict[str, Any]]:
    """The figures of each week that has a session, oldest first."""
    by_week: dict[date, list[TrendRow]] = defaultdict(list)
    for row in rows:
        by_week[week_of(row.started_at, zone)].append(row)
    return [week_figures(week, by_week[week]) for week in sorted(by_week)]


def week_figures(week: date, rows: list[TrendRow]) -> dict[str, Any]:
    """One week: means over the sessions that have each figure, alerts per hour of calls."""
    seconds = sum(row.duration_s or 0.0 for row in rows)
    alerts: Counter[str] = Counter()
    for row in rows:
        alerts.update(row.alerts_by_rule)
    return {
        "week": week.isoformat(), "calls": len(rows), "call_hours": seconds / 3600.0,
        "score": _mean(row.score for row in rows),
        "handle_time_s": _mean(row.duration_s for row in rows),
        "pace": _mean(row.summary.get("agent_rate_cpm") for row in rows),
        "talk_share": _mean(row.summary.get("talk_ratio_agent") for row in rows),
        "alerts_per_hour": ({rule: n * 3600.0 / seconds for rule, n in sorted(alerts.items())}
                            if seconds else {}),
    }


def _mean(values: Any) -> float | None:
    present = [float(v) for v in values if isinstance(v, int | float)]
    return fmean(present) if present else None


def charts(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every chart of the page: its title and the drawing of its weekly line."""
    weeks = report["weeks"]
    unit = {"cpm": "chars/min", "wpm": "words/min"}.get(report["rate_unit"], "")
    series = [("QA score", "score", [w["score"] for w in weeks]),
              (f"Agent pace ({unit})", "pace", [w["pace"] for w in weeks]),
              ("Agent share of talk (%)", "talk_share",
               [None if w["talk_share"] is None else 100.0 * w["talk_share"] for w in weeks]),
              ("Handle time (min)", "handle_time",
               [None if w["handle_time_s"] is None else w["handle_time_s"] / 60.0
                for w in weeks])]
    series += [(f"{rule_label(rule)} alerts per hour", f"rule-{rule}",
                [w["alerts_per_hour"].get(rule, 0.0) if w["call_hours"] else None
                 for w in weeks]) for rule in report["rules"]]
    labels = [w["week"][5:] for w in weeks]
    return [{"title": title, "key": key, **drawing(labels, values)}
            for title, key, values in series]


def drawing(labels: list[str], values: list[float | None]) -> dict[str, Any]:
    """Where a line chart's points, axis and labels go in the SVG box."""
    known = [v for v in values if v is not None]
    low = min(0.0, *known) if known else 0.0
    high = max(known) if known else 1.0
    high = high if high > low else low + 1.0
    inner_w, inner_h = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B
    step = inner_w / max(1, len(values) - 1)

    def x(i: int) -> float:
        return round(PAD_L + (i * step if len(values) > 1 else inner_w / 2), 1)

    def y(v: float) -> float:
        return round(PAD_T + inner_h * (1 - (v - low) / (high - low)), 1)

    points = [{"x": x(i), "y": y(v), "value": v, "label": labels[i]}
              for i, v in enumerate(values) if v is not None]
    return {"width": CHART_W, "height": CHART_H, "points": points,
            "line": " ".join(f"{p['x']},{p['y']}" for p in points),
            "low": low, "high": high, "y_low": y(low), "y_high": y(high),
            "left": PAD_L, "right": CHART_W - PAD_R, "bottom": CHART_H - PAD_B + 14,
            "ticks": [{"x": x(i), "label": label} for i, label in enumerate(labels)
                      if i in (0, len(labels) - 1) or len(labels) <= 6]}
