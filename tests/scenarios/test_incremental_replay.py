"""A taboo at the start of a long agent phrase, through the real pipeline and real Whisper:
the agreed words catch it before the phrase ends, and the phrase's utterance does not raise
it again."""

from __future__ import annotations

import pytest

from monitor.config import load_config
from testkit import synth
from testkit.replay import of_type, replay_records

pytestmark = pytest.mark.slow

# 这不关我的事。 then, 0.3 s later, 您先别着急，我帮您看一下扣费记录。 : one phrase (their pause is
# under phrase_gap_s), whose utterance comes at its gap, seconds after the taboo was said.
SCENARIO = {
    "name": "taboo_in_a_long_phrase", "language": "zh", "seed": 31, "noise_dbfs": -60.0,
    "tail_s": 1.0,
    "events": [
        {"channel": "customer", "clip": "c_recharge", "at": 0.5},
        {"channel": "agent", "clip": "a_forbid_notmine", "after": 0.6},
        {"channel": "agent", "clip": "a_interrupt", "after": 0.3},
        {"channel": "customer", "clip": "c_bye", "after": 0.8},
    ],
    "expect": [{"rule": "forbidden_phrase", "at_event": 1, "at": "end"}],
}


def test_a_taboo_is_caught_before_its_phrase_ends_and_alerted_once(tmp_path, whisper_zh):
    call = synth.synthesize(synth.validate_scenario(SCENARIO), tmp_path)
    taboo_end = call.truth["utterances"][1]["end"]
    records = replay_records(call.wav, load_config("zh-CN", {"asr": {"partials_in_replay": True}}),
                             whisper_zh)
    agent = of_type(records, "utterance", channel="agent")
    assert len(agent) == 1  # the taboo and the sentence after it are one phrase
    found = of_type(records, "alert", rule="forbidden_phrase")
    assert [a["evidence"]["family"] for a in found] == ["taboo.not_responsible"]  # 这不关我的事
    assert found[0]["t"] < agent[0]["end"] - 3.0  # the phrase goes on for seconds after it
    assert abs(found[0]["t"] - taboo_end) <= 0.5
    # The alert reached the timeline before the utterance that holds it.
    assert records.index(found[0]) < records.index(agent[0])
