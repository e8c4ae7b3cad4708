"""Compressed recordings (FLAC, Ogg Vorbis, Ogg Opus, MP3) against the WAV of the same call.

Each synthesised stereo call is encoded with FFmpeg's real encoders (testkit/encode.py) and
replayed without recognition; its timeline must be the WAV replay's within the replay tests'
tolerances (lossy codecs shift levels and edges a little): speech segments 0.15 s, the ring
count exact, alerts 0.15 s. FLAC is lossless, so its frames must be the WAV's bit for bit.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from monitor.config import load_config
from monitor.engine.core import MIXED_WHY
from monitor.errors import CallmonitorError
from monitor.sources.decoded import DecodedSource
from monitor.sources.recording import open_recording
from monitor.sources.wavfile import WavSource
from monitor.text import error_rate
from testkit.encode import CODECS, encode_samples, encode_wav
from testkit.replay import of_type, replay_records

TOL_S = 0.15
SCENARIOS = ["rules/ring_three", "rules/interruption", "rules/dead_air_7s"]
FORMATS = list(CODECS)
# The checks a mixed recording cannot make (README, "--channels"): the two-sided ones and
# those of the agent's own words or voice; ring.late_pickup and hold.too_long stay.
MIXED_SKIPS = {"greeting.incomplete", "hold.unannounced", "hold.no_thanks", "dead_air",
               "interruption", "backchannel.missing", "volume.too_loud", "forbidden_phrase",
               "filler.excess", "rate.too_fast", "rate.too_slow", "closing.incomplete"}


@pytest.fixture(scope="module")
def cfg():
    return load_config("zh-CN")


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("recordings")


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        return pcm.reshape(-1, w.getnchannels()), w.getframerate()


@pytest.fixture(scope="module")
def calls(synth_call, out_dir):
    """scenario -> (the WAV, {format: its encoded copy})."""
    out = {}
    for name in SCENARIOS:
        wav = synth_call(name).wav
        out[name] = (wav, {c: encode_wav(wav, c, out_dir) for c in FORMATS})
    return out


def strip(records):
    """The timeline without the summary's facts about the file itself."""
    return records[:-1]


def edges(segments):
    """Speech segments' starts and ends, flat, for ``pytest.approx``."""
    return [t for seg in segments for t in (seg["start"], seg["end"])]


def assert_same_timeline(got, want):
    for channel in ("agent", "customer"):
        g, w = of_type(got, "speech", channel=channel), of_type(want, "speech", channel=channel)
        assert len(g) == len(w), channel
        for a, b in zip(g, w, strict=True):
            assert abs(a["start"] - b["start"]) <= TOL_S, (channel, a, b)
            assert abs(a["end"] - b["end"]) <= TOL_S, (channel, a, b)
    assert len(of_type(got, "ring")) == len(of_type(want, "ring"))
    assert got[-1]["rings_before_pickup"] == want[-1]["rings_before_pickup"]
    assert got[-1]["pickup_t"] == pytest.approx(want[-1]["pickup_t"], abs=TOL_S)
    g_alerts, w_alerts = of_type(got, "alert"), of_type(want, "alert")
    assert [a["rule"] for a in g_alerts] == [a["rule"] for a in w_alerts]
    for a, b in zip(g_alerts, w_alerts, strict=True):
        assert abs(a["t"] - b["t"]) <= TOL_S, (a, b)


@pytest.mark.parametrize("codec", FORMATS)
@pytest.mark.parametrize("name", SCENARIOS)
def test_each_format_replays_as_the_wav_does(calls, cfg, name, codec):
    wav, encoded = calls[name]
    want = replay_records(wav, cfg)
    assert of_type(want, "speech") and want[-1]["rings_before_pickup"] is not None
    source = open_recording(encoded[codec])
    assert isinstance(source, DecodedSource) and source.channels == ("agent", "customer")
    assert_same_timeline(replay_records(encoded[codec], cfg), want)


