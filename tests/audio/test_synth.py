"""The scenario synthesiser: every test checks the written audio against truth known elsewhere.

Clip samples are read straight from the clip library, tones are measured with an FFT, the
mu-law copy is decoded by sox and by a G.711 decoder written here, and espeak-ng speech spans
are measured in the output. Nothing is mocked.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr

from testkit import synth

SCENARIOS = ["demo_call", "dead_air", "overlap_click", "late_pickup_us", "en_basic"]
TRUTH_KEYS = {"name", "language", "duration_s", "sample_rate_hz", "islands", "utterances",
              "rings", "ringback", "pickup_t", "clicks", "noise_dbfs"}
CH = {"agent": 0, "customer": 1}


def read_pcm(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (2, 2)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
        return pcm.astype(np.float64), w.getframerate()


def read_clip(name: str) -> np.ndarray:
    with wave.open(str(synth.ZH_CLIPS_DIR / f"{name}.wav"), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)


def manifest() -> dict[str, Any]:
    return json.loads((synth.ZH_CLIPS_DIR / "manifest.json").read_text(encoding="utf-8"))


def dbfs(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.square(x))) / 32768 + 1e-12)


def span(x: np.ndarray, rate: int, start: float, end: float) -> np.ndarray:
    return x[round(start * rate):round(end * rate)]


def ulaw_decode(codes: np.ndarray) -> np.ndarray:
    """G.711 mu-law expansion, written from the standard independently of the encoder."""
    u = ~codes.astype(np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84)


def riff_chunks(data: bytes) -> dict[str, bytes]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    chunks, pos = {}, 12
    while pos < len(data):
        cid, size = data[pos:pos + 4].decode(), struct.unpack("<I", data[pos + 4:pos + 8])[0]
        chunks[cid] = data[pos + 8:pos + 8 + size]
        pos += 8 + size + size % 2
    return chunks


def silent_gaps(truth: dict[str, Any], after: float) -> list[tuple[float, float]]:
    """Stretches after ``after`` where neither channel has a speech island."""
    islands = sorted(i for ch in truth["islands"].values() for i in ch)
    gaps, cursor = [], after
    for start, end in islands:
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    return gaps


def tone_share(x: np.ndarray, rate: int, freqs: list[float], band_hz: float = 10.0) -> float:
    """Share of a segment's energy within ``band_hz`` of the given frequencies."""
    power = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    f = np.fft.rfftfreq(x.size, 1 / rate)
    near = np.any([np.abs(f - fr) <= band_hz for fr in freqs], axis=0)
    return float(power[near].sum() / power.sum())


def loud_runs(x: np.ndarray, rate: int, threshold_dbfs: float) -> list[tuple[float, float]]:
    """Runs of 10 ms frames above a level, measured straight from the audio."""
    frame = rate // 100
    n = x.size // frame
    level = 20 * np.log10(np.sqrt(np.mean(x[:n * frame].reshape(n, frame) ** 2, axis=1))
                          / 32768 + 1e-12)
    on = np.concatenate([[False], level > threshold_dbfs, [False]])
    edges = np.flatnonzero(np.diff(on.astype(int)))
    return [(s / 100, e / 100) for s, e in zip(edges[::2], edges[1::2], strict=True)]


@pytest.mark.parametrize("name", SCENARIOS)
def test_truth_layout_matches_the_audio(synth_call, name: str) -> None:
    result = synth_call(name)
    truth = result.truth
    assert set(truth) == TRUTH_KEYS | {"limits"}  # these calls state the limits they are judged by
    assert json.loads(Path(result.wav).with_name(f"{name}.truth.json").read_text()) == truth
    pcm, rate = read_pcm(result.wav)
    assert rate == truth["sample_rate_hz"] == 16000
    assert truth["duration_s"] == round(pcm.shape[0] / rate, 3)
    agent = [u for u in truth["utterances"] if u["channel"] == "agent"]
    assert truth["pickup_t"] == min(u["start"] for u in agent)
    assert all(u["start"] < u["end"] <= truth["duration_s"] for u in truth["utterances"])
    if truth["ringback"]:
        assert truth["rings"][-1]["end"] < truth["pickup_t"]


