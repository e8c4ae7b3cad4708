"""WavSource against known truth: tones of known frequency, level and onset written to real files.

Linear formats are written by the small RIFF writer below (so the header variants are under
the test's control); G.711 and the files sox writes itself come from the sox binary.
"""

from __future__ import annotations

import math
import struct
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from monitor.errors import CallmonitorError
from monitor.frames import FRAME_BYTES, FRAME_S, FRAME_SAMPLES
from monitor.sources.wavfile import ALAW_TO_INT16, MULAW_TO_INT16, WavInfo, WavSource

RATES = (8000, 16000, 22050, 44100, 48000)
LINEAR = ("pcm_u8", "pcm_s16", "pcm_s32", "float32")
G711 = ("mulaw", "alaw")
TAGS = {"pcm_u8": 1, "pcm_s16": 1, "pcm_s32": 1, "float32": 3, "mulaw": 7, "alaw": 6}
BITS = {"pcm_u8": 8, "pcm_s16": 16, "pcm_s32": 32, "float32": 32, "mulaw": 8, "alaw": 8}
GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")


# --- writing test files ---------------------------------------------------------------------


def fmt_body(tag: int, channels: int, rate: int, bits: int, extensible: bool = False) -> bytes:
    block = channels * bits // 8
    head = (0xFFFE if extensible else tag, channels, rate, rate * block, block, bits)
    body = struct.pack("<HHIIHH", *head)
    if tag != 1 and not extensible:
        body += struct.pack("<H", 0)  # cbSize: non-PCM fmt chunks carry it
    if extensible:
        body += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + GUID_TAIL
    return body


def chunk(cid: bytes, body: bytes, size: int | None = None) -> bytes:
    pad = b"\0" if len(body) % 2 else b""
    return cid + struct.pack("<I", len(body) if size is None else size) + body + pad


def write_riff(path: Path, chunks: list[bytes]) -> Path:
    body = b"WAVE" + b"".join(chunks)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def encode(x: np.ndarray, sample_format: str) -> bytes:
    """Float samples (n, channels) in [-1, 1] to the interleaved bytes of a linear format."""
    if sample_format == "pcm_u8":
        return np.clip(np.rint(x * 128 + 128), 0, 255).astype(np.uint8).tobytes()
    if sample_format == "pcm_s16":
        return np.clip(np.rint(x * 32768), -32768, 32767).astype("<i2").tobytes()
    if sample_format == "pcm_s32":
        return np.clip(np.rint(x * 2.0**31), -(2**31), 2**31 - 1).astype("<i4").tobytes()
    return x.astype("<f4").tobytes()


def write_wav(path: Path, x: np.ndarray, rate: int, sample_format: str = "pcm_s16",
              extensible: bool = False) -> Path:
    """Write float samples; G.711 goes through sox (no dither) from a float32 intermediate."""
    x = x.reshape(len(x), -1)
    if sample_format in G711:
        tmp = write_wav(path.with_suffix(".f32.wav"), x, rate, "float32")
        enc = "u-law" if sample_format == "mulaw" else "a-law"
        sox("-D", str(tmp), "-e", enc, str(path))
        return path
    fmt = fmt_body(TAGS[sample_format], x.shape[1], rate, BITS[sample_format], extensible)
    return write_riff(path, [chunk(b"fmt ", fmt), chunk(b"data", encode(x, sample_format))])


def tone(rate: int, seconds: float, freq: float = 1000.0, amp: float = 0.5) -> np.ndarray:
    n = int(rate * seconds)
    return amp * np.sin(2 * np.pi * freq * np.arange(n) / rate)


def sox(*args: str) -> None:
    subprocess.run(["sox", *args], check=True, capture_output=True)


# --- reading frames back ---------------------------------------------------------------------


def collect(src: WavSource) -> tuple[list[tuple], dict[str, np.ndarray]]:
    steps = list(src.frames())
    per_channel = {ch: np.frombuffer(b"".join(s[j].pcm for s in steps), "<i2")
                   for j, ch in enumerate(src.channels)}
    return steps, per_channel


