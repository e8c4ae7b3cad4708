"""A batch with the real Whisper model: the utterances table carries the recognised phrases
where the truth's lines are, and the calls table the word-based checks."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from monitor.batch.scoring import DEFAULT_TOLERANCE_S
from testkit.batch_corpus import batch, run_json


@pytest.mark.slow
def test_a_whisper_batch_fills_the_utterances_and_the_word_checks(corpus, tmp_path):
    out = tmp_path / "out"
    done = batch(corpus.ring, corpus.hold, "--out", out, "--asr", "whisper", "--jobs", 2,
                 "--company", "诚美", "--agent-name", "小王")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "2 calls: 2 complete, 0 failed"
    assert run_json(out)["models"]["backend"] == "whisper"
    calls = pd.read_parquet(out / "calls.parquet")
    assert set(calls["asr_backend"]) == {"whisper"}
    ring = calls[calls["path"] == str(corpus.ring)].iloc[0]
    assert bool(ring["greeting.greeting"])  # 您好 was heard
    assert not pd.isna(ring["greeting_ok"])
    said = pd.read_parquet(out / "utterances.parquet")
    for truth, path in ((corpus.ring_truth, corpus.ring), (corpus.hold_truth, corpus.hold)):
        mine = said[said["path"] == str(path)]
        for line in truth["utterances"]:
            near = mine[(mine["channel"] == line["channel"])
                        & ((mine["start"] - line["start"]).abs() < DEFAULT_TOLERANCE_S + 0.5)]
            assert len(near) >= 1 and near.iloc[0]["text"], (path.name, line["text"])
            assert json.loads(near.iloc[0]["words"])  # the words with their times
