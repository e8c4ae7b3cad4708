"""The kept audio of ``--keep-audio``: a synthesised call replayed through a real ``Session``
with an ``AudioKeeper``, the WAV it writes read back with ``wave`` and sox and compared sample
for sample with what the pipeline's source yields; FLAC and Opus in Ogg decoded by FFmpeg
(PyAV): FLAC sample for sample, Opus (lossy) by the loudness of each side over time. Crashes
are real ones (kill -9 of a child process, a file-size limit that makes the disk refuse
writes); nothing is mocked.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor.config import load_config
from monitor.errors import CallmonitorError
from monitor.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE_HZ, Frame
from monitor.pipeline import Session
from monitor.sinks.audio import FILE_MODE, FLUSH_S, AudioKeeper
from monitor.sinks.audio_formats import WAV_HEADER_BYTES as HEADER_BYTES
from monitor.sinks.audio_formats import ogg_crc
from monitor.sinks.collect import CollectSink
from monitor.sources.wavfile import WavSource
from testkit import synth
from testkit.encode import encode_wav
from testkit.kept import correlation, decoded_s, read_kept

REPO_DIR = Path(__file__).resolve().parents[2]
FLUSH_STEPS = round(FLUSH_S / FRAME_S)
# Both sides speak, and at one point at once (the backchannel), over -60 dBFS noise, so no
# stretch of either channel is digital silence that a swap or a shift could match by chance.
SCENARIO = {
    "name": "keep_audio", "language": "zh", "seed": 31, "noise_dbfs": -60.0, "tail_s": 0.5,
    "events": [
        {"channel": "agent", "clip": "a_ask_name", "at": 0.3},
        {"channel": "customer", "clip": "c_surname", "after": 0.3},
        {"channel": "agent", "clip": "a_bc_haode", "after": -0.8},
    ],
}


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> synth.SynthResult:
    return synth.synthesize(SCENARIO, tmp_path_factory.mktemp("keep_audio"))


@pytest.fixture(scope="module")
def cfg():
    return load_config("zh-CN")


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(samples (n, channels), rate) through the standard library's reader."""
    with wave.open(str(path), "rb") as w:
        assert (w.getsampwidth(), w.getcomptype()) == (2, "NONE")
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        return pcm.reshape(-1, w.getnchannels()), w.getframerate()