def test_placed_clips_are_bit_exact(tmp_path: Path) -> None:
    scenario = {
        "name": "exact", "language": "zh", "seed": 9, "tail_s": 0.5,
        "events": [
            {"channel": "agent", "clip": "a_ask_name", "at": 1.0},
            {"channel": "customer", "clip": "c_surname", "after": 0.3},
            {"channel": "agent", "clip": "a_bc_dui", "after": -0.5, "gain_db": -6.0},
        ],
    }
    result = synth.synthesize(scenario, tmp_path)
    pcm, rate = read_pcm(result.wav)
    m = manifest()
    expected = np.zeros_like(pcm)
    utterances = result.truth["utterances"]
    for event, utt in zip(scenario["events"], utterances, strict=True):
        clip = read_clip(event["clip"])
        if "gain_db" in event:
            clip = np.rint(clip * 10 ** (event["gain_db"] / 20))
        offset = round(utt["start"] * rate) - round(m[event["clip"]]["speech_start"] * rate)
        expected[offset:offset + clip.size, CH[event["channel"]]] += clip
        assert utt["end"] - utt["start"] == pytest.approx(
            m[event["clip"]]["speech_end"] - m[event["clip"]]["speech_start"], abs=1e-3)
    np.testing.assert_array_equal(pcm, expected)
    assert utterances[0]["start"] == 1.0
    assert utterances[1]["start"] == pytest.approx(utterances[0]["end"] + 0.3, abs=1e-3)
    assert utterances[2]["start"] == pytest.approx(utterances[1]["end"] - 0.5, abs=1e-3)


def test_after_counts_from_the_latest_end(synth_call) -> None:
    truth = synth_call("overlap_click").truth
    ask, long1, bc, leader, interrupt = truth["utterances"]
    clicks = truth["clicks"]
    assert long1["start"] == pytest.approx(ask["end"] + 0.5, abs=1e-3)
    assert bc["start"] == pytest.approx(long1["end"] - 3.5, abs=1e-3)
    # The backchannel ends inside the customer's turn, so the next gap counts from that turn.
    assert clicks[2]["t"] == pytest.approx(long1["end"] + 1.0, abs=1e-3)
    assert clicks[3]["t"] == pytest.approx(clicks[2]["t"] + 0.01 + 1.0, abs=1e-3)
    assert leader["start"] == pytest.approx(clicks[3]["t"] + 0.01 + 1.0, abs=1e-3)
    assert interrupt["start"] == pytest.approx(leader["end"] - 1.0, abs=1e-3)


@pytest.mark.parametrize(("name", "freqs", "period_s", "on_s", "rings"), [
    ("demo_call", [450.0], 5.0, 1.0, 2),
    ("late_pickup_us", [440.0, 480.0], 6.0, 2.0, 5),
    ("en_basic", [425.0], 5.0, 1.0, 2),
])
def test_ringback_cadence(synth_call, name: str, freqs: list[float], period_s: float,
                          on_s: float, rings: int) -> None:
    truth = synth_call(name).truth
    pcm, rate = read_pcm(synth_call(name).wav)
    customer, agent = pcm[:, 1], pcm[:, 0]
    assert truth["ringback"]["freq_hz"] == freqs
    assert [r["cadence"] for r in truth["rings"]] == list(range(1, rings + 1))
    # The bursts found in the audio are the bursts the truth lists.
    measured = loud_runs(customer[:round(truth["pickup_t"] * rate)], rate, -40.0)
    listed = [t for r in truth["rings"] for t in (r["start"], r["end"])]
    assert [t for run in measured for t in run] == pytest.approx(listed, abs=0.011)
    for ring in truth["rings"]:
        assert ring["end"] - ring["start"] == pytest.approx(on_s, abs=1e-3)
        burst = span(customer, rate, ring["start"] + 0.02, ring["end"] - 0.02)
        assert tone_share(burst, rate, freqs) > 0.95
        assert dbfs(burst) == pytest.approx(truth["ringback"]["level_dbfs"], abs=0.5)
        assert dbfs(span(agent, rate, ring["start"], ring["end"])) < -55
    for a, b in zip(truth["rings"], truth["rings"][1:], strict=False):
        assert b["start"] - a["start"] == pytest.approx(period_s, abs=1e-3)
        assert dbfs(span(customer, rate, a["end"] + 0.02, b["start"] - 0.02)) < -55


