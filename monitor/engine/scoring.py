"""The QA score: the weighted share of the checks a call passed, a check passing while the
call has raised none of its rule's alerts. One function, so the summary's score at the end and
the live floor's score while the call runs (``monitor.storage.live``) are the same figure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def qa_score(weights: Mapping[str, float],
             alerts: Mapping[str, int]) -> tuple[float | None, list[dict[str, Any]]]:
    """The score (0-100, one decimal; None when no check is made) and the checks as the
    summary lists them, for the checks ``weights`` names and the alert counts so far."""
    passed = {rule: alerts.get(rule, 0) == 0 for rule in weights}
    checks = [{"rule": rule, "weight": weight, "passed": passed[rule]}
              for rule, weight in weights.items()]
    total = sum(weights.values())
    earned = sum(weight for rule, weight in weights.items() if passed[rule])
    return (round(100.0 * earned / total, 1) if total else None), checks