def test_the_interruptions_and_dead_air_are_in_the_truth(calls, cfg):
    """The comparison above is not empty: the WAV replays find what the scenarios make."""
    found = {name: {a["rule"] for a in of_type(replay_records(wav, cfg), "alert")}
             for name, (wav, _) in calls.items()}
    assert "interruption" in found["rules/interruption"]
    assert "dead_air" in found["rules/dead_air_7s"]


def test_flac_gives_the_wav_frames_bit_for_bit(calls):
    wav, encoded = calls["rules/ring_three"]
    assert list(open_recording(encoded["flac"]).frames()) == list(WavSource(wav).frames())


@pytest.mark.parametrize("codec", ["wav", "flac", "mp3"])
def test_agent_right_equals_swapping_the_channels(calls, cfg, out_dir, codec):
    wav, _ = calls["rules/interruption"]
    samples, rate = read_wav(wav)
    swapped = out_dir / f"swapped_{codec}.wav"
    with wave.open(str(swapped), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples[:, ::-1].tobytes())
    plain = wav if codec == "wav" else encode_wav(wav, codec, out_dir)
    if codec != "wav":
        swapped = encode_samples(samples[:, ::-1].copy(), rate, out_dir / f"sw{codec}", codec)
    want = replay_records(plain, cfg)
    got = replay_records(swapped, cfg, channels="agent-right")
    if codec == "mp3":  # joint stereo codes the sides' difference: the swap is not bit-exact
        assert_same_timeline(got, want)
    else:
        assert strip(got) == strip(want)
    # --swap-channels is the same thing, and flips a given side back
    swap = list(open_recording(swapped, swap_channels=True).frames())
    assert swap == list(open_recording(swapped, channels="agent-right").frames())
    flipped = open_recording(swapped, swap_channels=True, channels="agent-right")
    assert list(flipped.frames()) == list(open_recording(swapped).frames())


@pytest.mark.parametrize("codec", ["wav", "mp3"])
def test_mixed_is_a_mono_session_with_the_documented_skips(calls, cfg, out_dir, codec):
    wav, _ = calls["rules/ring_three"]
    path = wav if codec == "wav" else encode_wav(wav, codec, out_dir)
    two_sided = replay_records(wav, cfg)
    source = open_recording(path, channels="mixed")
    assert source.channels == ("agent",) and source.mixed
    records = replay_records(path, cfg, channels="mixed")
    summary = records[-1]
    skipped = {s["rule"]: s["why"] for s in summary["rules_skipped"]}
    assert skipped == dict.fromkeys(MIXED_SKIPS, MIXED_WHY)
    assert "mixed recording" in MIXED_WHY
    assert {c["rule"] for c in summary["checks"]} & MIXED_SKIPS == set()
    assert summary["agent_rate_cpm"] is None and summary["talk_ratio_agent"] is None
    # The rings are heard in the one channel, so the pickup is the agent's first words.
    assert summary["rings_before_pickup"] == two_sided[-1]["rings_before_pickup"] == 3
    assert summary["pickup_t"] == pytest.approx(two_sided[-1]["pickup_t"], abs=TOL_S)
    # Every mixed segment is someone's speech: it starts where a side's segment starts.
    starts = [s["start"] for s in of_type(two_sided, "speech")]
    for seg in of_type(records, "speech"):
        assert seg["channel"] == "agent"
        assert min(abs(seg["start"] - t) for t in starts) <= TOL_S, seg


def test_a_mono_mix_is_read_like_the_stereo_file_mixed(calls, cfg, out_dir):
    wav, _ = calls["rules/ring_three"]
    samples, rate = read_wav(wav)
    mono = np.rint(samples.astype(np.float64).mean(axis=1)).astype("<i2").reshape(-1, 1)
    path = encode_samples(mono, rate, out_dir / "mono_mix.flac", "flac")
    from_mono = replay_records(path, cfg, channels="mixed")
    from_stereo = replay_records(wav, cfg, channels="mixed")
    assert from_mono[-1]["rules_skipped"] == from_stereo[-1]["rules_skipped"]
    assert edges(of_type(from_mono, "speech")) == pytest.approx(
        edges(of_type(from_stereo, "speech")), abs=TOL_S)


