"""Syllable nuclei against exact character counts: the Mandarin clip library and real recordings.

Every clip is read through WavSource and judged frame by frame by webrtcvad at the configured
aggressiveness, as the pipeline does, then fed to a SyllableCounter one 20 ms frame at a time.
Run with ``-s`` to see the figures; the tolerances below come from those measurements.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import webrtcvad

from monitor.analysis.syllables import SyllableCounter
from monitor.config import SyllableConfig, load_config
from monitor.errors import CallmonitorError
from monitor.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE_HZ, DecodedFrame, Frame
from monitor.sources.wavfile import WavSource
from testkit import synth

AUDIO = synth.SHARED_DIR / "audio"
ZH = json.loads((AUDIO / "zh" / "manifest.json").read_text(encoding="utf-8"))
HUMAN = json.loads((AUDIO / "human" / "manifest.json").read_text(encoding="utf-8"))

CFG = load_config().syllables
FEE = ("a_explain_fee_slow", "a_explain_fee", "a_explain_fee_fast")  # 51 characters each


@dataclass(frozen=True)
class Run:
    """What a counter reported for one file: each frame's confirmed nuclei, in frame order."""

    per_frame: tuple[tuple[float, ...], ...]

    @property
    def nuclei(self) -> list[float]:
        return [t for confirmed in self.per_frame for t in confirmed]


def frames_of(path: Path) -> list[Frame]:
    """The file as the pipeline sees it: 16 kHz mono frames (8 kHz audio is resampled)."""
    return [step[0] for step in WavSource(path).frames()]


def vad_decisions(frames: list[Frame]) -> list[bool]:
    vad = webrtcvad.Vad(load_config().vad.aggressiveness)
    return [vad.is_speech(f.pcm, SAMPLE_RATE_HZ) for f in frames]


def count(frames: list[Frame], voiced: list[bool], t0: float = 0.0) -> Run:
    counter = SyllableCounter(CFG)
    return Run(tuple(tuple(counter.process(DecodedFrame.decode(f).samples, t0 + f.t, v))
                     for f, v in zip(frames, voiced, strict=True)))


@cache
def clip(name: str) -> tuple[list[Frame], list[bool], Run]:
    frames = frames_of(AUDIO / "zh" / f"{name}.wav")
    voiced = vad_decisions(frames)
    return frames, voiced, count(frames, voiced)


def estimated(name: str) -> int:
    return len(clip(name)[2].nuclei)


def speech_s(name: str) -> float:
    return ZH[name]["speech_end"] - ZH[name]["speech_start"]


def group(name: str) -> str:
    if name.endswith(("_slow", "_fast")):
        return name.rsplit("_", 1)[1]
    return "normal" if ZH[name]["role"] == "agent" else "customer"


