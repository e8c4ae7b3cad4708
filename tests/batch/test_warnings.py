"""A recording that plays with a warning (``replay`` prints it) keeps it in the batch: the
``calls`` table's ``warnings`` cell holds the very lines replay warns with, an empty list for a
clean file, whatever ``--jobs`` is (the cluster's run: tests/batch/test_ray_engine.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from testkit.batch_corpus import WARNING_PREFIX, assert_same_tables, batch, warned_pair
from testkit.wavfuzz import DURATION_TOLERANCE_S, replay_in_process


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    return warned_pair(tmp_path_factory.mktemp("warned"))


@pytest.fixture(scope="module")
def two_workers(pair: tuple[Path, Path, float], tmp_path_factory: pytest.TempPathFactory
                ) -> Path:
    out = tmp_path_factory.mktemp("two") / "out"
    done = batch(pair[0], pair[1], "--out", out, "--asr", "none", "--jobs", 2)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "2 calls: 2 complete, 0 failed"
    return out


def test_the_calls_warnings_are_the_lines_replay_warns_with(pair, two_workers, tmp_path):
    clean, odd, seconds = pair
    said = replay_in_process(odd, tmp_path / "s.sqlite3")
    assert said.status == 0 and said.traceback is None, said.stderr
    (line,) = said.stderr.strip().splitlines()
    assert line.startswith(WARNING_PREFIX) and "2 'fmt ' chunks" in line
    assert replay_in_process(clean, tmp_path / "s.sqlite3").stderr == ""
    for table in (pd.read_parquet(two_workers / "calls.parquet"),
                  pd.read_csv(two_workers / "calls.csv")):
        calls = table.set_index("path")
        assert json.loads(calls.loc[str(odd), "warnings"]) == [line[len(WARNING_PREFIX):]]
        assert json.loads(calls.loc[str(clean), "warnings"]) == []
        # both played for the whole clip: the second format changed nothing but the warning
        for path in (clean, odd):
            assert calls.loc[str(path), "duration_s"] == pytest.approx(
                seconds, abs=DURATION_TOLERANCE_S)


def test_the_warnings_do_not_depend_on_the_number_of_workers(pair, two_workers, tmp_path):
    one = tmp_path / "one"
    done = batch(pair[0], pair[1], "--out", one, "--asr", "none", "--jobs", 1)
    assert done.returncode == 0, done.stderr
    assert_same_tables(one, two_workers)