def test_agent_only_is_for_mono_files(calls, out_dir):
    wav, _ = calls["rules/ring_three"]
    samples, rate = read_wav(wav)
    mono = encode_samples(samples[:, :1].copy(), rate, out_dir / "agent.mp3", "mp3")
    src = open_recording(mono, channels="agent-only")
    assert src.channels == ("agent",) and not src.mixed
    assert list(src.frames()) == list(open_recording(mono).frames())
    with pytest.raises(CallmonitorError, match="stereo recording given as agent-only") as err:
        open_recording(wav, channels="agent-only")
    assert "agent-left" in err.value.fix


def test_the_format_comes_from_the_content_not_the_name(calls, out_dir):
    _, encoded = calls["rules/ring_three"]
    misnamed = out_dir / "really_mp3.wav"
    misnamed.write_bytes(encoded["mp3"].read_bytes())
    assert open_recording(misnamed).describe().startswith("really_mp3.wav: stereo, 16000 Hz MP3")
    wav_named_dat = out_dir / "call.dat"
    wav_named_dat.write_bytes(calls["rules/ring_three"][0].read_bytes())
    assert isinstance(open_recording(wav_named_dat), WavSource)


# --- bad files: one line each, before processing where the file lets it be known ----------


def one_line(err: CallmonitorError, path: Path, problem: str) -> None:
    assert str(path) in err.problem and problem in err.problem, err.problem
    assert err.fix and "\n" not in str(err)


def ogg_crc(page: bytes) -> int:
    """The Ogg page checksum (CRC-32, polynomial 0x04C11DB7, no reflection)."""
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def zero_channel_opus(good: Path, out: Path) -> Path:
    """The Opus file with its header's channel count set to 0 and the page checksum redone,
    so only the channel count is wrong."""
    data = bytearray(good.read_bytes())
    data[data.index(b"OpusHead") + 9] = 0
    n_seg = data[26]
    end = 27 + n_seg + sum(data[27:27 + n_seg])
    page = bytearray(data[:end])
    page[22:26] = b"\0\0\0\0"
    data[22:26] = ogg_crc(bytes(page)).to_bytes(4, "little")
    out.write_bytes(bytes(data))
    return out


def mp2_behind_an_id3_tag(out: Path) -> Path:
    """MPEG layer II audio (a codec not read here) in a file that opens like an MP3."""
    import av

    raw = out.with_suffix(".mp2")
    with av.open(str(raw), "w", format="mp2") as container:
        stream = container.add_stream("mp2", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), "<i2"), format="s16",
                                           layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    out.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + raw.read_bytes())
    return out


@pytest.mark.parametrize("codec", FORMATS)
def test_bad_files_are_one_line_before_processing(calls, out_dir, codec):
    good = calls["rules/ring_three"][1][codec]
    suffix = CODECS[codec].suffix
    cases = {
        "empty": (b"", "file is empty"),
        "truncated header": (good.read_bytes()[:60], "not a readable"),
        "corrupt header": (good.read_bytes()[:4] + bytes(range(256)) * 40, "not a readable"),
        "text named as audio": (b"call,agent\n1,Wang\n" * 10, "not a recording callmonitor"),
    }
    for case, (data, problem) in cases.items():
        path = out_dir / f"bad_{case.replace(' ', '_')}{suffix}"
        path.write_bytes(data)
        with pytest.raises(CallmonitorError) as err:
            open_recording(path)
        one_line(err.value, path, problem)
    assert f"named {suffix}" in str(err.value)


def test_an_unknown_codec_and_zero_channels_are_one_line(calls, out_dir):
    path = mp2_behind_an_id3_tag(out_dir / "layer2.mp3")
    with pytest.raises(CallmonitorError) as err:
        open_recording(path)
    one_line(err.value, path, "MP3 file with mp2 audio is not supported")
    path = zero_channel_opus(calls["rules/ring_three"][1]["opus"], out_dir / "zero.opus")
    with pytest.raises(CallmonitorError) as err:
        open_recording(path)
    one_line(err.value, path, "not a readable OGG file")


