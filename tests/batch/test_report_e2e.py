"""``callmonitor batch`` of synthesised calls (timing only, ``--asr none``) from a manifest
that names each call's agent, then ``callmonitor report``: the page's numbers are the
scenarios' truth. The calls are the batch corpus (``testkit.batch_corpus``: two rings and
dead air; a softphone hold; a broken file) and two ring scenarios (five rings answered late,
as FLAC; three rings, at the limit, as MP3), so the rings histogram is the rings the
synthesiser placed and the alerts are the ones the scenarios expect (every expectation of
these calls is a timing rule: recognition is needed for none of them). The same page is then
opened in Chromium.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from monitor.batch.scoring import DEFAULT_TOLERANCE_S
from monitor.config import RULE_IDS, load_config
from testkit.batch_corpus import CLI, REPO, Corpus, batch
from testkit.encode import encode_wav
from testkit.html_tables import Tables

pytestmark = pytest.mark.slow

CFG = load_config("zh-CN")
MAX_RINGS = CFG.rules.ring_late_pickup.max_rings
HOLD_LIMIT = CFG.rules.hold_too_long.limit_s


@dataclass(frozen=True)
class Call:
    """One manifest row: the recording, the agent's name cell and the scenario's truth."""

    path: Path
    agent: str
    truth: dict[str, Any]

    @property
    def rings(self) -> int:
        return len({r["cadence"] for r in self.truth["rings"]})

    @property
    def expected(self) -> list[str]:
        return [e["rule"] for e in self.truth.get("expect", [])]


@dataclass(frozen=True)
class Run:
    out: Path
    page: Path
    tables: Tables
    calls: list[Call]
    corpus: Corpus


@pytest.fixture(scope="module")
def run(corpus: Corpus, synth_call, tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("report_e2e")
    late, three = synth_call("rules/ring_late_apology"), synth_call("rules/ring_three")
    calls = [Call(corpus.ring, "小王", corpus.ring_truth),
             Call(corpus.hold, "小李", corpus.hold_truth),
             Call(encode_wav(late.wav, "flac", root), "小王", late.truth),
             Call(encode_wav(three.wav, "mp3", root), "", three.truth)]
    events = corpus.manifest.parent / "meta" / "hold_call.jsonl"
    manifest = root / "manifest.csv"
    manifest.write_text(
        "path,agent_name,company,call_events\n"
        + "".join(f"{c.path},{c.agent},{'诚美' if c.path == corpus.hold else ''},"
                  f"{events if c.path == corpus.hold else ''}\n" for c in calls)
        + f"{corpus.bad},小李,,\n", encoding="utf-8")
    out = root / "out"
    done = batch(manifest, "--out", out, "--asr", "none", "--jobs", 2)
    assert done.returncode == 0, done.stderr
    shown = subprocess.run([*CLI, "report", str(out)], capture_output=True, text=True,
                           cwd=REPO, timeout=120)
    assert shown.returncode == 0, shown.stderr
    page = out / "report" / "index.html"
    return Run(out, page, Tables(page.read_text(encoding="utf-8")), calls, corpus)


def talk_hours(out: Path, paths: list[Path]) -> float:
    """The talk (agent + customer) the batch measured in these calls, in hours."""
    calls = pd.read_parquet(out / "calls.parquet").set_index("path")
    mine = calls.loc[[str(p) for p in paths]]
    return float((mine["talk_s.agent"] + mine["talk_s.customer"]).sum()) / 3600


def test_the_rings_histogram_is_the_rings_placed_and_the_limit_is_the_profiles(run):
    rings = run.tables.rows("rings-zh-CN")
    assert {int(k): int(v[0]) for k, v in rings.items() if v[0] != "0"} == Counter(
        c.rings for c in run.calls)
    assert sorted(c.rings for c in run.calls) == [0, 2, MAX_RINGS, MAX_RINGS + 2]
    assert [int(k) for k, v in rings.items() if v[1] == "yes"] == [
        r for r in map(int, rings) if r > MAX_RINGS]
    # the calls answered over the limit are the ones whose scenario expects a late pickup
    assert [c.rings > MAX_RINGS for c in run.calls] == [
        "ring.late_pickup" in c.expected for c in run.calls]


def test_the_alert_counts_and_rates_are_the_scenarios_expectations(run):
    want = Counter(rule for c in run.calls for rule in c.expected)
    assert set(want) == {"dead_air", "ring.late_pickup"}  # the scenarios do raise alerts
    table = run.tables.rows("alert-rates")
    assert {rule: int(row[0]) for rule, row in table.items()} == {
        rule: want.get(rule, 0) for rule in RULE_IDS}
    hours = talk_hours(run.out, [c.path for c in run.calls])
    for rule, n in want.items():
        assert table[rule][1] == str(sum(rule in c.expected for c in run.calls))
        assert float(table[rule][2]) == pytest.approx(n / hours, rel=1e-3)


def test_the_agents_are_the_manifests_names(run):
    agents = run.tables.rows("agents")
    by_name = {name or "(no name)": [c for c in run.calls if c.agent == name]
               for name in {c.agent for c in run.calls}}
    assert set(agents) == set(by_name)
    for name, calls in by_name.items():
        hours = talk_hours(run.out, [c.path for c in calls])
        alerts = sum(len(c.expected) for c in calls)
        # agent: calls, talk h, alerts, per hour, mean score, mean pace
        assert agents[name][0] == str(len(calls)) and agents[name][2] == str(alerts)
        assert float(agents[name][3]) == pytest.approx(alerts / hours, rel=1e-3, abs=1e-3)
        assert agents[name][5] == "–"  # no pace without recognition


def test_the_hold_and_the_dead_air_are_the_scenarios(run):
    holds = run.tables.rows("holds")
    start, end = run.corpus.hold_span
    assert holds["holds"] == ["1"] and holds["calls with a hold"] == ["1"]
    assert float(holds["total s"][0]) == pytest.approx(end - start, abs=DEFAULT_TOLERANCE_S)
    assert holds[f"longer than the limit of {HOLD_LIMIT:g} s"] == ["0"]
    said = run.corpus.ring_truth["utterances"]
    dead = run.tables.rows("dead-air")
    assert dead["dead air spells"] == ["1"] and dead["calls with dead air"] == ["1"]
    assert float(dead["total s"][0]) == pytest.approx(said[2]["start"] - said[1]["end"],
                                                      abs=DEFAULT_TOLERANCE_S)


def test_the_header_counts_the_calls_and_lists_the_broken_file(run):
    facts = run.tables.rows("run")
    assert facts["calls complete"] == [str(len(run.calls))] and facts["calls failed"] == ["1"]
    assert float(facts["audio hours"][0]) == pytest.approx(
        sum(c.truth["duration_s"] for c in run.calls) / 3600, abs=1e-3)
    (error,) = run.tables.rows("failed")[str(run.corpus.bad)]
    assert "not a WAV file" in error
    # recognition is off: no pace section chart, and the page says why
    assert any("--asr none" in n for n in run.tables.notes)


def test_every_chart_loads_in_chromium_without_console_errors(run, browser):
    ids = [img["id"] for img in run.tables.images]
    assert sorted(ids) == sorted(f"chart-{k}" for k in (
        "alert-rates", "scores", "agents", "rings-zh-CN", "hold-durations"))
    errors: list[str] = []
    with browser.page() as tab:
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto(run.page.as_uri())
        tab.wait_for_load_state("load")
        images = tab.eval_on_selector_all(
            "img", "imgs => imgs.map(i => [i.id, i.complete, i.naturalWidth, i.naturalHeight])")
    assert [i[0] for i in images] == ids
    assert all(done and width > 0 and height > 0 for _, done, width, height in images), images
    assert errors == []