def test_uk_double_ring(tmp_path: Path) -> None:
    scenario = {
        "name": "uk", "language": "zh", "seed": 1, "tail_s": 0.2,
        "ringback": {"country": "UK", "rings": 2, "start_s": 0.3, "answer_after_s": 0.7},
        "events": [{"channel": "agent", "clip": "a_bc_haode"}],
    }
    result = synth.synthesize(scenario, tmp_path)
    truth = result.truth
    pcm, rate = read_pcm(result.wav)
    assert [(r["start"], r["end"], r["cadence"]) for r in truth["rings"]] == [
        (0.3, 0.7, 1), (0.9, 1.3, 1), (3.3, 3.7, 2), (3.9, 4.3, 2)]
    assert truth["pickup_t"] == 5.0
    for ring in truth["rings"]:
        burst = span(pcm[:, 1], rate, ring["start"] + 0.01, ring["end"] - 0.01)
        assert tone_share(burst, rate, [400.0, 450.0], band_hz=20.0) > 0.95
        for f in (400.0, 450.0):  # both tones, not one of them
            assert tone_share(burst, rate, [f], band_hz=20.0) > 0.4


@pytest.mark.parametrize("name", SCENARIOS)
def test_islands_cover_exactly_the_speech(synth_call, name: str) -> None:
    truth = synth_call(name).truth
    for channel, islands in truth["islands"].items():
        utterances = [u for u in truth["utterances"] if u["channel"] == channel]
        for u in utterances:  # every utterance starts and ends inside an island
            for t in (u["start"] + 0.005, u["end"] - 0.005):
                assert any(s - 0.01 <= t <= e + 0.01 for s, e in islands), (u, t)
        for s, e in islands:  # every island is speech of one of this channel's utterances
            assert any(u["start"] - 0.02 <= s and e <= u["end"] + 0.02 for u in utterances)
        for ring in truth["rings"]:
            assert all(e <= ring["start"] or s >= ring["end"] for s, e in islands)
        for click in truth["clicks"]:
            assert not any(s <= click["t"] <= e for s, e in islands)


@pytest.mark.parametrize("name", ["demo_call", "en_basic"])
def test_ulaw_copy_decodes_to_the_same_call(synth_call, name: str) -> None:
    result = synth_call(name)
    pcm, rate = read_pcm(result.wav)
    chunks = riff_chunks(result.ulaw_8k.read_bytes())
    tag, channels, srate, byte_rate, align, bits = struct.unpack("<HHIIHH", chunks["fmt "][:16])
    assert (tag, channels, srate, byte_rate, align, bits) == (7, 2, 8000, 16000, 2, 8)
    frames = struct.unpack("<I", chunks["fact"])[0]
    assert frames * 2 == len(chunks["data"])
    decoded = np.frombuffer(subprocess.run(
        ["sox", str(result.ulaw_8k), "-t", "raw", "-e", "signed", "-b", "16", "-"],
        check=True, capture_output=True).stdout, dtype="<i2").reshape(-1, 2)
    ours = ulaw_decode(np.frombuffer(chunks["data"], dtype=np.uint8)).reshape(-1, 2)
    np.testing.assert_array_equal(decoded, ours)
    assert frames / 8000 == pytest.approx(pcm.shape[0] / rate, abs=1 / 8000)
    for ch in range(2):
        assert dbfs(decoded[:, ch].astype(float)) == pytest.approx(dbfs(pcm[:, ch]), abs=1.0)


