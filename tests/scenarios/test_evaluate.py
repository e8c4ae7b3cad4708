"""``scripts/evaluate.py`` on one real run: the dead-air scenario through the real pipeline
without a recogniser (the timing rules need none), so it stays fast and still proves the whole
path: synthesis into the cache, the manifest and labels, ``callmonitor batch``, the scoring of
``callmonitor evaluate``, the JSON table. The scoring itself is tested on hand-made alerts in
``tests/batch/test_evaluate_scoring.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from testkit import synth

EVALUATE = Path(__file__).resolve().parents[2] / "scripts" / "evaluate.py"


def evaluate(*args: str) -> str:
    """Run ``scripts/evaluate.py`` as a user does; its standard output."""
    done = subprocess.run([sys.executable, str(EVALUATE), *args], capture_output=True,
                          text=True, check=True)
    return done.stdout


def dead_air(report: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in report["rules"] if r["rule"] == "dead_air")


def test_dead_air_scores_perfectly_through_the_real_pipeline(tmp_path: Path) -> None:
    scenario = synth.SCENARIOS_DIR / "rules" / "dead_air_7s.toml"
    args = [str(scenario), "--asr", "none", "--json", "--cache", str(tmp_path)]
    scored = dead_air(json.loads(evaluate(*args)))
    assert (scored["tp"], scored["precision"], scored["recall"]) == (1, 1.0, 1.0)
    assert scored["max_abs_err_s"] <= 0.1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dead_air_7s.truth.json", "dead_air_7s.wav", "dead_air_7s_8k_ulaw.wav"]
    # A second run reuses the cached call instead of synthesising it again.
    stamp = (tmp_path / "dead_air_7s.wav").stat().st_mtime_ns
    evaluate(*args)
    assert (tmp_path / "dead_air_7s.wav").stat().st_mtime_ns == stamp


def test_the_batch_output_it_kept_is_scored_alike_by_callmonitor_evaluate(tmp_path: Path) -> None:
    """With ``--out`` the corpus stays as a researcher's would: the batch tables, the manifest
    and the labels, which ``callmonitor evaluate`` scores as the script did. A folder that
    holds something already is refused (exit 2), not mixed into."""
    scenario = synth.SCENARIOS_DIR / "rules" / "dead_air_7s.toml"
    out = tmp_path / "kept"
    args = [str(scenario), "--asr", "none", "--json", "--cache", str(tmp_path / "cache")]
    printed = json.loads(evaluate(*args, "--out", str(out)))
    assert {"calls.parquet", "alerts.parquet", "manifest.csv", "labels.jsonl"} <= {
        p.name for p in out.iterdir()}
    again = subprocess.run([sys.executable, "-m", "monitor", "evaluate",
                            str(out / "labels.jsonl"), str(out), "--json"],
                           capture_output=True, text=True, check=True)
    assert json.loads(again.stdout) == printed and dead_air(printed)["tp"] == 1
    refused = subprocess.run([sys.executable, str(EVALUATE), *args, "--out", str(out)],
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "is not an empty folder" in refused.stderr
