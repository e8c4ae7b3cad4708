"""The README's first command, ``make demo``, on what a fresh clone has: the Makefile's demo
recipe run in a folder holding only the bundled demo call and the set-up's virtual
environment (the set-up itself is what `make test` already ran). A fresh clone has no
``var/``: the recipe failed there once (``--db var/demo.sqlite3``: the folder var does not
exist) while every checkout that had run a benchmark passed. Truth: the demo call's own
truth file (its rings, and the pickup within the replay tests' 0.15 s)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def demo_recipe() -> list[str]:
    """The shell lines of the Makefile's ``demo`` target."""
    lines = (REPO / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("demo:"))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def test_make_demo_replays_the_demo_call_in_a_fresh_clone(tmp_path):
    (tmp_path / "demo").symlink_to(REPO / "demo")
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("CALLMONITOR_DB", None)
    for line in demo_recipe():
        done = subprocess.run(line, shell=True, cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"{line}: {done.stderr}"
    truth = json.loads((REPO / "demo" / "demo_call.truth.json").read_text(encoding="utf-8"))
    with sqlite3.connect(tmp_path / "var" / "demo.sqlite3") as db:
        [(status, summary)] = db.execute("SELECT status, summary FROM sessions").fetchall()
    assert status == "complete"
    assert json.loads(summary)["rings_before_pickup"] == len(truth["rings"])
    assert json.loads(summary)["pickup_t"] == pytest.approx(truth["pickup_t"], abs=0.15)