def test_mulaw_encoder_follows_g711() -> None:
    encode = synth.mulaw_encode
    assert list(encode(np.array([0, 32767, -32768, -1, 8000, -8000]))) == [
        0xFF, 0x80, 0x00, 0x7F, 0xA0, 0x20]
    # G.191 codes negatives through the one's complement: -x-1 gets x's code without the sign.
    positive = np.arange(32768)
    assert np.array_equal(encode(-positive - 1), encode(positive) & 0x7F)
    codes = np.arange(256, dtype=np.uint8)
    values = ulaw_decode(codes)
    # Every code's value encodes back to that code (0x7F is -0, which encodes as +0).
    back = encode(values)
    assert np.array_equal(back[codes != 0x7F], codes[codes != 0x7F])
    # Quantisation never moves a sample by more than half the widest G.711 step.
    x = np.arange(-32768, 32768)
    assert np.max(np.abs(ulaw_decode(encode(x)) - np.clip(x, -32124, 32124))) <= 512


def test_overlap_and_backchannel_are_real(synth_call) -> None:
    result = synth_call("overlap_click")
    truth = result.truth
    pcm, rate = read_pcm(result.wav)
    _, long1, bc, leader, interrupt = truth["utterances"]
    assert leader["end"] - interrupt["start"] == pytest.approx(1.0, abs=1e-3)
    window = (interrupt["start"], leader["end"])
    for ch in range(2):
        assert dbfs(span(pcm[:, ch], rate, *window)) > -30
        assert any(s <= window[0] and window[1] <= e
                   for s, e in truth["islands"][("agent", "customer")[ch]])
    assert long1["start"] < bc["start"] and bc["end"] < long1["end"]
    assert dbfs(span(pcm[:, 1], rate, bc["start"], bc["end"])) > -30


def test_clicks_stand_alone(synth_call) -> None:
    result = synth_call("overlap_click")
    pcm, rate = read_pcm(result.wav)
    clicks = result.truth["clicks"]
    assert sorted((c["channel"], c["t"]) for c in clicks)[::2] == [
        ("agent", 0.4), ("customer", 1.2)]
    assert [c["channel"] for c in clicks].count("agent") == 2
    for click in clicks:
        x = pcm[:, CH[click["channel"]]]
        peak = np.max(np.abs(span(x, rate, click["t"], click["t"] + 0.01)))
        assert 20 * np.log10(peak / 32768) == pytest.approx(-6.0, abs=0.1)
        # No noise in this scenario: nothing else sounds within 0.3 s, on either channel.
        for ch in range(2):
            assert not span(pcm[:, ch], rate, click["t"] - 0.3, click["t"]).any()
            assert not span(pcm[:, ch], rate, click["t"] + 0.01, click["t"] + 0.3).any()


def test_dead_air_scenario_has_one_long_silence(synth_call) -> None:
    result = synth_call("dead_air")
    truth = result.truth
    pcm, rate = read_pcm(result.wav)
    last_speech = max(u["end"] for u in truth["utterances"])
    gaps = [g for g in silent_gaps(truth, truth["pickup_t"]) if g[1] <= last_speech]
    long_gaps = [g for g in gaps if g[1] - g[0] >= 2.0]
    assert len(long_gaps) == 1
    start, end = long_gaps[0]
    assert end - start == pytest.approx(7.0, abs=0.03)
    for ch in range(2):
        assert dbfs(span(pcm[:, ch], rate, start + 0.05, end - 0.05)) < -55


def test_demo_call_is_a_proper_call(synth_call) -> None:
    truth = synth_call("demo_call").truth
    clips = [u["clip"] for u in truth["utterances"]]
    assert clips[0] == "a_greet_ok" and clips[-1] == "c_bye"
    assert len(truth["rings"]) == 2 and truth["ringback"]["country"] == "CN"
    assert 50 <= truth["duration_s"] <= 85
    long_gaps = [g for g in silent_gaps(truth, truth["pickup_t"]) if g[1] - g[0] > 4.0]
    assert len(long_gaps) == 1  # the announced hold, and only it
    hold_start, hold_end = long_gaps[0]
    assert hold_end - hold_start == pytest.approx(8.0, abs=0.05)
    by_clip = {u["clip"]: u for u in truth["utterances"]}
    assert by_clip["a_hold_short"]["end"] < hold_start
    assert by_clip["a_hold_thanks"]["start"] == pytest.approx(hold_end, abs=0.02)