def pcm_frames(samples: np.ndarray) -> list[Frame]:
    pcm = np.clip(np.round(samples), -32768, 32767).astype(np.int16)
    steps = range(len(pcm) // FRAME_SAMPLES)
    return [Frame("agent", i * FRAME_S, pcm[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES].tobytes())
            for i in steps]


# --- accuracy on the clip library -----------------------------------------------------------

def test_every_clip_is_counted_within_tolerance():
    """Measured: the worst clip of 10 or more characters is 12 % off (a_confirm_fast, 22 of 25)
    and no shorter clip is off by more than one syllable; 15 % or one syllable leaves margin."""
    wrong = {}
    for name, meta in ZH.items():
        got, true = estimated(name), meta["chars"]
        if abs(got - true) > max(1.0, 0.15 * true):
            wrong[name] = (got, true)
    assert not wrong, f"clips counted outside tolerance (got, true): {wrong}"


def test_mean_error_by_speed_and_rate_correlation():
    """Measured: MAPE 4.5 % on clips of 10+ characters (normal 4.1, fast 4.6, slow 5.9,
    customer 5.3) and r = 0.985 between estimated and true rates."""
    long_clips = [n for n in ZH if ZH[n]["chars"] >= 10]
    errors = {n: abs(estimated(n) - ZH[n]["chars"]) / ZH[n]["chars"] for n in long_clips}
    for name in sorted({group(n) for n in long_clips}):
        members = [errors[n] for n in long_clips if group(n) == name]
        print(f"{name:9s} {len(members):2d} clips  MAPE {100 * np.mean(members):5.1f} %")
    mape = float(np.mean(list(errors.values())))
    est = [estimated(n) / speech_s(n) for n in long_clips]
    true = [ZH[n]["chars"] / speech_s(n) for n in long_clips]
    r = float(np.corrcoef(est, true)[0, 1])
    print(f"all       {len(long_clips)} clips  MAPE {100 * mape:5.1f} %  rate r = {r:.3f}")
    assert mape < 0.08
    assert r > 0.95


def test_slow_standard_and_fast_explanations_are_told_apart():
    """The same 51 characters at three speeds: ordered by rate and each within 20 %."""
    rates = {}
    for name in FEE:
        est_cpm = 60.0 * estimated(name) / speech_s(name)
        true_cpm = 60.0 * ZH[name]["chars"] / speech_s(name)
        print(f"{name:20s} {est_cpm:5.0f} cpm (true {true_cpm:3.0f})")
        assert est_cpm == pytest.approx(true_cpm, rel=0.2)
        rates[name] = est_cpm
    assert rates[FEE[0]] < rates[FEE[1]] < rates[FEE[2]]


def test_real_recordings():
    """Human speech, not the TTS the detector was tuned on. Measured 13 of 13, 12 of 13 and
    14 of about 15 syllables ("hello world" counts 3; that transcript is unverified).

    The 8 kHz copy of the AISHELL sentence is printed, not checked: its "silence" is 6.6 s of
    babble at -30 to -45 dBFS that webrtcvad calls speech, so it is counted (the counter cannot
    tell a voice in the background from the agent's), and webrtcvad at aggressiveness 3
    rejects a third of the frames of its clipped sentence, which leaves 8 of 13 syllables
    there (12 of 13 at aggressiveness 2).
    """
    truth = {"aishell_BAC009S0764W0121.wav": 13, "funasr_zh.wav": 13,
             "bailian_hello_world_male.wav": 15, "aishell_8k_with_silence.wav": 13}
    for name, syllables in truth.items():
        frames = frames_of(AUDIO / "human" / name)
        got = len(count(frames, vad_decisions(frames)).nuclei)
        print(f"{name:30s} {HUMAN[name]['rate']:5d} Hz  {got:2d} of {syllables}")
        if "8k" not in name:
            assert got == pytest.approx(syllables, rel=0.2)


# --- streaming behaviour --------------------------------------------------------------------

def test_nuclei_fall_inside_each_clips_speech_and_never_ahead_of_the_audio():
    counter = SyllableCounter(CFG)
    for name, meta in ZH.items():
        frames, _, run = clip(name)
        for frame, confirmed in zip(frames, run.per_frame, strict=True):
            for t in confirmed:
                assert meta["speech_start"] <= t <= meta["speech_end"], name
                assert t + counter.lag_s <= frame.t + FRAME_S + 1e-9, name


def test_counting_is_causal_and_stamped_in_audio_time():
    """A frame's nuclei depend on no later frame, and only on the audio, not on the clock."""
    frames, voiced, full = clip("a_explain_fee")
    for cut in (97, 333, 517):
        assert count(frames[:cut], voiced[:cut]).per_frame == full.per_frame[:cut]
    shifted = count(frames, voiced, t0=3600.0).nuclei
    assert np.allclose(np.array(shifted) - 3600.0, full.nuclei, atol=1e-6)


# --- what is not speech -----------------------------------------------------------------------

@pytest.mark.parametrize("what", ["silence", "line noise"])
def test_silence_and_line_noise_have_no_nuclei_even_if_called_voiced(what):
    rng = np.random.default_rng(7)
    level = 0.0 if what == "silence" else 32768.0 * 10 ** (-60 / 20)  # RMS -60 dBFS
    frames = pcm_frames(rng.normal(0.0, 1.0, SAMPLE_RATE_HZ * 10) * level)
    assert count(frames, [True] * len(frames)).nuclei == []
    assert count(frames, vad_decisions(frames)).nuclei == []


@pytest.mark.parametrize("freq_hz", [425.0, 450.0, 480.0, 950.0])
@pytest.mark.parametrize("level_dbfs", [-13.0, -30.0])
def test_a_ring_tone_of_one_second_is_at_most_one_nucleus(freq_hz, level_dbfs):
    """webrtcvad calls a tone speech, so every frame is marked voiced here."""
    t = np.arange(SAMPLE_RATE_HZ) / SAMPLE_RATE_HZ
    amplitude = 32768.0 * np.sqrt(2.0) * 10 ** (level_dbfs / 20)
    silence = np.zeros(SAMPLE_RATE_HZ // 2)
    frames = pcm_frames(np.concatenate([silence, amplitude * np.sin(2 * np.pi * freq_hz * t),
                                        silence]))
    assert len(count(frames, [True] * len(frames)).nuclei) <= 1


@pytest.mark.parametrize(("key", "value", "message"), [
    ("hop_ms", 7.0, "do not fit 20 ms frames"),
    ("band_split_hz", 3500.0, "the bands must rise"),
])
def test_settings_the_analysis_cannot_honour_are_refused(key, value, message):
    settings = {**dataclasses.asdict(CFG), key: value}
    with pytest.raises(CallmonitorError, match=message):
        SyllableCounter(SyllableConfig(**settings))


# --- cost -----------------------------------------------------------------------------------

def test_cost_per_frame():
    """Target under 50 us a frame. The best of three passes over a 20 s clip is taken, as other
    work on the machine only ever adds time; the bound is loose so a loaded machine passes,
    and tight enough to catch per-sample Python."""
    frames, voiced, _ = clip("a_explain_fee")
    decoded = [DecodedFrame.decode(f) for f in frames]  # the pipeline's work, not the counter's
    passes = []
    for _ in range(3):
        counter = SyllableCounter(CFG)
        start = time.perf_counter()
        for d, v in zip(decoded, voiced, strict=True):
            counter.process(d.samples, d.frame.t, v)
        passes.append((time.perf_counter() - start) / len(frames) * 1e6)
    print(f"{min(passes):.1f} us per 20 ms frame (passes: {', '.join(f'{p:.0f}' for p in passes)})")
    assert min(passes) < 150.0


@pytest.mark.parametrize("block", [1, 3, 50])
def test_frames_known_ahead_change_no_nucleus(block):
    """``prepare`` (a recording's frames handed over a block ahead) only batches the work:
    fed as the pipeline feeds it (the voiced frames only, so some frames follow older ones),
    the counter reports the nuclei it reports frame by frame."""
    frames, voiced, _ = clip(FEE[1])
    taken = [i for i, v in enumerate(voiced) if v]
    assert len(taken) < len(frames)  # there are gaps to reach back over

    def run(prepare: bool) -> list[float]:
        counter = SyllableCounter(CFG)
        decoded = [DecodedFrame.decode(f).samples for f in frames]
        out = []
        for i in range(len(frames)):
            if prepare and i % block == 0:
                counter.prepare(np.array(decoded[i:i + block]), frames[i].t)
            if voiced[i]:
                out += counter.process(decoded[i], frames[i].t, True)
        return out

    nuclei = run(False)
    assert len(nuclei) >= 40  # 51 characters
    assert run(True) == nuclei