def sox_samples(path: Path) -> np.ndarray:
    """The same file decoded by sox, as (n, 2) int16: a second, independent reader."""
    assert sox_info(path) == {"channels": "2", "rate": "16000", "bits": "16"}
    raw = subprocess.run(["sox", str(path), "-t", "raw", "-e", "signed", "-b", "16", "-L", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, "<i2").reshape(-1, 2)


def sox_info(path: Path) -> dict[str, str]:
    out = {}
    for key, flag in (("channels", "-c"), ("rate", "-r"), ("bits", "-b")):
        out[key] = subprocess.run(["sox", "--i", flag, str(path)], capture_output=True,
                                  text=True, check=True).stdout.strip()
    return out


def source_pcm(path: Path) -> dict[str, np.ndarray]:
    """What the pipeline's source yields per channel: 16 kHz int16, padded to whole frames."""
    per_channel: dict[str, list[bytes]] = {}
    for frames in WavSource(path).frames():
        for frame in frames:
            per_channel.setdefault(frame.channel, []).append(frame.pcm)
    return {c: np.frombuffer(b"".join(parts), "<i2") for c, parts in per_channel.items()}


def assert_header_consistent(path: Path) -> None:
    """RIFF and data sizes cover exactly the bytes in the file (nothing claimed, nothing lost)."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt " and data[36:40] == b"data"
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    assert int.from_bytes(data[40:44], "little") == len(data) - HEADER_BYTES


def keep(cfg, path: Path, out: Path, *extra: Any) -> tuple[AudioKeeper, CollectSink]:
    keeper = AudioKeeper(out)
    records = CollectSink()
    Session(cfg, WavSource(path), None, [keeper, *extra, records]).run({})
    return keeper, records


def test_kept_audio_is_the_calls_audio_on_its_clock(call, cfg, tmp_path: Path) -> None:
    keeper, records = keep(cfg, call.wav, tmp_path / "kept.wav")
    assert records.status == "complete" and keeper.error is None
    kept, rate = read_wav(tmp_path / "kept.wav")
    assert rate == SAMPLE_RATE_HZ and kept.shape[1] == 2
    assert abs(len(kept) / rate - call.truth["duration_s"]) <= FRAME_S
    assert keeper.kept_s == len(kept) / rate
    assert_header_consistent(tmp_path / "kept.wav")
    # A 16 kHz source is passed through: the left channel is the recording's agent, sample
    # for sample, the right its customer; the last frame's padding is silence.
    original, _ = read_wav(call.wav)
    n = len(original)
    np.testing.assert_array_equal(kept[:n], original)
    assert not kept[n:].any()
    pcm = source_pcm(call.wav)
    np.testing.assert_array_equal(kept[:, 0], pcm["agent"])
    np.testing.assert_array_equal(kept[:, 1], pcm["customer"])
    np.testing.assert_array_equal(sox_samples(tmp_path / "kept.wav"), kept)


def test_a_resampled_source_is_kept_as_the_pipeline_hears_it(call, cfg, tmp_path: Path) -> None:
    """The 8 kHz mu-law copy of the call: the file holds the 16 kHz frames the VAD got."""
    keeper, _ = keep(cfg, call.ulaw_8k, tmp_path / "kept.wav")
    assert keeper.error is None
    kept, rate = read_wav(tmp_path / "kept.wav")
    assert rate == SAMPLE_RATE_HZ and kept.shape[1] == 2
    assert abs(len(kept) / rate - WavSource(call.ulaw_8k).info.duration_s) <= FRAME_S
    pcm = source_pcm(call.ulaw_8k)
    np.testing.assert_array_equal(kept[:, 0], pcm["agent"])
    np.testing.assert_array_equal(kept[:, 1], pcm["customer"])
    assert kept[:, 0].any() and kept[:, 1].any()


def test_a_mono_source_leaves_the_right_channel_silent(call, cfg, tmp_path: Path) -> None:
    original, rate = read_wav(call.wav)
    mono = tmp_path / "agent_only.wav"
    with wave.open(str(mono), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.ascontiguousarray(original[:, 0]).tobytes())
    keep(cfg, mono, tmp_path / "kept.wav")
    kept, _ = read_wav(tmp_path / "kept.wav")
    assert kept.shape[1] == 2
    assert abs(len(kept) / SAMPLE_RATE_HZ - call.truth["duration_s"]) <= FRAME_S
    np.testing.assert_array_equal(kept[:len(original), 0], original[:, 0])
    assert not kept[:, 1].any()


class CopyAt:
    """A frame sink placed after the keeper: copies the kept file as it stands once the keeper
    says (``kept_s``) its writer thread has put ``t`` seconds on disk, which is what a crash
    at that moment leaves behind, and notes how far the keeper said it was."""

    def __init__(self, keeper: AudioKeeper, t: float, dest: Path) -> None:
        self._keeper, self._t, self._dest = keeper, t, dest
        self.kept_s: float | None = None

    def frames(self, frames: tuple[Frame, ...]) -> None:
        kept_s = self._keeper.kept_s
        if self.kept_s is None and kept_s >= self._t:
            shutil.copyfile(self._keeper.path, self._dest)
            self.kept_s = kept_s

    def write(self, record: dict[str, Any]) -> None:
        pass

    def close(self, status: str) -> None:
        pass


def test_a_file_cut_off_mid_session_plays_up_to_the_last_flush(call, cfg,
                                                                tmp_path: Path) -> None:
    keeper = AudioKeeper(tmp_path / "kept.wav")
    copier = CopyAt(keeper, 1.7, tmp_path / "cut.wav")
    Session(cfg, WavSource(call.wav), None, [keeper, copier]).run({})
    assert copier.kept_s is not None
    cut, rate = read_wav(tmp_path / "cut.wav")
    assert rate == SAMPLE_RATE_HZ
    # At least what the keeper had said was there (its writer may have gone on meanwhile).
    assert len(cut) / rate >= copier.kept_s >= 1.7
    assert len(cut) % (FLUSH_STEPS * FRAME_SAMPLES) == 0  # whole flushes
    assert_header_consistent(tmp_path / "cut.wav")
    whole, _ = read_wav(tmp_path / "kept.wav")
    np.testing.assert_array_equal(cut, whole[:len(cut)])
    np.testing.assert_array_equal(sox_samples(tmp_path / "cut.wav"), cut)


# A session in a child process, with the keeper first in the sinks; ``prepare`` runs first.
CHILD = """
import json, os, resource, signal, sys, time
from monitor.config import load_config
from monitor.pipeline import Session
from monitor.sinks.audio import AudioKeeper
from monitor.sources.wavfile import WavSource
from monitor.frames import FRAME_S
FLUSH_STEPS = {flush_steps}

class KillAt:
    def frames(self, frames):  # once past kill_at, and the writer has written every flush
        if {kill_at!r} is not None and frames[0].t >= {kill_at!r}:
            handed = round(frames[0].t / FRAME_S) + 1
            flushed = handed // FLUSH_STEPS * FLUSH_STEPS * FRAME_S
            deadline = time.monotonic() + 10
            while keeper.kept_s < flushed - 0.02 and time.monotonic() < deadline:
                time.sleep(0.005)
            print(json.dumps({{"flushed": flushed, "kept_s": keeper.kept_s}}), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    def write(self, record): pass
    def close(self, status): pass

{prepare}
keeper = AudioKeeper(sys.argv[2], sys.argv[3])
summary = Session(load_config("zh-CN"), WavSource(sys.argv[1]), None,
                  [keeper, KillAt()]).run({{}})
print(json.dumps({{"status": summary["status"], "kept_s": keeper.kept_s,
                  "error": None if keeper.error is None else str(keeper.error)}}))
"""


def run_child(call_wav: Path, out: Path, kill_at: float | None = None, prepare: str = "",
              audio_format: str = "wav") -> subprocess.CompletedProcess[str]:
    """A session keeping ``out``; with ``kill_at``, killed (SIGKILL) once the call is past it
    and the keeper's writer has written every flush handed to it (it says so in ``kept_s``),
    after printing where the last flush ended and what the keeper said."""
    code = CHILD.format(kill_at=kill_at, prepare=prepare, flush_steps=FLUSH_STEPS)
    return subprocess.run([sys.executable, "-c", code, str(call_wav), str(out), audio_format],
                          cwd=REPO_DIR, capture_output=True, text=True, timeout=120)


def loudness(side: np.ndarray) -> np.ndarray:
    """dB of each 20 ms frame: what a lossy codec keeps of a voice, sample values aside."""
    n = len(side) // FRAME_SAMPLES * FRAME_SAMPLES
    frames = side[:n].astype(np.float64).reshape(-1, FRAME_SAMPLES)
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1.0)


@pytest.mark.parametrize("audio_format", ["wav", "flac", "opus"])
def test_kill_9_mid_session_leaves_a_playable_file(call, tmp_path: Path,
                                                   audio_format: str) -> None:
    out = tmp_path / f"kept.{audio_format}"
    done = run_child(call.wav, out, kill_at=4.0, audio_format=audio_format)
    assert done.returncode == -signal.SIGKILL, done.stderr
    said = json.loads(done.stdout)
    assert said["flushed"] >= 4.0
    # The file plays, decoded by FFmpeg, up to the last flush (less Opus's look-ahead: its
    # pre-skip, which the OpusHead at byte 28 says, at 48 kHz), and as far as kept_s said.
    lookahead = (int.from_bytes(out.read_bytes()[38:40], "little") / 48000
                 if audio_format == "opus" else 0.0)
    assert decoded_s(out) >= said["flushed"] - lookahead - 1e-9
    assert decoded_s(out) >= said["kept_s"] - 1e-9
    kept = read_kept(out)
    original, _ = read_wav(call.wav)
    if audio_format == "opus":  # lossy: each side's loudness over time is the input's
        for side, other in ((0, 1), (1, 0)):
            own = correlation(loudness(kept[:, side]), loudness(original[:, side]))
            crossed = correlation(loudness(kept[:, side]), loudness(original[:, other]))
            assert own > 0.9 and crossed < own - 0.3, (side, own, crossed)
    else:  # lossless: the samples themselves
        np.testing.assert_array_equal(kept, original[:len(kept)])
    if audio_format == "wav":
        assert_header_consistent(out)
        np.testing.assert_array_equal(sox_samples(out), kept)


def test_a_write_error_mid_call_stops_keeping_but_not_the_session(call,
                                                                  tmp_path: Path) -> None:
    """The process may write files of 1.2 s of audio at most: the disk refuses the write that
    would pass that (EFBIG, as a full disk refuses with ENOSPC)."""
    limit = HEADER_BYTES + int(1.2 * SAMPLE_RATE_HZ) * 4
    prepare = (f"signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
               f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))")
    done = run_child(call.wav, tmp_path / "kept.wav", prepare=prepare)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "complete"
    assert result["kept_s"] == pytest.approx(1.0)  # the last flush that fitted
    error = result["error"]
    assert str(tmp_path / "kept.wav") in error and "up to 1.0 s" in error
    assert "\n" not in error
    kept, rate = read_wav(tmp_path / "kept.wav")
    assert len(kept) / rate == pytest.approx(1.0)
    assert_header_consistent(tmp_path / "kept.wav")
    original, _ = read_wav(call.wav)
    np.testing.assert_array_equal(kept, original[:len(kept)])


@pytest.fixture
def unwritable_dir(tmp_path: Path):
    """A directory nobody may create files in; root ignores permissions, so it is made
    immutable for root."""
    d = tmp_path / "locked"
    d.mkdir()
    d.chmod(0o555)
    immutable = False
    if os.access(d, os.W_OK):
        if shutil.which("chattr") is None or subprocess.run(
                ["chattr", "+i", str(d)], capture_output=True).returncode != 0:
            pytest.skip("cannot make a directory unwritable for this user")
        immutable = True
    yield d
    if immutable:
        subprocess.run(["chattr", "-i", str(d)], check=True)
    d.chmod(0o755)


def test_an_unwritable_directory_fails_at_open_in_one_line(unwritable_dir: Path) -> None:
    path = unwritable_dir / "calls" / "1.wav"
    with pytest.raises(CallmonitorError) as caught:
        AudioKeeper(path)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    assert "writable directory" in caught.value.fix
    assert not (unwritable_dir / "calls").exists()


def test_a_full_disk_fails_at_open_in_one_line() -> None:
    """/dev/full refuses every write with ENOSPC, as a full disk does."""
    with pytest.raises(CallmonitorError) as caught:
        AudioKeeper("/dev/full")
    assert "\n" not in str(caught.value)
    assert "/dev/full" in caught.value.problem and "disk space" in caught.value.fix


def test_a_gap_in_the_clock_is_kept_as_silence(call, tmp_path: Path) -> None:
    """Steps missing from the source (times jump by 0.3 s twice) keep their place as silence,
    so second N of the file is still audio time N."""
    keeper = AudioKeeper(tmp_path / "kept.wav")
    steps = list(WavSource(call.wav).frames())
    dropped = set(range(40, 55)) | set(range(130, 145))
    for i, frames in enumerate(steps):
        if i not in dropped:
            keeper.frames(frames)
    keeper.close("complete")
    kept, _ = read_wav(tmp_path / "kept.wav")
    pcm = source_pcm(call.wav)
    expected = np.stack([pcm["agent"], pcm["customer"]], axis=1)
    for i in dropped:
        expected[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES] = 0
    np.testing.assert_array_equal(kept, expected)


def test_kept_files_are_not_readable_by_other_users(call, tmp_path: Path) -> None:
    """Recordings of calls are created 0640 (owner and group), whatever the umask, a file
    left from before is brought to that mode too, and a folder made for them is 0750."""
    old = tmp_path / "kept.opus"
    old.write_bytes(b"")
    old.chmod(0o666)
    before = os.umask(0)
    try:
        for path in (tmp_path / "new" / "kept.flac", old):
            keeper = AudioKeeper(path, "opus" if path.suffix == ".opus" else "flac")
            keeper.close("complete")
            assert path.stat().st_mode & 0o777 == FILE_MODE == 0o640
        assert (tmp_path / "new").stat().st_mode & 0o777 == 0o750  # the folder it made
    finally:
        os.umask(before)


def test_ogg_pages_carry_the_checksum_ffmpegs_muxer_writes(call, tmp_path: Path) -> None:
    """Every page of an Ogg Opus file made by FFmpeg's own muxer (testkit.encode) checks out
    with ``ogg_crc``, so players that verify page checksums accept the kept files."""
    data = encode_wav(call.wav, "opus", tmp_path).read_bytes()
    pages = 0
    at = 0
    while at < len(data):
        assert data[at:at + 4] == b"OggS"
        count = data[at + 26]
        size = 27 + count + sum(data[at + 27:at + 27 + count])
        page = data[at:at + size]
        zeroed = page[:22] + b"\0\0\0\0" + page[26:]
        assert ogg_crc(zeroed) == int.from_bytes(page[22:26], "little")
        at += size
        pages += 1
    assert pages >= 3  # head, tags and audio
