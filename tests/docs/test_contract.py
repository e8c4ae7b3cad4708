"""docs/contract.md against what ``replay --json`` really prints.

Other tools parse the JSON lines, so the contract page must stay true: every record type,
key, JSON type, rule id and ordering promise it makes is read from the page itself (not from a
copy here) and checked on real replays: the bundled demo call without recognition, its agent
side alone (a mono recording: the skipped rules' keys are null), and a short synthesised call
with Whisper, softphone events, a hold and alerts.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.engine.rules import RULES
from monitor.frames import DeviceNotice, Hint, Record

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "docs" / "contract.md"
DESIGN = REPO.parent / "shared" / "DESIGN.md"
DEMO = REPO / "demo" / "demo_call.wav"
RULE_IDS = {r for cls in RULES for r in cls.rule_ids()}

_ROW = re.compile(r"^\| `([^`]+)` \| (.*) \|$")
_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


@dataclass(frozen=True)
class Key:
    """One documented key: the JSON types it may take and when a record carries it
    (``always``, ``live`` or a condition in words)."""

    types: tuple[str, ...]
    present: str

    @property
    def always(self) -> bool:
        return self.present == "always"


def _tables(text: str) -> dict[str, list[tuple[str, list[str]]]]:
    """Every table row that starts with a backticked name, under the heading it sits in."""
    tables: dict[str, list[tuple[str, list[str]]]] = {}
    heading = ""
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif m := _ROW.match(line):
            tables.setdefault(heading, []).append((m[1], [c.strip() for c in m[2].split("|")]))
    return tables


TABLES = _tables(CONTRACT.read_text(encoding="utf-8"))
SHAPES: dict[str, dict[str, Key]] = {
    heading.strip("`"): {key: Key(tuple(cells[0].split(" or ")), cells[2])
                         for key, cells in rows}
    for heading, rows in TABLES.items() if re.fullmatch(r"`[^`]+`", heading)}
RECORD_TYPES = {name for name in SHAPES if "." not in name}
ORDER = {name: cells[0] for name, cells in TABLES["Order"]}
DOC_RULES = {rule: ({s.strip() for s in cells[0].split(",")},
                    set(re.findall(r"`([^`]+)`", cells[1])))
             for rule, cells in TABLES["Rule ids"]}


def shape_problems(obj: dict[str, Any], shape: str) -> list[str]:
    """What in ``obj`` the ``shape`` table does not allow, nested shapes included."""
    keys = SHAPES[shape]
    problems = [f"{shape}: `{k}` missing" for k, key in keys.items()
                if key.always and k not in obj]
    for k, value in obj.items():
        if k not in keys:
            problems.append(f"{shape}: `{k}` not documented")
            continue
        if not any(_JSON_TYPES[t](value) for t in keys[k].types):
            problems.append(f"{shape}: `{k}` = {value!r} is not {' or '.join(keys[k].types)}")
        if isinstance(value, list) and f"{shape}.{k}[]" in SHAPES:
            for item in value:
                problems += (shape_problems(item, f"{shape}.{k}[]") if isinstance(item, dict)
                             else [f"{shape}.{k}[]: {item!r} is not an object"])
        elif isinstance(value, dict) and f"{shape}.{k}" in SHAPES:
            problems += shape_problems(value, f"{shape}.{k}")
    return problems


# -- the page itself -------------------------------------------------------------------------


def test_the_page_documents_every_record_type_the_code_has_and_no_other():
    assert {cls.type for cls in get_args(Record)} == RECORD_TYPES
    for shape in SHAPES.values():
        assert all(set(key.types) <= set(_JSON_TYPES) for key in shape.values()), shape


def test_every_record_type_has_type_and_t_and_the_order_table_names_only_record_types():
    for name in RECORD_TYPES:
        assert SHAPES[name]["type"].always and SHAPES[name]["t"] == Key(("number",), "always")
    assert set(ORDER) <= RECORD_TYPES
    assert set(ORDER.values()) <= {"all", "per channel", "per name"}


def test_the_page_lists_every_rule_id_with_its_severities_and_evidence():
    assert set(DOC_RULES) == RULE_IDS
    for severities, evidence in DOC_RULES.values():
        assert severities and severities <= {"info", "warn", "violation"}
        assert evidence


def _design_contract() -> str:
    if not DESIGN.exists():
        pytest.skip(f"{DESIGN} is not beside this checkout")
    text = DESIGN.read_text(encoding="utf-8")
    return text[text.index("## Contracts other tools rely on"):]


def test_the_page_holds_every_record_type_and_key_design_md_names():
    types_paragraph = _design_contract().split("```")[0].split("Types:")[1]
    named = dict(re.findall(r"`(\w+)` \(([^)]*)\)", types_paragraph))
    types = set(re.findall(r"`(\w+)`", types_paragraph))
    assert {"speech", "utterance", "alert", "summary"} <= types <= RECORD_TYPES
    for name, keys in named.items():
        firsts = {part.split()[0] for part in keys.split(",")}
        assert firsts <= set(SHAPES[name]), name


def test_the_page_holds_every_summary_key_design_md_names():
    block = _design_contract().split("```")[1]
    nested = dict(re.findall(r"(\w+): \[\{([^}]*)\}\]", block))
    top = re.sub(r"\[[^]]*\]|\{[^}]*\}|\([^)]*\)", "", block)
    minimum = {part.strip().rstrip(":").strip() for part in re.split(r"[,\n]", top)} - {""}
    assert "rules_skipped" in minimum and "holds" in nested  # the block was read as meant
    summary = SHAPES["summary"]
    assert [k for k in sorted(minimum) if k not in summary or not summary[k].always] == []
    for key, fields in nested.items():
        assert {f.strip() for f in fields.split(",")} <= set(SHAPES[f"summary.{key}[]"]), key


def test_live_only_records_are_what_the_page_says():
    """Hints and device notices need a headset and devices: their records are made here."""
    hint = Hint(12.34, "dead_air", "请回应客户", 12.0, played=True).to_json()
    lost = DeviceNotice(3.0, "pulse:mic", ("agent",), "lost", "no audio").to_json()
    assert shape_problems(hint, "hint") == []
    assert shape_problems(lost, "device") == []


# -- real replays ----------------------------------------------------------------------------

CALL_EVENTS = """\
{"t": 0.2, "event": "ring"}
{"t": 6.5, "event": "answer"}
{"t": 21.0, "event": "hold", "transfer": false}
{"t": 31.0, "event": "resume"}
{"t": 43.5, "event": "hangup", "by": "customer"}
"""
"""The softphone's log for the hold_no_thanks scenario: every kind of event, the hold inside
the announced silence, the hang-up before the recording ends."""


@pytest.fixture(scope="module",
                params=["demo", "mono", pytest.param("whisper", marks=pytest.mark.slow)])
def replay(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> list[dict[str, Any]]:
    """The records of one ``replay --json``, run in-process as a user would run it."""
    tmp = tmp_path_factory.mktemp("contract")
    args = ["replay", "--json", "--db", str(tmp / "s.sqlite3")]
    if request.param == "demo":
        args += [str(DEMO), "--asr", "none"]
    elif request.param == "mono":
        mono = tmp / "agent.wav"
        subprocess.run(["sox", DEMO, "-r", "16000", "-b", "16", "-e", "signed", mono,
                        "remix", "1"], check=True)
        args += [str(mono), "--asr", "none"]
    else:
        request.getfixturevalue("whisper_zh")  # the model, loaded once for the whole session
        events = tmp / "events.jsonl"
        events.write_text(CALL_EVENTS)
        wav = request.getfixturevalue("synth_call")("rules/hold_no_thanks").wav
        args += [str(wav), "--asr", "whisper", "--call-events", str(events)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_the_replay_exercises_what_it_is_meant_to_check(replay):
    """A contract check that never saw an utterance or a hold proves nothing about them."""
    types = {r["type"] for r in replay}
    if "customer" not in replay[-1]["talk_s"]:
        assert types >= {"speech", "pickup", "summary"}
        assert replay[-1]["dead_air"] is None and replay[-1]["talk_ratio_agent"] is None
    elif replay[-1]["asr_backend"] is None:
        assert types >= {"speech", "ring", "pickup", "alert", "summary"}
    else:
        assert types >= {"speech", "utterance", "pickup", "hold_start", "hold_end", "alert",
                         "metric", "call_event", "summary"}
        assert {r["event"] for r in replay if r["type"] == "call_event"} == {
            "ring", "answer", "hold", "resume", "hangup"}
        # The summary names the recogniser that made the words, and its model.
        assert (replay[-1]["asr_backend"], replay[-1]["asr_model"]) == (
            "whisper", "faster-whisper-base")


def test_every_record_is_a_documented_type_with_documented_keys_and_types(replay):
    problems = [f"record {i}: {p}" for i, r in enumerate(replay)
                for p in (shape_problems(r, r["type"]) if r.get("type") in RECORD_TYPES
                          else [f"type {r.get('type')!r} not documented"])]
    assert problems == []


def test_exactly_one_summary_and_it_is_last_without_the_live_keys(replay):
    assert [r["type"] for r in replay].count("summary") == 1
    assert replay[-1]["type"] == "summary"
    live = {k for k, key in SHAPES["summary"].items() if key.present == "live"}
    assert live and not live & set(replay[-1])
    assert replay[-1]["duration_s"] == replay[-1]["t"]
    assert replay[-1]["status"] == "complete"


def test_records_are_in_time_order_where_the_page_says_so(replay):
    for name, scope in ORDER.items():
        field = {"all": None, "per channel": "channel", "per name": "name"}[scope]
        streams: dict[Any, list[float]] = {}
        for r in replay:
            if r["type"] == name:
                streams.setdefault(r.get(field) if field else None, []).append(r["t"])
        for times in streams.values():
            assert times == sorted(times), (name, times)


def test_holds_alternate_pickup_comes_once_and_nothing_passes_the_end(replay):
    holds = [r for r in replay if r["type"] in ("hold_start", "hold_end")]
    assert [r["type"] for r in holds] == ["hold_start", "hold_end"] * (len(holds) // 2) + (
        ["hold_start"] if len(holds) % 2 else [])
    for started, ended in zip(holds[::2], holds[1::2], strict=False):
        assert ended["start"] == started["t"]
    assert [r["type"] for r in replay].count("pickup") <= 1
    end = replay[-1]["t"]
    assert all(r["t"] <= end for r in replay if r["type"] != "call_event")


def test_alerts_carry_a_listed_rule_its_severities_and_exactly_its_evidence(replay):
    alerts = [r for r in replay if r["type"] == "alert"]
    for alert in alerts:
        severities, evidence = DOC_RULES[alert["rule"]]
        assert alert["severity"] in severities, alert
        assert set(alert["evidence"]) == evidence, alert
    assert set(replay[-1]["alerts_by_rule"]) == {a["rule"] for a in alerts}
    assert {c["rule"] for c in replay[-1]["checks"]} <= set(DOC_RULES)
