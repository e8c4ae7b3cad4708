"""A recording that plays with a warning (``replay`` prints it) keeps it in the batch: the
``calls`` table's ``warnings`` cell holds the very lines replay warns with, an empty list for a
clean file, whatever ``--jobs`` is (the cluster's run: tests/batch/test_ray_engine.py)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from testkit.batch_corpus import WARNING_PREFIX, assert_same_tables, batch
from testkit.wavfuzz import DURATION_TOLERANCE_S, replay_in_process


def test_the_calls_warnings_are_the_lines_replay_warns_with(warned, warned_out, tmp_path):
    clean, odd, seconds = warned
    said = replay_in_process(odd, tmp_path / "s.sqlite3")
    assert said.status == 0 and said.traceback is None, said.stderr
    (line,) = said.stderr.strip().splitlines()
    assert line.startswith(WARNING_PREFIX) and "2 'fmt ' chunks" in line
    assert replay_in_process(clean, tmp_path / "s.sqlite3").stderr == ""
    for table in (pd.read_parquet(warned_out / "calls.parquet"),
                  pd.read_csv(warned_out / "calls.csv")):
        calls = table.set_index("path")
        assert json.loads(calls.loc[str(odd), "warnings"]) == [line[len(WARNING_PREFIX):]]
        assert json.loads(calls.loc[str(clean), "warnings"]) == []
        # both played for the whole clip: the second format changed nothing but the warning
        for path in (clean, odd):
            assert calls.loc[str(path), "duration_s"] == pytest.approx(
                seconds, abs=DURATION_TOLERANCE_S)


def test_the_warnings_do_not_depend_on_the_number_of_workers(warned, warned_out, tmp_path):
    one = tmp_path / "one"
    done = batch(warned[0], warned[1], "--out", one, "--asr", "none", "--jobs", 1)
    assert done.returncode == 0, done.stderr
    assert_same_tables(one, warned_out)
