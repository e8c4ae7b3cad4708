"""`callmonitor report DIR` on batch outputs built by hand (tables written with pyarrow as
the batch schema says), whose numbers are known: three calls of 0.75 h, 0.5 h and 0.25 h of
talk, three dead-air alerts among them (2.0 per hour of talk), and so on; the limits the
values sit around are read from the profile's configuration, as the report reads them.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitor.config import RULE_IDS, load_config
from testkit.html_tables import Tables

REPO = Path(__file__).resolve().parents[2]
CFG = load_config("zh-CN")
BAND = CFG.rules.rate_too_fast, CFG.rules.rate_too_slow
MAX_RINGS = CFG.rules.ring_late_pickup.max_rings
HOLD_LIMIT = CFG.rules.hold_too_long.limit_s

CALL_TYPES: dict[str, pa.DataType] = {
    "path": pa.string(), "sha256": pa.string(), "config_hash": pa.string(),
    "status": pa.string(), "error": pa.string(), "elapsed_s": pa.float64(),
    "duration_s": pa.float64(), "profile": pa.string(), "language": pa.string(),
    "company": pa.string(), "agent_name": pa.string(), "asr_backend": pa.string(),
    "asr_model": pa.string(), "rate_unit": pa.string(), "rings_before_pickup": pa.int64(),
    "pickup_t": pa.float64(), "agent_rate_cpm": pa.float64(), "score": pa.float64(),
    "talk_s.agent": pa.float64(), "talk_s.customer": pa.float64(), "holds": pa.string(),
    "dead_air": pa.string(), "holds.count": pa.int64(), "holds.total_s": pa.float64(),
    "dead_air.count": pa.int64(), "dead_air.total_s": pa.float64(),
    **{f"alerts.{rule}": pa.int64() for rule in RULE_IDS}}
ALERT_TYPES: dict[str, pa.DataType] = {
    "path": pa.string(), "sha256": pa.string(), "t": pa.float64(), "rule": pa.string(),
    "severity": pa.string(), "message": pa.string(), "say": pa.string(),
    "start": pa.float64(), "evidence": pa.string()}


def call(name: str, *, agent: str | None, talk: tuple[float, float], score: float,
         pace: float | None, rings: int, holds: list[float], dead_air: list[float],
         alerts: list[str], profile: str = "zh-CN",
         ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One complete call's row and its alert rows."""
    path = f"/calls/{name}.wav"
    cfg = load_config(profile)
    row: dict[str, Any] = {
        "path": path, "sha256": name * 8, "config_hash": "c0ffee", "status": "complete",
        "duration_s": sum(talk), "profile": profile, "language": cfg.language,
        "agent_name": agent, "asr_backend": "whisper", "asr_model": "base",
        "rate_unit": cfg.rate_unit,
        "rings_before_pickup": rings, "agent_rate_cpm": pace, "score": score,
        "talk_s.agent": talk[0], "talk_s.customer": talk[1],
        "holds": json.dumps([{"start": 10.0, "end": 10.0 + d, "duration": d} for d in holds]),
        "dead_air": json.dumps([{"start": 1.0, "end": 1.0 + d} for d in dead_air]),
        "holds.count": len(holds), "holds.total_s": sum(holds),
        "dead_air.count": len(dead_air), "dead_air.total_s": sum(dead_air),
        **{f"alerts.{rule}": alerts.count(rule) for rule in RULE_IDS}}
    return row, [{"path": path, "sha256": row["sha256"], "t": 5.0 + i, "rule": rule,
                  "severity": "warn", "message": rule, "say": "", "start": 5.0 + i,
                  "evidence": "{}"} for i, rule in enumerate(alerts)]


def failed(name: str, error: str) -> dict[str, Any]:
    return {"path": f"/calls/{name}.wav", "sha256": name * 8, "status": "failed",
            "error": error}


