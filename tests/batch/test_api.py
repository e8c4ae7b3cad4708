"""``monitor.analyse``: one call in a notebook, the same rows as the batch gives."""

from __future__ import annotations

import pandas as pd
import pytest

import monitor
from monitor.batch.scoring import DEFAULT_TOLERANCE_S
from monitor.errors import CallmonitorError


def test_analyse_gives_records_summary_and_the_batch_tables_rows(corpus):
    got = monitor.analyse(corpus.ring, asr="none", agent_name="小王")
    assert got.records[-1] is got.summary and got.summary["type"] == "summary"
    assert isinstance(got.calls, pd.DataFrame) and len(got.calls) == 1
    row = got.calls.iloc[0]
    assert row["path"] == str(corpus.ring) and row["agent_name"] == "小王"
    assert row["rings_before_pickup"] == 2
    (expected,) = corpus.ring_truth["expect"]
    (alert,) = got.alerts[got.alerts["rule"] == "dead_air"].itertuples()
    assert alert.t == pytest.approx(expected["t"], abs=DEFAULT_TOLERANCE_S)
    speech = [r for r in got.records if r["type"] == "speech"]
    assert list(got.segments["start"]) == [r["start"] for r in speech]
    assert got.utterances.empty and list(got.utterances.columns)[:3] == ["path", "sha256",
                                                                          "channel"]


def test_analyse_gives_the_same_rows_as_the_batch(corpus, straight_api):
    got = monitor.analyse(corpus.ring, asr="none")
    batch_calls = pd.read_parquet(straight_api / "calls.parquet")
    mine = got.calls.drop(columns=["elapsed_s"])
    theirs = batch_calls[batch_calls["path"] == str(corpus.ring)].drop(columns=["elapsed_s"])
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), theirs.reset_index(drop=True))


def test_a_call_that_cannot_be_analysed_raises_its_error(corpus):
    with pytest.raises(CallmonitorError, match="not a WAV file"):
        monitor.analyse(corpus.bad, asr="none")


@pytest.fixture(scope="module")
def straight_api(corpus, tmp_path_factory):
    from testkit.batch_corpus import batch

    out = tmp_path_factory.mktemp("api") / "out"
    done = batch(corpus.ring, "--out", out, "--asr", "none", "--jobs", 1)
    assert done.returncode == 0, done.stderr
    return out


def test_a_missing_call_events_file_is_the_calls_error(corpus, tmp_path):
    with pytest.raises(CallmonitorError, match=r"call events file .*not found"):
        monitor.analyse(corpus.hold, asr="none", call_events=tmp_path / "gone.jsonl")
