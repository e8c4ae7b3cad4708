"""Recognition in the background (as live runs it) finds what the foreground (replay) does.

Truth: the synchronous replay of the same call, whose alerts the rule scenarios check.
"""

from __future__ import annotations

import pytest

from monitor.config import load_config
from testkit.replay import of_type, replay_records

pytestmark = pytest.mark.slow


def test_background_recognition_gives_the_same_utterances_alerts_and_summary(
        synth_call, whisper_zh):
    wav = synth_call("live_call").wav
    cfg = load_config("zh-CN", {"company": "诚美", "agent_name": "小王"})
    foreground = replay_records(wav, cfg, whisper_zh)
    background = replay_records(wav, cfg, whisper_zh, asr_in_background=True)

    def texts(records):
        return [(u["channel"], u["start"], u["end"], u["text"])
                for u in of_type(records, "utterance")]

    assert texts(background) == texts(foreground) != []
    # The same alerts at the same audio times; a phrase rule's may come out later (its words
    # arrive when recognised), so the order of the records may differ.
    assert (sorted((a["t"], a["rule"]) for a in of_type(background, "alert"))
            == sorted((a["t"], a["rule"]) for a in of_type(foreground, "alert")))
    assert background[-1]["score"] == foreground[-1]["score"]
    assert background[-1]["greeting"] == foreground[-1]["greeting"]
