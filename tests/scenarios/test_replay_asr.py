"""Whole calls through the real recognisers, against the scenario's known words and times."""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.text import error_rate
from testkit.replay import merge, of_type, replay_records
from testkit.synth import synthesize

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cfg():
    return load_config("zh-CN")


@pytest.fixture(scope="module")
def demo(synth_call, cfg, whisper_zh):
    """The demo call as a PBX records it (8 kHz mu-law) and its 16 kHz original, via whisper."""
    call = synth_call("demo_call")
    return (call.truth, replay_records(call.ulaw_8k, cfg, whisper_zh),
            replay_records(call.wav, cfg, whisper_zh))


def transcript(records, channel):
    return "".join(u["text"] for u in of_type(records, "utterance", channel=channel))


@pytest.mark.parametrize("variant", [1, 2], ids=["8k-mulaw", "16k"])
@pytest.mark.parametrize("channel", ["agent", "customer"])
def test_transcript_character_error_rate_is_bounded(demo, channel, variant):
    truth, records = demo[0], demo[variant]
    reference = "".join(u["text"] for u in truth["utterances"] if u["channel"] == channel)
    cer = error_rate(reference, transcript(records, channel), "zh")
    print(f"{channel} CER {cer:.3f}")
    assert cer <= 0.25


@pytest.mark.parametrize("variant", [1, 2], ids=["8k-mulaw", "16k"])
def test_utterances_and_their_words_sit_on_the_speech(demo, cfg, variant):
    truth, records = demo[0], demo[variant]
    for u in of_type(records, "utterance"):
        islands = truth["islands"][u["channel"]]
        assert min(abs(u["start"] - s) for s, _ in islands) <= 0.15, u
        assert min(abs(u["end"] - e) for _, e in islands) <= 0.15, u
        for w in u["words"]:
            assert u["start"] - cfg.asr.pad_s - 0.1 <= w["start"] <= w["end"]
            assert w["end"] <= u["end"] + cfg.asr.phrase_gap_s


def truth_agent_rate(truth):
    """Characters per minute over the agent's turns of the placed clips.

    A turn is a run of agent clips with no customer clip between them, each pause shorter
    than the scenario's ``turn_gap_s``; turns shorter than its ``rate_min_turn_s`` do not count.
    """
    limits, turns = truth["limits"], []
    for u in sorted(truth["utterances"], key=lambda u: u["start"]):
        if u["channel"] == "customer":
            turns.append(None)  # the customer's clip ends the agent's turn
        elif turns and turns[-1] and u["start"] - turns[-1][-1]["end"] < limits["turn_gap_s"]:
            turns[-1].append(u)
        else:
            turns.append([u])
    spans = [(t[-1]["end"] - t[0]["start"], sum(u["chars"] for u in t)) for t in turns if t]
    counted = [(s, n) for s, n in spans if s >= limits["rate_min_turn_s"]]
    return 60.0 * sum(n for _, n in counted) / sum(s for s, _ in counted)


@pytest.mark.parametrize("variant", [1, 2], ids=["8k-mulaw", "16k"])
def test_agent_speaking_rate_matches_the_truth_within_10_percent(demo, variant):
    truth, records = demo[0], demo[variant]
    expected = truth_agent_rate(truth)
    assert 120 <= expected <= 180  # the demo agent speaks at the standard's pace
    assert records[-1]["agent_rate_cpm"] == pytest.approx(expected, rel=0.10)


def test_the_8k_mulaw_copy_gives_the_same_timeline_as_the_original(demo):
    _, narrow, wide = demo
    for key in ("pickup_t", "talk_ratio_agent", "longest_customer_turn_s"):
        assert narrow[-1][key] == pytest.approx(wide[-1][key], abs=0.15)
    assert narrow[-1]["rings_before_pickup"] == wide[-1]["rings_before_pickup"]
    assert [round(d["start"]) for d in narrow[-1]["dead_air"]] == [
        round(d["start"]) for d in wide[-1]["dead_air"]]
    assert len(of_type(narrow, "utterance")) == pytest.approx(
        len(of_type(wide, "utterance")), abs=2)


def test_vosk_streams_a_whole_call_with_word_times_inside_the_speech(synth_call, cfg, vosk_ko):
    """The Korean model cannot spell Mandarin, but its streaming, endpoints and word times are
    the Vosk path end to end: every word must sit on speech the VAD found."""
    call = synth_call("overlap_click")
    records = replay_records(call.wav, cfg, vosk_ko)
    utterances = of_type(records, "utterance")
    assert utterances and all(u["words"] for u in utterances)
    for u in utterances:
        speech = merge([[s["start"] - 0.3, s["end"] + 0.3]
                        for s in of_type(records, "speech", channel=u["channel"])], 0.0)
        for w in u["words"]:
            assert w["start"] <= w["end"]
            assert any(s <= w["start"] and w["end"] <= e for s, e in speech), (u["text"], w)



SHORT_CALL = {"name": "short_call", "language": "zh", "seed": 7, "noise_dbfs": -60.0,
              "tail_s": 0.5, "events": [
                  {"channel": "agent", "clip": "a_greet_bad_short", "at": 0.3},  # 喂，你好。
                  {"channel": "customer", "clip": "c_surname", "after": 0.4}]}  # 我姓张，弓长张。


def test_vosk_gives_the_same_utterances_to_every_session_on_one_loaded_model(
        cfg, vosk_ko, tmp_path):
    """Kaldi's dither (noise from a generator that runs on across recognisers) is off in the
    view the model is loaded from: a second session of the same call on the same loaded
    model (a tap server's next call, a replay beside a live call) hears the same words at
    the same times, to the last digit."""
    wav = synthesize(SHORT_CALL, tmp_path).wav

    def utterances():
        return [(u["channel"], u["start"], u["end"], u["text"], u["words"])
                for u in of_type(replay_records(wav, cfg, vosk_ko), "utterance")]

    first = utterances()
    assert [u[0] for u in first] == ["agent", "customer"]  # each line of the call
    assert all(words for *_, words in first)
    assert utterances() == first