@pytest.mark.parametrize("codec", FORMATS)
def test_a_file_cut_off_mid_stream_ends_the_session_there(calls, cfg, out_dir, codec):
    """As a WAV cut off mid-write: the session completes with the audio up to the cut, and
    its timeline up to there is the whole file's."""
    good = calls["rules/dead_air_7s"][1][codec]
    data = good.read_bytes()
    cut = out_dir / f"cut{CODECS[codec].suffix}"
    cut.write_bytes(data[:len(data) // 2])
    whole = replay_records(good, cfg)
    half = replay_records(cut, cfg)
    end = half[-1]["duration_s"]
    assert 0.3 * whole[-1]["duration_s"] < end < 0.7 * whole[-1]["duration_s"]
    done = [r for r in of_type(whole, "speech") if r["end"] < end - 1.0]
    assert done
    assert edges(of_type(half, "speech"))[:2 * len(done)] == pytest.approx(edges(done),
                                                                           abs=TOL_S)


@pytest.mark.parametrize("codec", FORMATS)
def test_garbage_mid_stream_still_completes(calls, cfg, out_dir, codec):
    good = calls["rules/dead_air_7s"][1][codec]
    data = bytearray(good.read_bytes())
    at = len(data) // 2
    data[at:at + 4000] = np.random.default_rng(7).integers(0, 256, 4000, np.uint8).tobytes()
    bad = out_dir / f"garbage{CODECS[codec].suffix}"
    bad.write_bytes(bytes(data))
    records = replay_records(bad, cfg)  # raises unless the session completed
    assert records[-1]["duration_s"] > 0.3 * replay_records(good, cfg)[-1]["duration_s"]


# --- words: lossy codecs must not cost the recogniser more than they cost a listener -------


LOSSY_SCRIPT = "rules/greeting_short"


def error_rates(records: list[dict], script: dict[str, str]) -> dict[str, float]:
    """Per channel with a script, the character error rate of the replay's utterances."""
    return {channel: error_rate(text, "".join(
        u["text"] for u in of_type(records, "utterance", channel=channel)), "zh")
        for channel, text in script.items()}


@pytest.fixture(scope="module")
def lossy_script(synth_call) -> dict[str, str]:
    """What each side of the call says, for the channels that say anything."""
    truth = synth_call(LOSSY_SCRIPT).truth
    said = {channel: "".join(u["text"] for u in truth["utterances"] if u["channel"] == channel)
            for channel in ("agent", "customer")}
    return {channel: text for channel, text in said.items() if text}


@pytest.fixture(scope="module")
def wav_heard(synth_call, cfg, whisper_zh, lossy_script) -> dict[str, float]:
    """The WAV's per-channel error rates, replayed once for every codec's comparison."""
    return error_rates(replay_records(synth_call(LOSSY_SCRIPT).wav, cfg, whisper_zh),
                       lossy_script)


@pytest.mark.slow
@pytest.mark.parametrize("codec", ["opus", "mp3"])
def test_the_words_of_a_lossy_copy_are_the_wavs(synth_call, cfg, out_dir, whisper_zh, codec,
                                                lossy_script, wav_heard):
    """Whisper on the Opus and MP3 copies (64 kbit/s for both sides) of a call with a known
    script: the character error rate against the script within 5 points of the WAV's."""
    copy = encode_wav(synth_call(LOSSY_SCRIPT).wav, codec, out_dir)
    heard = error_rates(replay_records(copy, cfg, whisper_zh), lossy_script)
    assert lossy_script
    for channel in lossy_script:
        assert heard[channel] <= wav_heard[channel] + 0.05, (channel, heard, wav_heard)
        assert wav_heard[channel] <= 0.25, (channel, wav_heard)
