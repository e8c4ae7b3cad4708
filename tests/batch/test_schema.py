"""The calls table's fixed schema against docs/contract.md: every summary key the contract
documents has its column (or its stated other form), so a key added to the summary and the
contract, but not to the batch tables, fails here instead of vanishing from every corpus run."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.batch.tables import CALLS, SUMMARY_ARRAYS, SUMMARY_ELSEWHERE, SUMMARY_OBJECTS

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contract.md"
STORE_ONLY = {"session_id", "kept_audio"}
"""Summary keys of a stored session (replay, live): a batch call is not stored."""


def documented(shape: str) -> dict[str, str]:
    """The keys of one contract table (heading `shape`) and when they are present."""
    keys: dict[str, str] = {}
    heading = ""
    for line in CONTRACT.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif heading == f"`{shape}`" and (m := re.match(r"^\| `([^`]+)` \| (.*) \|$", line)):
            keys[m[1]] = [c.strip() for c in m[2].split("|")][2]
    return keys


def test_every_summary_key_of_a_replayed_call_has_its_place_in_the_calls_table():
    # Keys only a live or a tap session has (their devices, the PBX's legs) cannot be in a
    # corpus of recordings.
    summary = {k for k, present in documented("summary").items()
               if present not in ("live", "tap")}
    assert {"rings_before_pickup", "holds", "greeting"} <= summary  # the page was read
    placed = set(CALLS.names) | set(SUMMARY_OBJECTS) | set(SUMMARY_ELSEWHERE) | STORE_ONLY
    assert sorted(summary - placed) == []


def test_every_summary_object_is_flattened_key_by_key_and_every_array_kept():
    for obj, keys in SUMMARY_OBJECTS.items():
        doc = set(documented(f"summary.{obj}")) if obj != "talk_s" else {"agent", "customer"}
        assert {k for k, _ in keys} == doc, obj
        assert {f"{obj}.{k}" for k, _ in keys} <= set(CALLS.names)
    assert set(SUMMARY_ARRAYS) <= set(CALLS.names)