def write_batch(folder: Path, calls: list[tuple[dict[str, Any], list[dict[str, Any]]]],
                failures: Sequence[dict[str, Any]] = ()) -> Path:
    """A batch output folder: calls.parquet, alerts.parquet and run.json."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [c[0] for c in calls] + list(failures)
    alerts = [a for c in calls for a in c[1]]
    pq.write_table(pa.Table.from_pylist(rows, pa.schema(CALL_TYPES)), folder / "calls.parquet")
    pq.write_table(pa.Table.from_pylist(alerts, pa.schema(ALERT_TYPES)),
                   folder / "alerts.parquet")
    statuses = {"complete": len(calls), "failed": len(failures)}
    (folder / "run.json").write_text(json.dumps({
        "version": "0.1.0", "config_hash": "c0ffee", "engine": "local", "jobs": 2,
        "models": {"backend": "whisper", "model": "base", "path": "/models/base"},
        "inputs": len(rows), "status_counts": statuses, "started_at": "2026-12-05T06:00:00Z",
        "ended_at": "2026-12-05T06:01:00Z", "argv": ["batch"]}))
    return folder


def three_calls() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    fast, slow = BAND
    return [
        call("a", agent="小王", talk=(1800.0, 900.0), score=85.0, pace=fast.target_per_min + 10,
             rings=0, holds=[HOLD_LIMIT - 10, HOLD_LIMIT + 10], dead_air=[6.0],
             alerts=["dead_air"]),
        call("b", agent="小王", talk=(900.0, 900.0), score=55.0, pace=fast.too_fast_above + 10,
             rings=MAX_RINGS + 2, holds=[], dead_air=[6.0, 8.0],
             alerts=["ring.late_pickup", "dead_air", "dead_air", "rate.too_fast"]),
        call("c", agent=None, talk=(450.0, 450.0), score=95.0, pace=slow.too_slow_below - 10,
             rings=MAX_RINGS - 1, holds=[], dead_air=[], alerts=["rate.too_slow"]),
    ]


def report(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", "report", str(folder), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Tables]:
    folder = write_batch(tmp_path_factory.mktemp("batch"), three_calls(),
                         [failed("d", "d.wav: not a WAV file (RIFF header missing)")])
    done = report(folder)
    assert done.returncode == 0, done.stderr
    index = folder / "report" / "index.html"
    assert str(index) in done.stdout
    return index, Tables(index.read_text(encoding="utf-8"))


def test_alert_rates_are_per_hour_of_agent_plus_customer_talk(page):
    rates = page[1].rows("alert-rates")
    assert set(rates) == set(RULE_IDS)  # every rule of the run, fired or not
    # 1.5 h of talk: 3 dead-air alerts in 2 calls is 2.0 an hour; 1 late pickup 0.667.
    assert rates["dead_air"] == ["3", "2", "2"]
    assert rates["ring.late_pickup"] == ["1", "1", "0.667"]
    assert rates["interruption"] == ["0", "0", "0"]
    assert any("talk_s.agent + talk_s.customer" in n for n in page[1].notes)


def test_scores_and_agents(page):
    scores = page[1].tables["scores"][1:]
    assert [int(r[2]) for r in scores] == [0, 0, 0, 0, 0, 1, 0, 0, 1, 1]
    agents = page[1].rows("agents")
    # agent: calls, talk h, alerts, per hour, mean score, mean pace
    fast = BAND[0]
    assert agents["小王"][:5] == ["2", "1.25", "5", "4", "70"]
    assert float(agents["小王"][5]) == pytest.approx(
        (fast.target_per_min + fast.too_fast_above + 20) / 2)
    assert agents["(no name)"][:5] == ["1", "0.25", "1", "4", "95"]


def test_pace_against_the_profile_band_and_rings_against_its_limit(page):
    band = page[1].tables["pace-band-zh-CN"][1:]
    assert [r[1] for r in band] == ["1", "1", "1"]  # below, inside, above
    assert f"target {BAND[0].target_per_min:g}" in band[1][0]
    paces = page[1].tables["pace-zh-CN"][1:]
    assert sum(int(r[2]) for r in paces) == 3
    rings = page[1].rows("rings-zh-CN")
    assert {int(k): int(v[0]) for k, v in rings.items() if v[0] != "0"} == {
        0: 1, MAX_RINGS - 1: 1, MAX_RINGS + 2: 1}
    assert [int(k) for k, v in rings.items() if v[1] == "yes"] == list(
        range(MAX_RINGS + 1, MAX_RINGS + 3))


def test_holds_and_dead_air(page):
    holds = page[1].rows("holds")
    assert holds["holds"] == ["2"] and holds["calls with a hold"] == ["1"]
    assert float(holds["total s"][0]) == pytest.approx(2 * HOLD_LIMIT)
    assert float(holds["longest s"][0]) == pytest.approx(HOLD_LIMIT + 10)
    assert holds[f"longer than the limit of {HOLD_LIMIT:g} s"] == ["1"]
    assert sum(int(r[2]) for r in page[1].tables["hold-durations"][1:]) == 2
    dead = page[1].rows("dead-air")
    assert dead["dead air spells"] == ["3"] and dead["calls with dead air"] == ["2"]
    assert dead["total s"] == ["20"] and dead["spells per hour of talk"] == ["2"]


def test_the_header_has_the_run_and_the_failed_calls(page):
    run = page[1].rows("run")
    assert run["callmonitor version"] == ["0.1.0"]
    assert run["calls complete"] == ["3"] and run["calls failed"] == ["1"]
    assert run["audio hours"] == ["1.5"]  # 2700 + 1800 + 900 s
    assert "base" in run["models"][0]
    assert page[1].rows("failed") == {
        "/calls/d.wav": ["d.wav: not a WAV file (RIFF header missing)"]}


def test_every_chart_is_embedded_and_written_beside_the_page(page):
    index, tables = page
    charts = {img["id"].removeprefix("chart-"): img["src"] for img in tables.images}
    assert set(charts) == {"alert-rates", "scores", "agents", "pace-zh-CN", "rings-zh-CN",
                           "hold-durations"}
    for name, src in charts.items():
        assert name in tables.tables  # its numbers are a table on the page
        png = base64.b64decode(src.removeprefix("data:image/png;base64,"))
        assert png.startswith(b"\x89PNG") and (index.parent / f"{name}.png").read_bytes() == png


def test_a_run_where_every_call_failed_still_gives_a_page_that_says_so(tmp_path):
    folder = write_batch(tmp_path / "b", [], [failed("x", "x.wav: empty file"),
                                              failed("y", "y.wav: empty file")])
    out = tmp_path / "elsewhere" / "r.html"
    assert report(folder, "--out", str(out)).returncode == 0
    tables = Tables(out.read_text(encoding="utf-8"))
    assert tables.images == []
    assert any("No call was analysed" in n for n in tables.notes)
    assert set(tables.rows("failed")) == {"/calls/x.wav", "/calls/y.wav"}


def test_one_call_without_alerts_pace_or_name(tmp_path):
    row = call("s", agent=None, talk=(60.0, 30.0), score=100.0, pace=None, rings=1,
               holds=[], dead_air=[], alerts=[])
    tables = Tables(report_page(write_batch(tmp_path / "b", [row])))
    assert {r[0] for r in tables.tables["alert-rates"][1:]} == set(RULE_IDS)
    assert all(r[1] == "0" for r in tables.tables["alert-rates"][1:])
    assert list(tables.rows("agents")) == ["(no name)"]
    for said in ("No alerts", "No call has an agent name", "No call has a speaking rate",
                 "No holds", "No dead air"):
        assert any(said in n for n in tables.notes), said
    assert {i["id"] for i in tables.images} == {"chart-scores", "chart-agents",
                                                "chart-rings-zh-CN"}


def test_each_profile_has_its_band_and_limits_with_the_site_file_over_them(tmp_path):
    site = tmp_path / "site.toml"
    site.write_text(f'[rules."ring.late_pickup"]\nmax_rings = {MAX_RINGS + 2}\n'
                    f'[rules."rate.too_slow"]\ntoo_slow_below = {BAND[1].too_slow_below - 20}\n')
    en = load_config("en-US", site=site).rules
    rows = [call("z", agent="小王", talk=(60.0, 60.0), score=90.0,
                 pace=BAND[1].too_slow_below - 10, rings=MAX_RINGS + 1, holds=[],
                 dead_air=[], alerts=[]),
            call("e", agent="Anna", talk=(60.0, 60.0), score=80.0,
                 pace=en.rate_too_slow.too_slow_below + 5, rings=0, holds=[], dead_air=[],
                 alerts=[], profile="en-US")]
    tables = Tables(report_page(write_batch(tmp_path / "b", rows), "--config", str(site)))
    # Without the site file the zh-CN call would be too slow and its pickup late.
    assert [r[1] for r in tables.tables["pace-band-zh-CN"][1:]] == ["0", "1", "0"]
    assert [r[1] for r in tables.tables["pace-band-en-US"][1:]] == ["0", "1", "0"]
    assert "wpm" in tables.tables["pace-band-en-US"][2][0]
    assert f"below {en.rate_too_slow.too_slow_below:g}" in tables.tables["pace-band-en-US"][1][0]
    zh_rings = tables.rows("rings-zh-CN")
    assert max(int(k) for k in zh_rings) == MAX_RINGS + 3
    assert not [k for k, v in zh_rings.items() if v[1] == "yes" and v[0] != "0"]
    assert [k for k, v in zh_rings.items() if v[1] == "yes"] == [str(MAX_RINGS + 3)]
    assert tables.rows("rings-en-US")["0"][0] == "1"


def report_page(folder: Path, *args: str) -> str:
    done = report(folder, *args)
    assert done.returncode == 0, done.stderr
    return (folder / "report" / "index.html").read_text(encoding="utf-8")


def test_a_folder_without_a_batch_output_is_a_one_line_error(tmp_path):
    done = report(tmp_path)
    assert done.returncode == 2
    assert "no calls.parquet" in done.stderr and "Traceback" not in done.stderr

