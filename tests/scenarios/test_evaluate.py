"""``scripts/evaluate.py`` on one real run: the dead-air scenario through the real pipeline
without a recogniser (the timing rules need none), so it stays fast and still proves the whole
path: synthesis into the cache, replay, scoring, the JSON table. The scoring itself is tested
on hand-made alerts in ``tests/batch/test_evaluate_scoring.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from testkit import synth

EVALUATE = Path(__file__).resolve().parents[2] / "scripts" / "evaluate.py"


def evaluate(*args: str) -> str:
    """Run ``scripts/evaluate.py`` as a user does; its standard output."""
    done = subprocess.run([sys.executable, str(EVALUATE), *args], capture_output=True,
                          text=True, check=True)
    return done.stdout


def test_dead_air_scores_perfectly_through_the_real_pipeline(tmp_path: Path) -> None:
    scenario = synth.SCENARIOS_DIR / "rules" / "dead_air_7s.toml"
    args = [str(scenario), "--asr", "none", "--json", "--cache", str(tmp_path)]
    report = json.loads(evaluate(*args))
    dead_air = next(r for r in report["rules"] if r["rule"] == "dead_air")
    assert (dead_air["tp"], dead_air["precision"], dead_air["recall"]) == (1, 1.0, 1.0)
    assert dead_air["max_abs_err_s"] <= 0.1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dead_air_7s.truth.json", "dead_air_7s.wav", "dead_air_7s_8k_ulaw.wav"]
    # A second run reuses the cached call instead of synthesising it again.
    stamp = (tmp_path / "dead_air_7s.wav").stat().st_mtime_ns
    evaluate(*args)
    assert (tmp_path / "dead_air_7s.wav").stat().st_mtime_ns == stamp