def test_synthesis_is_byte_identical_and_demo_is_current(tmp_path: Path) -> None:
    scenario = synth.SCENARIOS_DIR / "demo_call.toml"
    first = synth.synthesize_file(scenario, tmp_path / "a")
    second = synth.synthesize_file(scenario, tmp_path / "b")
    for name in ("demo_call.wav", "demo_call_8k_ulaw.wav", "demo_call.truth.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert first.truth == second.truth
    # --demo rebuilds exactly the committed files: the 8 kHz mu-law copy and the truth.
    rebuilt = synth.build_demo(tmp_path / "demo")
    committed = [synth.DEMO_DIR / "demo_call.wav",
                 synth.DEMO_DIR / "demo_call.truth.json"]
    assert rebuilt[0].read_bytes() == first.ulaw_8k.read_bytes()
    for new, old in zip(rebuilt, committed, strict=True):
        assert new.read_bytes() == old.read_bytes(), f"{old} is stale: run synth.py --demo"


def test_speech_placed_near_the_start_loses_only_leading_silence(tmp_path: Path) -> None:
    scenario = {"name": "early", "language": "zh", "tail_s": 0.0,
                "events": [{"channel": "customer", "clip": "c_last_week", "at": 0.1}]}
    result = synth.synthesize(scenario, tmp_path)
    pcm, rate = read_pcm(result.wav)
    clip = read_clip("c_last_week")
    cut = round(manifest()["c_last_week"]["speech_start"] * rate) - round(0.1 * rate)
    np.testing.assert_array_equal(pcm[:, 1], clip[cut:])
    assert not pcm[:, 0].any()
    assert result.truth["utterances"][0]["start"] == 0.1
    assert result.truth["pickup_t"] is None


def test_espeak_lines_are_placed_by_their_measured_speech(synth_call) -> None:
    result = synth_call("en_basic")
    pcm, rate = read_pcm(result.wav)
    threshold = 32768 * 10 ** (-40 / 20)  # well above the -62 dBFS noise
    for u in result.truth["utterances"]:
        assert u["clip"] is None
        assert u["chars"] == len(u["text"].replace(",", " ").replace(".", " ").split())
        x = np.abs(span(pcm[:, CH[u["channel"]]], rate, u["start"] - 0.3, u["end"] + 0.3))
        loud = np.flatnonzero(x > threshold)
        assert loud[0] / rate - 0.3 == pytest.approx(0.0, abs=0.01)
        assert loud[-1] / rate - 0.3 == pytest.approx(u["end"] - u["start"], abs=0.01)


@pytest.mark.parametrize(("change", "message"), [
    ({"colour": "red"}, "unknown keys"),
    ({"events": [{"channel": "agent", "say": "hello", "at": 1.0}]}, "unintelligible"),
    ({"events": [{"channel": "agent", "clip": "a_bc_dui", "at": 1.0, "after": 1.0}]}, "not both"),
    ({"events": [{"channel": "agent", "clip": "a_bc_dui"}]}, "give at or after"),
    ({"events": [{"channel": "agent", "clip": "no_such_clip", "at": 1.0}]}, "not in"),
    ({"ringback": {"country": "CN", "rings": 2},
      "events": [{"channel": "agent", "clip": "a_bc_dui", "at": 9.0}]}, "timed by the ringback"),
    ({"ringback": {"country": "CN", "rings": 2, "answer_after_s": 4.5}}, "answer_after_s"),
])
def test_bad_scenarios_fail_loudly(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    scenario = {"name": "bad", "language": "zh",
                "events": [{"channel": "agent", "clip": "a_bc_dui", "at": 1.0}], **change}
    with pytest.raises(ValueError, match=message):
        synth.synthesize(scenario, tmp_path)


def test_cli_writes_the_three_files(tmp_path: Path) -> None:
    scenario = synth.SCENARIOS_DIR / "dead_air.toml"
    assert synth.main([str(scenario), "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["dead_air.truth.json", "dead_air.wav", "dead_air_8k_ulaw.wav"]


# --------------------------------------------------------------------------- expectations


RULES_DIR = synth.SCENARIOS_DIR / "rules"
DESIGN_MD = synth.SHARED_DIR / "DESIGN.md"


def expecting(expect: list[dict[str, Any]] | None = None, after: float = 0.4,
              **extra: Any) -> dict[str, Any]:
    """A two-line call (agent, then customer ``after`` s later) with the given expectations."""
    return {"name": "exp", "language": "zh", "tail_s": 1.0,
            "events": [{"channel": "agent", "clip": "a_ask_name", "at": 1.0},
                       {"channel": "customer", "clip": "c_surname", "after": after}],
            "expect": expect or [], **extra}


def test_expectations_resolve_from_where_events_were_placed(tmp_path: Path) -> None:
    expect = [
        {"rule": "interruption", "at_event": 1, "at": "start", "offset_s": 0.5},
        {"rule": "forbidden_phrase", "at_event": 0, "at": "end"},
        {"rule": "hold.too_long", "severity": "violation", "at_event": 1, "at": "end",
         "offset_s": -0.25},
        {"rule": "closing.incomplete", "at": "call_end"},
        {"rule": "dead_air", "t": 2.0},
    ]
    times = {}
    for after in (0.4, 1.7):
        scenario = expecting(expect, after, expect_none=[{"rule": "filler.excess"}],
                             expect_summary={"closing_ok": False, "rings_before_pickup": 0})
        truth = synth.synthesize(scenario, tmp_path / str(after)).truth
        agent, customer = truth["utterances"]
        assert truth["expect"] == [
            {"rule": "interruption", "t": pytest.approx(customer["start"] + 0.5, abs=1e-3)},
            {"rule": "forbidden_phrase", "t": agent["end"]},
            {"rule": "hold.too_long", "severity": "violation",
             "t": pytest.approx(customer["end"] - 0.25, abs=1e-3)},
            {"rule": "closing.incomplete", "t": truth["duration_s"]},
            {"rule": "dead_air", "t": 2.0},
        ]
        assert truth["expect_none"] == ["filler.excess"]
        assert truth["expect_summary"] == {"closing_ok": False, "rings_before_pickup": 0}
        times[after] = [e["t"] for e in truth["expect"]]
    # Moving the customer's line moves what is tied to it, and only that.
    shift = [b - a for a, b in zip(times[0.4], times[1.7], strict=True)]
    assert shift == pytest.approx([1.3, 0.0, 1.3, 1.3, 0.0], abs=1e-3)


def test_truth_has_expectation_keys_only_when_the_scenario_declares_some(tmp_path: Path) -> None:
    plain = synth.synthesize(expecting(), tmp_path / "plain").truth
    assert set(plain) == TRUTH_KEYS
    near = synth.synthesize(expecting(expect_none=[{"rule": "dead_air"}]),
                                  tmp_path / "near").truth
    assert set(near) == TRUTH_KEYS | {"expect", "expect_none", "expect_summary"}
    assert (near["expect"], near["expect_none"], near["expect_summary"]) == ([], ["dead_air"], {})


def test_the_scenarios_limits_pass_through_to_the_truth_only_when_stated(tmp_path: Path) -> None:
    """The tests take dead air, segment and pace limits from here, so they must arrive as given."""
    limits = {"dead_air_s": 5, "hangover_s": 0.3, "turn_gap_s": 1.5, "rate_min_turn_s": 2.0}
    truth = synth.synthesize(expecting(limits=limits), tmp_path / "stated").truth
    assert set(truth) == TRUTH_KEYS | {"limits"}
    assert truth["limits"] == limits
    assert "limits" not in synth.synthesize(expecting(), tmp_path / "plain").truth


def test_validated_expectations_validate_again() -> None:
    """``synthesize`` validates what ``load_scenario`` already validated: it must be idempotent."""
    scenario = synth.validate_scenario(expecting(
        [{"rule": "dead_air", "at_event": 0, "at": "end", "offset_s": 5.0}],
        expect_none=[{"rule": "interruption"}], expect_summary={"greeting_ok": True},
        limits={"dead_air_s": 5.0}))
    assert synth.validate_scenario(scenario) == scenario


@pytest.mark.parametrize(("change", "message"), [
    ({"expect": [{"rule": "late_pickup", "t": 1.0}]}, "not a DESIGN.md rule id"),
    ({"expect": [{"rule": "dead_air"}]}, "give t .* or at"),
    ({"expect": [{"rule": "dead_air", "t": 1.0, "at": "end", "at_event": 0}]}, "not both"),
    ({"expect": [{"rule": "dead_air", "t": 1.0, "offset_s": 0.5}]}, "t is absolute"),
    ({"expect": [{"rule": "dead_air", "at": "end"}]}, "needs at_event"),
    ({"expect": [{"rule": "dead_air", "at": "middle", "at_event": 0}]}, "at must be one of"),
    ({"expect": [{"rule": "dead_air", "at": "end", "at_event": 2}]}, "event index 0-1"),
    ({"expect": [{"rule": "dead_air", "at": "end", "at_event": True}]}, "event index"),
    ({"expect": [{"rule": "dead_air", "at": "call_end", "at_event": 0}]}, "takes no at_event"),
    ({"expect": [{"rule": "dead_air", "t": 1.0, "severity": "fatal"}]}, "severity"),
    ({"expect": [{"rule": "dead_air", "t": 1.0, "when": 2}]}, "unknown keys"),
    ({"expect": [{"rule": "dead_air", "t": 1.0}], "expect_none": [{"rule": "dead_air"}]},
     "also expected to fire"),
    ({"expect_none": [{"rule": "dead_air"}, {"rule": "dead_air"}]}, "listed twice"),
    ({"expect_none": [{"rule": "deadair"}]}, "not a DESIGN.md rule id"),
    ({"expect_summary": {"greeting": True}}, "unknown keys"),
    ({"expect_summary": {"greeting_ok": [True]}}, "plain value"),
    ({"expect": [{"rule": "dead_air", "at": "end", "at_event": 1, "offset_s": 30.0}]},
     "falls outside the call"),
    ({"expect": [{"rule": "dead_air", "t": -1.0}]}, "falls outside the call"),
    ({"limits": {"dead_air": 5.0}}, "unknown keys"),
    ({"limits": {"dead_air_s": 0}}, "positive number"),
    ({"limits": {"hangover_s": "0.3"}}, "positive number"),
    ({"limits": {"turn_gap_s": True}}, "positive number"),
])
def test_bad_expectations_fail_loudly(tmp_path: Path, change: dict[str, Any],
                                      message: str) -> None:
    with pytest.raises(ValueError, match=message):
        synth.synthesize({**expecting(), **change}, tmp_path)


def test_rule_ids_are_the_design_table() -> None:
    first_cells = re.findall(r"^\| (`[^|]+)\|", DESIGN_MD.read_text(encoding="utf-8"), re.M)
    ids = [i for cell in first_cells for i in re.findall(r"`([a-z_.]+)`", cell)]
    assert sorted(ids) == sorted(synth.RULE_IDS)


def test_rule_scenarios_cover_every_rule_with_a_hit_and_a_near_miss() -> None:
    scenarios = [synth.load_scenario(p) for p in sorted(RULES_DIR.glob("*.toml"))]
    fires = {e["rule"] for s in scenarios for e in s["expect"]}
    near = {e["rule"] for s in scenarios for e in s["expect_none"]}
    assert fires == near == set(synth.RULE_IDS)
    english = [s for s in scenarios if s["language"] == "en"]
    assert len(english) >= 4
    names = [s["name"] for s in scenarios]
    older = {p.stem for p in synth.SCENARIOS_DIR.glob("*.toml")}
    assert len(set(names)) == len(names) and not older & set(names)
    for path in RULES_DIR.glob("*.toml"):  # each says what it tests and what it assumes
        assert path.read_text(encoding="utf-8").startswith("# "), path


# --------------------------------------------------------------------------- tempo and gain


@pytest.mark.parametrize("tempo", [0.7, 1.15])
def test_tempo_stretches_a_clip_and_its_speech_span(tempo: float) -> None:
    rate = 16000
    plain = synth.load_clip("a_explain_fee_slow", rate)
    line = synth.load_clip("a_explain_fee_slow", rate, tempo)
    assert line.samples.size / rate == pytest.approx(plain.samples.size / rate / tempo, abs=0.01)
    islands = synth.speech_islands(line.samples, rate)
    assert islands[0][0] == pytest.approx(line.speech_start / rate, abs=0.02)
    assert islands[-1][1] == pytest.approx(line.speech_end / rate, abs=0.02)
    assert (line.text, line.chars) == (plain.text, plain.chars)
    # The pitch stays: the spectral centroid of the speech moves by less than 10 %.
    def centroid(x: np.ndarray) -> float:
        power = np.abs(np.fft.rfft(x)) ** 2
        return float(np.sum(np.fft.rfftfreq(x.size, 1 / rate) * power) / power.sum())
    assert centroid(line.samples) == pytest.approx(centroid(plain.samples), rel=0.1)


def test_tempo_speeds_up_espeak() -> None:
    text = "Your plan renews on the first day of every month."
    normal = synth.espeak_line(text, "agent", 16000)
    fast = synth.espeak_line(text, "agent", 16000, 1.3)
    ratio = (normal.speech_end - normal.speech_start) / (fast.speech_end - fast.speech_start)
    assert 1.15 < ratio < 1.45


def test_loud_agent_saturates_without_wrapping(tmp_path: Path) -> None:
    scenario = {"name": "loud", "language": "zh", "tail_s": 0.5,
                "events": [{"channel": "agent", "clip": "a_ask_problem", "at": 0.5,
                            "gain_db": 12.0}]}
    result = synth.synthesize(scenario, tmp_path)
    pcm, rate = read_pcm(result.wav)
    clip = read_clip("a_ask_problem")
    offset = round(0.5 * rate) - round(manifest()["a_ask_problem"]["speech_start"] * rate)
    loud = np.rint(clip * 10 ** (12 / 20))
    placed = pcm[offset:offset + clip.size, 0]
    np.testing.assert_array_equal(placed, np.clip(loud, -32768, 32767))
    assert np.count_nonzero(np.abs(loud) > 32767) > 100  # it does saturate ...
    assert np.all(np.sign(placed) == np.sign(loud))  # ... and never flips sign
    u = result.truth["utterances"][0]
    assert dbfs(span(pcm[:, 0], rate, u["start"], u["end"])) > -10.0
    # The telephone copy saturates too: resampling overshoots full scale, and it must clip.
    decoded = ulaw_decode(np.frombuffer(riff_chunks(result.ulaw_8k.read_bytes())["data"],
                                        dtype=np.uint8)).reshape(-1, 2)[:, 0]
    narrow = np.clip(soxr.resample(pcm[:, 0], rate, 8000), -32768, 32767)
    assert np.corrcoef(narrow, decoded)[0, 1] > 0.999


@pytest.mark.parametrize(("event", "message"), [
    ({"channel": "agent", "clip": "a_bc_dui", "at": 1.0, "tempo": 0.3}, "tempo must be within"),
    ({"channel": "agent", "click": True, "at": 1.0, "tempo": 1.2}, "a click has no tempo"),
])
def test_bad_tempo_fails_loudly(tmp_path: Path, event: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        synth.synthesize({"name": "bad", "language": "zh", "events": [event]}, tmp_path)
