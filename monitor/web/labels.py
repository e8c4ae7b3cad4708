"""Words and number formats of the review pages: rule names a supervisor reads at a glance,
times, durations and scores."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any
from zoneinfo import ZoneInfo

from monitor.clock import clock as audio_clock
from monitor.config import Config

# Short names for chips and the scorecard; the rule id is always shown beside or in a tooltip.
RULE_LABELS = {
    "ring.late_pickup": "Late pickup",
    "greeting.incomplete": "Greeting",
    "hold.too_long": "Hold too long",
    "hold.unannounced": "Unannounced hold",
    "hold.no_thanks": "No thanks after hold",
    "rate.too_fast": "Too fast",
    "rate.too_slow": "Too slow",
    "filler.excess": "Fillers",
    "interruption": "Interruption",
    "backchannel.missing": "No backchannel",
    "forbidden_phrase": "Taboo phrase",
    "dead_air": "Dead air",
    "closing.incomplete": "Closing",
    "volume.too_loud": "Too loud",
}

# What each check asks of the agent (the scorecard's second line).
RULE_STANDARD = {
    "ring.late_pickup": "Pick up within 3 rings; apologise after more",
    "greeting.incomplete": "Greeting, company and own name first",
    "hold.too_long": "Come back within the hold limit",
    "hold.unannounced": "Announce a hold before it",
    "hold.no_thanks": "Thank the caller for waiting",
    "rate.too_fast": "Speak at the target pace",
    "rate.too_slow": "Speak at the target pace",
    "filler.excess": "Few filler sounds",
    "interruption": "Let the caller finish",
    "backchannel.missing": "Acknowledge a long customer turn",
    "forbidden_phrase": "No service taboos",
    "dead_air": "Never leave the caller in silence",
    "closing.incomplete": "Offer more help, thank, let the caller hang up",
    "volume.too_loud": "Do not speak too loudly",
}

SEVERITIES = ("info", "warn", "violation")

def rule_label(rule: str) -> str:
    return RULE_LABELS.get(rule, rule)


def clock(t: float | None) -> str:
    """Audio time as the timeline shows it: ``67.26`` as ``1:07.3`` (``1:02:05.0`` past an
    hour); tenths are enough to find a moment in the player."""
    return "" if t is None else audio_clock(t, 1, hours=True)


def local_time(iso: str | None, zone: str = "UTC") -> str:
    """A stored UTC time (``2025-05-01T14:03:22+00:00``) as the clock in ``zone`` read then:
    ``2025-05-01 22:03:22`` in Asia/Shanghai (the pages name the zone)."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def shown_message(alert: Mapping[str, Any], profile: Config) -> str:
    """An alert's message as a person reads it. The engine words messages with the profile's
    ``[labels]``; a session stored before it did says ``缺少：greeting, agent_name``, so the
    page words it again from its evidence, and no internal key reaches a page. An alert whose
    evidence the template cannot take keeps its stored message."""
    wording = profile.messages.get(alert.get("rule", ""))
    evidence = alert.get("evidence") or {}
    if wording is None or not evidence:
        return str(alert.get("message", ""))
    try:
        return wording.message.format(**profile.labels.worded(evidence))
    except (KeyError, IndexError, ValueError):
        return str(alert.get("message", ""))


def pieces(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """``text`` in runs, each saying whether it lies in one of ``spans`` (which may overlap),
    for a page to wrap the marked runs in ``<mark>``: the runs are escaped like any text, so
    a line can never inject markup."""
    taken = [False] * len(text)
    for start, end in spans:
        taken[start:end] = [True] * (end - start)
    runs: list[tuple[str, bool]] = []
    for char, marked in zip(text, taken, strict=True):
        if runs and runs[-1][1] == marked:
            runs[-1] = (runs[-1][0] + char, marked)
        else:
            runs.append((char, marked))
    return runs


def duration(seconds: float | None) -> str:
    """``79.84`` as ``1:20``; an hour or more as ``1:02:05``."""
    if seconds is None:
        return ""
    total = round(float(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def score_class(score: float | None) -> str:
    """The CSS class of a QA score: good from 90, fair from 75, else poor."""
    if score is None:
        return "score-none"
    return "score-good" if score >= 90 else "score-fair" if score >= 75 else "score-poor"


def score(value: float | None) -> str:
    """A QA score as the list shows it: ``90.5``, ``100``; none as a dash."""
    if value is None:
        return "—"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def short_source(source: str) -> str:
    """A file's name without its folder (live sources are device descriptions: kept whole)."""
    name = PurePath(source).name
    return name if name and source.lower().endswith((".wav", ".wave")) else source


def number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return ""
    return f"{value:,.{digits}f}"


__all__ = ["RULE_LABELS", "RULE_STANDARD", "SEVERITIES", "clock",
           "duration", "local_time", "number", "pieces", "rule_label", "score",
           "score_class", "short_source", "shown_message"]