def level_db(x: np.ndarray) -> float:
    rms = np.sqrt(np.mean((x.astype(np.float64) / 32768.0) ** 2))
    return 20 * math.log10(max(rms, 1e-12))


def peak_hz_and_snr(x: np.ndarray, rate: int = 16000) -> tuple[float, float]:
    """FFT peak frequency and the power ratio of the peak's +-20 Hz to everything else, in dB."""
    w = np.hanning(len(x))
    spec = np.abs(np.fft.rfft(x.astype(np.float64) * w)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    peak = freqs[np.argmax(spec)]
    near = np.abs(freqs - peak) <= 20
    return float(peak), 10 * math.log10(spec[near].sum() / max(spec[~near].sum(), 1e-30))


# --- format x rate: length, frequency, level -------------------------------------------------

LEVEL_TOL_DB = {"pcm_u8": 0.1, "pcm_s16": 0.02, "pcm_s32": 0.02, "float32": 0.02,
                "mulaw": 0.5, "alaw": 0.5}
MIN_SNR_DB = {"pcm_u8": 35, "pcm_s16": 70, "pcm_s32": 70, "float32": 70,
              "mulaw": 30, "alaw": 30}


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("sample_format", LINEAR + G711)
def test_tone_comes_out_at_16k_with_right_length_frequency_and_level(
        tmp_path: Path, rate: int, sample_format: str) -> None:
    x = tone(rate, 1.23)
    path = write_wav(tmp_path / "tone.wav", x, rate, sample_format)
    src = WavSource(path)
    assert src.channels == ("agent",)
    assert src.info.sample_format == sample_format
    assert src.info.sample_rate_hz == rate
    steps, pcm = collect(src)
    assert len(steps) == math.ceil(len(x) * 16000 / rate / FRAME_SAMPLES)
    assert all(len(s) == 1 and len(s[0].pcm) == FRAME_BYTES for s in steps)
    middle = pcm["agent"][3200:3200 + 16000]
    peak, snr = peak_hz_and_snr(middle)
    assert abs(peak - 1000.0) <= 1.0
    assert snr >= MIN_SNR_DB[sample_format]
    expected_db = 20 * math.log10(0.5 / math.sqrt(2))
    assert abs(level_db(middle) - expected_db) <= LEVEL_TOL_DB[sample_format]


def test_frames_are_stamped_from_an_integer_counter_and_last_step_is_zero_padded(
        tmp_path: Path) -> None:
    n = 16000 + 100  # 50 full frames and 100 samples over
    x = np.full(n, 0.25)
    steps, _ = collect(WavSource(write_wav(tmp_path / "a.wav", x, 16000)))
    assert len(steps) == 51
    assert [s[0].t for s in steps] == [i * FRAME_S for i in range(51)]
    last = np.frombuffer(steps[-1][0].pcm, "<i2")
    assert (last[:100] == 8192).all() and (last[100:] == 0).all()


def test_16k_s16_passes_through_bit_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    raw = rng.integers(-32768, 32768, 16000 * 2, dtype=np.int16)
    path = write_riff(tmp_path / "n.wav", [chunk(b"fmt ", fmt_body(1, 2, 16000, 16)),
                                           chunk(b"data", raw.astype("<i2").tobytes())])
    _, pcm = collect(WavSource(path))
    assert np.array_equal(pcm["agent"], raw[0::2])
    assert np.array_equal(pcm["customer"], raw[1::2])


# --- stereo channel mapping ------------------------------------------------------------------


@pytest.mark.parametrize(("agent_side", "swap", "tone_on"), [
    ("left", False, "agent"), ("left", True, "customer"),
    ("right", False, "customer"), ("right", True, "agent"),
])
def test_stereo_left_tone_follows_the_configured_agent_side(
        tmp_path: Path, agent_side: str, swap: bool, tone_on: str) -> None:
    left = tone(8000, 0.5)
    x = np.stack([left, np.zeros_like(left)], axis=1)
    src = WavSource(write_wav(tmp_path / "st.wav", x, 8000), agent_side=agent_side,
                    swap_channels=swap)
    assert src.channels == ("agent", "customer")
    steps, pcm = collect(src)
    assert all([f.channel for f in s] == ["agent", "customer"] for s in steps)
    silent = "customer" if tone_on == "agent" else "agent"
    assert level_db(pcm[tone_on]) > -10
    assert np.abs(pcm[silent]).max() == 0


# --- timing through resampling and block boundaries ------------------------------------------


@pytest.mark.parametrize("rate", RATES)
def test_burst_at_one_second_stays_at_one_second(tmp_path: Path, rate: int) -> None:
    x = np.zeros(int(rate * 1.5))
    burst = tone(rate, 0.2, amp=0.8)
    x[rate:rate + len(burst)] = burst
    # A block size that does not divide the second, so the onset sits inside a block.
    src = WavSource(write_wav(tmp_path / "b.wav", x, rate), block_s=0.137)
    steps, pcm = collect(src)
    onset = int(np.argmax(np.abs(pcm["agent"]) > 0.25 * 0.8 * 32768))
    assert abs(onset / 16000 - 1.0) <= 0.002
    loud = [s[0].t for s in steps if np.abs(np.frombuffer(s[0].pcm, "<i2")).max() > 8000]
    assert loud[0] == pytest.approx(1.00)


@pytest.mark.parametrize("rate", (8000, 44100))
def test_block_size_does_not_change_the_output(tmp_path: Path, rate: int) -> None:
    rng = np.random.default_rng(2)
    x = np.stack([tone(rate, 2.0), 0.3 * rng.uniform(-1, 1, int(rate * 2.0))], axis=1)
    path = write_wav(tmp_path / "c.wav", x, rate)
    _, small = collect(WavSource(path, block_s=0.013))
    _, whole = collect(WavSource(path, block_s=100.0))
    for ch in ("agent", "customer"):
        assert len(small[ch]) == len(whole[ch])
        diff = np.abs(small[ch].astype(np.int32) - whole[ch].astype(np.int32))
        assert diff.max() <= 1


def test_frames_can_be_iterated_twice(tmp_path: Path) -> None:
    src = WavSource(write_wav(tmp_path / "t.wav", tone(8000, 0.3), 8000))
    assert list(src.frames()) == list(src.frames())


def test_ten_minute_call_is_streamed_not_loaded(tmp_path: Path) -> None:
    rate, seconds = 8000, 600
    path = tmp_path / "long.wav"
    block = encode(tone(rate, 60.0).reshape(-1, 1), "pcm_s16")
    with path.open("wb") as fh:
        size = len(block) * (seconds // 60)
        fh.write(b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE")
        fh.write(chunk(b"fmt ", fmt_body(1, 1, rate, 16)) + b"data" + struct.pack("<I", size))
        for _ in range(seconds // 60):
            fh.write(block)
    src = WavSource(path, block_s=2.0)
    tracemalloc.start()
    try:
        count = sum(1 for _ in src.frames())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == seconds * 50
    assert peak < 2_000_000, f"peak {peak} bytes for a {path.stat().st_size} byte file"


# --- G.711 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("sample_format", "table"), [("mulaw", MULAW_TO_INT16),
                                                      ("alaw", ALAW_TO_INT16)])
def test_g711_all_256_codes_match_sox(tmp_path: Path, sample_format: str,
                                      table: np.ndarray) -> None:
    codes = np.tile(np.arange(256, dtype=np.uint8), 2)
    path = write_riff(tmp_path / "g.wav", [
        chunk(b"fmt ", fmt_body(TAGS[sample_format], 1, 16000, 8)),
        chunk(b"data", codes.tobytes())])
    out = subprocess.run(["sox", str(path), "-t", "raw", "-e", "signed", "-b", "16", "-"],
                         check=True, capture_output=True).stdout
    reference = np.frombuffer(out, "<i2")
    assert np.array_equal(table, reference[:256])
    _, pcm = collect(WavSource(path))
    assert np.array_equal(pcm["agent"][:512], reference)


def test_g711_tables_match_the_standard_end_points() -> None:
    assert (MULAW_TO_INT16[0x00], MULAW_TO_INT16[0x80]) == (-32124, 32124)
    assert MULAW_TO_INT16[0x7F] == 0 and MULAW_TO_INT16[0xFF] == 0
    assert (ALAW_TO_INT16[0xAA], ALAW_TO_INT16[0x2A]) == (32256, -32256)
    assert (ALAW_TO_INT16[0xD5], ALAW_TO_INT16[0x55]) == (8, -8)


# --- header variants -------------------------------------------------------------------------


def _pcm(n: int = 1600) -> tuple[np.ndarray, bytes]:
    samples = (np.arange(n) % 200 - 100).astype("<i2") * 100
    return samples, samples.tobytes()


def test_unknown_chunks_and_odd_pad_bytes_are_skipped(tmp_path: Path) -> None:
    samples, data = _pcm()
    path = write_riff(tmp_path / "l.wav", [
        chunk(b"LIST", b"INFOISFT\x05\0\0\0sox!\0"),  # odd inner size, padded
        chunk(b"junk", b"abc"),  # odd chunk, pad byte follows
        chunk(b"fmt ", fmt_body(1, 1, 16000, 16)),
        chunk(b"fact", struct.pack("<I", len(samples))),
        chunk(b"data", data),
        chunk(b"LIST", b"INFOtail"),
    ])
    _, pcm = collect(WavSource(path))
    assert np.array_equal(pcm["agent"][:len(samples)], samples)


def test_fmt_after_data_is_found(tmp_path: Path) -> None:
    samples, data = _pcm()
    path = write_riff(tmp_path / "r.wav", [chunk(b"data", data),
                                           chunk(b"fmt ", fmt_body(1, 1, 16000, 16))])
    _, pcm = collect(WavSource(path))
    assert np.array_equal(pcm["agent"][:len(samples)], samples)


@pytest.mark.parametrize("declared", [0xFFFFFFFF, 10_000_000])
def test_data_size_beyond_the_file_reads_what_is_there(tmp_path: Path, declared: int) -> None:
    samples, data = _pcm(1601)
    path = write_riff(tmp_path / "s.wav", [chunk(b"fmt ", fmt_body(1, 1, 16000, 16)),
                                           chunk(b"data", data, size=declared)])
    src = WavSource(path)
    assert src.info.duration_s == pytest.approx(1601 / 16000)
    steps, pcm = collect(src)
    assert len(steps) == 6
    assert np.array_equal(pcm["agent"][:1601], samples)


def test_data_ending_mid_sample_drops_the_remainder(tmp_path: Path) -> None:
    samples, data = _pcm(1600)
    path = write_riff(tmp_path / "m.wav", [chunk(b"fmt ", fmt_body(1, 2, 16000, 16)),
                                           chunk(b"data", data + b"\x01\x02\x03")])
    src = WavSource(path)
    assert src.info.duration_s == pytest.approx(800 / 16000)
    _, pcm = collect(src)
    assert np.array_equal(pcm["agent"][:800], samples[0::2])
    assert np.array_equal(pcm["customer"][:800], samples[1::2])


@pytest.mark.parametrize("sample_format", ["pcm_s16", "pcm_s32", "float32", "mulaw", "alaw"])
def test_wave_format_extensible_maps_its_subformat(tmp_path: Path, sample_format: str) -> None:
    codes = np.arange(256, dtype=np.uint8)
    if sample_format in G711:
        data = codes.tobytes()
    else:
        data = encode((codes.astype(np.float64) / 256 - 0.5).reshape(-1, 1), sample_format)
    body = fmt_body(TAGS[sample_format], 1, 16000, BITS[sample_format], extensible=True)
    path = write_riff(tmp_path / "e.wav", [chunk(b"fmt ", body), chunk(b"data", data)])
    src = WavSource(path)
    assert src.info.sample_format == sample_format
    _, pcm = collect(src)
    if sample_format == "mulaw":
        assert np.array_equal(pcm["agent"][:256], MULAW_TO_INT16)
    elif sample_format == "alaw":
        assert np.array_equal(pcm["agent"][:256], ALAW_TO_INT16)
    else:
        assert np.array_equal(pcm["agent"][:256], (codes.astype(np.int32) - 128) * 128)


def test_float_samples_are_clipped(tmp_path: Path) -> None:
    x = np.array([2.0, -3.0, 0.5, 1.0, -1.0])
    _, pcm = collect(WavSource(write_wav(tmp_path / "f.wav", x, 16000, "float32")))
    assert list(pcm["agent"][:5]) == [32767, -32768, 16384, 32767, -32768]


def test_float_is_clipped_before_resampling(tmp_path: Path) -> None:
    """An over-range step must ring like a full-scale one, not like a step four times larger."""
    x = np.zeros(2400)
    x[800:1600] = 1.0
    _, full = collect(WavSource(write_wav(tmp_path / "one.wav", x, 8000, "float32")))
    _, over = collect(WavSource(write_wav(tmp_path / "four.wav", 4 * x, 8000, "float32")))
    assert np.array_equal(full["agent"], over["agent"])


def test_sox_written_stereo_mulaw_info_and_describe(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    sox("-n", "-r", "8000", "-c", "2", "-e", "u-law", str(path), "synth", "1.5", "sine", "440")
    src = WavSource(path)
    assert src.info == WavInfo(path, 8000, 2, "mulaw", 1.5)
    assert src.describe() == "call.wav: stereo, 8000 Hz mu-law, 1.5 s"
    assert "\n" not in src.describe()


def test_describe_mono(tmp_path: Path) -> None:
    src = WavSource(write_wav(tmp_path / "m.wav", tone(44100, 0.5), 44100, "float32"))
    assert src.describe() == "m.wav: mono, 44100 Hz 32-bit float, 0.5 s"


# --- bad input -------------------------------------------------------------------------------


def _fmt_data(tmp_path: Path, fmt: bytes, data: bytes = b"\0" * 64) -> Path:
    return write_riff(tmp_path / "bad.wav", [chunk(b"fmt ", fmt), chunk(b"data", data)])


def _bad_cases(tmp_path: Path) -> dict[str, tuple[Path, str, str]]:
    """name -> (file, words the problem must contain, words the fix must contain).

    Several fragments of the fix are separated by "|".
    """
    text = tmp_path / "notes.wav"
    text.write_text("this is a text file, not audio\n")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    short = tmp_path / "short.wav"
    short.write_bytes(b"RIFF\x24\0\0")
    no_fmt = write_riff(tmp_path / "nofmt.wav", [chunk(b"data", b"\0" * 64)])
    no_data = write_riff(tmp_path / "nodata.wav", [chunk(b"fmt ", fmt_body(1, 1, 8000, 16))])
    zero = _fmt_data(tmp_path, fmt_body(1, 2, 8000, 16), b"\0\0\0")
    zero = zero.rename(tmp_path / "zero.wav")
    b24, c6 = tmp_path / "b24.wav", tmp_path / "six.wav"
    sox("-n", "-r", "8000", "-b", "24", str(b24), "synth", "0.1", "sine", "440")
    sox("-n", "-r", "8000", "-b", "16", "-c", "6", str(c6), "synth", "0.1", "sine", "440")
    adpcm = _fmt_data(tmp_path, fmt_body(2, 1, 8000, 4)).rename(tmp_path / "adpcm.wav")
    hi = _fmt_data(tmp_path, fmt_body(1, 1, 96000, 16)).rename(tmp_path / "hi.wav")
    lo = _fmt_data(tmp_path, fmt_body(1, 1, 4000, 16)).rename(tmp_path / "lo.wav")
    f64 = _fmt_data(tmp_path, fmt_body(3, 1, 8000, 64)).rename(tmp_path / "f64.wav")
    return {
        "missing": (tmp_path / "nope.wav", "not found", "path"),
        "empty": (empty, "empty (0 bytes)", "again"),
        "text": (text, "not a WAV file", "sox"),
        "truncated": (short, "truncated header", "sox"),
        "no fmt": (no_fmt, "no 'fmt ' chunk", "sox"),
        "no data": (no_data, "no 'data' chunk", "sox"),
        "zero samples": (zero, "no audio samples", "recorder"),
        "24-bit": (b24, "24-bit PCM is not supported", "sox " + str(b24) + " -b 16"),
        "6 channels": (c6, "6 channels",
                       "mix down to stereo (agent left, customer right)|remix 1 2"),
        "unknown tag": (adpcm, "unknown WAV format tag 0x0002", "16-bit PCM"),
        "96 kHz": (hi, "sample rate 96000 Hz is not supported", "-r 16000"),
        "4 kHz": (lo, "sample rate 4000 Hz is not supported", "-r 16000"),
        "64-bit float": (f64, "64-bit IEEE float is not supported", "-b 16"),
    }


def test_bad_input_raises_one_line_error_with_problem_and_fix(tmp_path: Path) -> None:
    for name, (path, problem, fix) in _bad_cases(tmp_path).items():
        with pytest.raises(CallmonitorError) as info:
            WavSource(path)
        err = info.value
        assert path.name in err.problem, name
        assert problem in err.problem, (name, err.problem)
        assert all(part in err.fix for part in fix.split("|")), (name, err.fix)
        assert "\n" not in str(err), name


def test_bad_agent_side_is_a_user_error(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "ok.wav", tone(8000, 0.1), 8000)
    with pytest.raises(CallmonitorError, match="agent side"):
        WavSource(path, agent_side="middle")  # type: ignore[arg-type]


def test_of_two_fmt_chunks_the_first_counts_with_a_warning(tmp_path: Path) -> None:
    """As sox and ffmpeg read it: a second ``fmt `` (stereo 8 kHz 8-bit) would make this one
    second of 16 kHz mono audio last four seconds."""
    x = tone(16000, 1.0, freq=440.0).reshape(-1, 1)
    path = write_riff(tmp_path / "two.wav", [chunk(b"fmt ", fmt_body(1, 1, 16000, 16)),
                                             chunk(b"fmt ", fmt_body(1, 2, 8000, 8)),
                                             chunk(b"data", encode(x, "pcm_s16"))])
    src = WavSource(path)
    assert (src.info.sample_rate_hz, src.info.channels, src.info.sample_format) == (
        16000, 1, "pcm_s16")
    assert src.info.duration_s == 1.0
    [warning] = src.info.warnings
    assert str(path) in warning and "2 'fmt ' chunks; the first is used" in warning
    _, pcm = collect(src)
    assert peak_hz_and_snr(pcm["agent"])[0] == pytest.approx(440.0, abs=2.0)
    one = write_riff(tmp_path / "one.wav", [chunk(b"fmt ", fmt_body(1, 1, 16000, 16)),
                                            chunk(b"data", encode(x, "pcm_s16"))])
    assert WavSource(one).info.warnings == ()


def test_a_path_that_cannot_be_looked_up_is_a_user_error(tmp_path: Path) -> None:
    """A name too long (ENAMETOOLONG) fails the lookup as root too, as a folder without search
    permission fails it for anyone else (tests/cli/test_faults.py)."""
    path = tmp_path / ("x" * 300) / "call.wav"
    with pytest.raises(CallmonitorError, match="cannot be read") as info:
        WavSource(path)
    assert "permissions" in info.value.fix
