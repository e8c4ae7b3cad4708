"""A seeded WAV fuzzer: real recordings, rewritten into every supported format by sox, then
mutated (header fields, chunk sizes, truncation, extra and duplicate chunks, odd formats) and
replayed through the real command (``replay --asr none`` into a real SQLite store).

Each mutant is built from its parts here, so what it holds is known without asking monitor's
parser: the expected outcome follows from the WAV format itself (the first ``fmt `` chunk,
the ``data`` chunk clamped to the file, whole sample frames). Every mutant must either play
for exactly that long (exit 0) or be refused with one line on stderr (exit 2); never a
traceback. Used by tests/audio/test_wav_fuzz.py and scripts/fuzz_wav.py (which prints the
outcomes of as many mutants as asked).
"""

from __future__ import annotations

import json
import random
import sqlite3
import struct
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import main

REPO = Path(__file__).resolve().parents[1]
# The summary counts whole 20 ms frames (a short last one is padded) after resampling.
DURATION_TOLERANCE_S = 0.021
GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")
# What the README promises to read: (format tag, bits per sample).
SUPPORTED = {(1, 8), (1, 16), (1, 32), (3, 32), (6, 8), (7, 8)}
# The real recordings the bases are cut from, and the formats they are rewritten into.
DEMO = REPO / "demo" / "demo_call.wav"
CLIP = Path("/work/shared/audio/zh/a_advice.wav")
BASES = [  # (name, source, sox options of the output, tag, channels, rate, bits)
    ("s16_16k_mono", CLIP, ["-e", "signed", "-b", "16", "-c", "1", "-r", "16000"], 1, 1, 16000,
     16),
    ("mulaw_8k_stereo", DEMO, ["-e", "u-law", "-b", "8", "-c", "2", "-r", "8000"], 7, 2, 8000, 8),
    ("alaw_8k_mono", DEMO, ["-e", "a-law", "-b", "8", "-c", "1", "-r", "8000"], 6, 1, 8000, 8),
    ("u8_11k_mono", CLIP, ["-e", "unsigned", "-b", "8", "-c", "1", "-r", "11025"], 1, 1, 11025,
     8),
    ("s32_22k_stereo", DEMO, ["-e", "signed", "-b", "32", "-c", "2", "-r", "22050"], 1, 2, 22050,
     32),
    ("f32_44k_mono", CLIP, ["-e", "float", "-b", "32", "-c", "1", "-r", "44100"], 3, 1, 44100,
     32),
]
BASE_SECONDS = 0.5


@dataclass
class Fmt:
    """The fields of a ``fmt `` chunk; ``extensible`` wraps the tag in WAVE_FORMAT_EXTENSIBLE
    (``guid_ok`` False: a sub-format GUID nobody knows); ``cut`` keeps only that many bytes."""

    tag: int
    channels: int
    rate: int
    bits: int
    byte_rate: int | None = None
    block_align: int | None = None
    extensible: bool = False
    guid_ok: bool = True
    cut: int | None = None

    def body(self) -> bytes:
        block = self.channels * self.bits // 8
        head = struct.pack("<HHIIHH", 0xFFFE if self.extensible else self.tag,
                           self.channels & 0xFFFF, self.rate & 0xFFFFFFFF,
                           (self.byte_rate if self.byte_rate is not None
                            else self.rate * block) & 0xFFFFFFFF,
                           (self.block_align if self.block_align is not None else block) & 0xFFFF,
                           self.bits & 0xFFFF)
        if self.extensible:
            tail = GUID_TAIL if self.guid_ok else bytes(range(14))
            head += struct.pack("<HHI", 22, self.bits, 0) + struct.pack("<H", self.tag) + tail
        elif self.tag != 1:
            head += struct.pack("<H", 0)
        return head if self.cut is None else head[:self.cut]

    def usable(self, length: int) -> bool:
        """Whether a reader can play audio of this format from ``length`` bytes of the chunk."""
        needed = 40 if self.extensible else 16
        return (length >= needed and (not self.extensible or self.guid_ok)
                and (self.tag, self.bits) in SUPPORTED and 1 <= self.channels <= 2
                and 8000 <= self.rate <= 48000)


@dataclass
class Chunk:
    cid: bytes
    body: bytes = b""
    fmt: Fmt | None = None
    size: int | None = None  # the size field, when it does not tell the truth

    def payload(self) -> bytes:
        return self.fmt.body() if self.fmt is not None else self.body

    def size_field(self) -> int:
        return len(self.payload()) if self.size is None else self.size


@dataclass
class Mutant:
    name: str
    chunks: list[Chunk]
    riff: bytes = b"RIFF"
    wave: bytes = b"WAVE"
    riff_size: int | None = None
    truncate: int | None = None
    what: list[str] = field(default_factory=list)

    def render(self) -> tuple[bytes, list[int]]:
        """The file's bytes and where each chunk's header starts."""
        parts, offsets, at = [], [], 12
        for c in self.chunks:
            payload = c.payload()
            pad = b"\0" if len(payload) % 2 else b""
            offsets.append(at)
            parts.append(c.cid + struct.pack("<I", c.size_field() & 0xFFFFFFFF) + payload + pad)
            at += 8 + len(payload) + len(pad)
        body = b"".join(parts)
        size = len(body) + 4 if self.riff_size is None else self.riff_size
        blob = self.riff + struct.pack("<I", size & 0xFFFFFFFF) + self.wave + body
        return (blob if self.truncate is None else blob[:self.truncate]), offsets

    def expected(self) -> tuple[float | None, bool]:
        """(seconds of audio, or None for a refusal; whether a second ``fmt `` is warned of),
        from the format: chunks walked in order, the first ``fmt `` counts, the ``data`` chunk
        ends the walk once a format is known and is clamped to the end of the file."""
        blob, offsets = self.render()
        if len(blob) < 12 or self.riff != b"RIFF" or self.wave != b"WAVE":
            return None, False
        fmt, fmt_len, fmts, data = None, 0, 0, None
        for chunk, at in zip(self.chunks, offsets, strict=True):
            if at + 8 > len(blob):
                break
            size, available = chunk.size_field(), len(blob) - at - 8
            if chunk.cid == b"fmt ":
                fmts += 1
                if fmt is None:
                    fmt, fmt_len = chunk.fmt, min(size, available)
            elif chunk.cid == b"data":
                data = min(size, available)
                if fmt is not None or size >= available:
                    break
        if fmt is None or data is None or not fmt.usable(fmt_len):
            return None, False
        frames = data // (fmt.channels * fmt.bits // 8)
        return (frames / fmt.rate if frames else None), fmts > 1


# --- the mutations ---------------------------------------------------------------------------


def _fmt_chunk(m: Mutant) -> Chunk:
    return next(c for c in m.chunks if c.cid == b"fmt ")


def _data_chunk(m: Mutant) -> Chunk:
    return next(c for c in m.chunks if c.cid == b"data")


def _set_fmt(m: Mutant, **fields: object) -> None:
    chunk = _fmt_chunk(m)
    assert chunk.fmt is not None
    chunk.fmt = replace(chunk.fmt, **fields)


def m_riff_size(m: Mutant, rng: random.Random) -> None:
    m.riff_size = rng.choice([0, 4, 0xFFFFFFFF, rng.getrandbits(32)])


def m_truncate(m: Mutant, rng: random.Random) -> None:
    blob, _ = m.render()
    m.truncate = rng.choice([rng.randrange(1, 60), rng.randrange(1, len(blob))])


def m_data_size(m: Mutant, rng: random.Random) -> None:
    data = _data_chunk(m)
    if m.chunks[-1] is not data or m.chunks.index(_fmt_chunk(m)) > m.chunks.index(data):
        return  # a wrong size on a chunk that others follow would move them
    n = len(data.body)
    data.size = rng.choice([0, 1, rng.randrange(n), n + rng.randrange(1, 5000), 0xFFFFFFFF])


def m_extra_chunks(m: Mutant, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 3)):
        cid = rng.choice([b"LIST", b"JUNK", b"fact", b"bext", b"id3 ", b"PAD "])
        body = rng.randbytes(rng.randrange(0, 300))
        m.chunks.insert(rng.randrange(len(m.chunks) + 1), Chunk(cid, body))


def m_fmt_after_data(m: Mutant, rng: random.Random) -> None:
    fmt = _fmt_chunk(m)
    m.chunks.remove(fmt)
    m.chunks.insert(m.chunks.index(_data_chunk(m)) + 1, fmt)


def m_channels(m: Mutant, rng: random.Random) -> None:
    _set_fmt(m, channels=rng.choice([0, 1, 2, 3, 6, 0xFFFF]))


def m_rate(m: Mutant, rng: random.Random) -> None:
    _set_fmt(m, rate=rng.choice([0, 4000, 7999, 8000, 11025, 32000, 48000, 48001, 96000,
                                      rng.getrandbits(32)]))


def m_bits(m: Mutant, rng: random.Random) -> None:
    _set_fmt(m, bits=rng.choice([0, 4, 8, 12, 16, 24, 32, 64, rng.getrandbits(16)]))


def m_tag(m: Mutant, rng: random.Random) -> None:
    _set_fmt(m, tag=rng.choice([0, 1, 2, 3, 6, 7, 0x55, 0xFFFE, rng.getrandbits(16)]))


def m_ignored_fields(m: Mutant, rng: random.Random) -> None:
    _set_fmt(m, byte_rate=rng.getrandbits(32), block_align=rng.getrandbits(16))


def m_fmt_cut(m: Mutant, rng: random.Random) -> None:
    fmt = _fmt_chunk(m).fmt
    assert fmt is not None
    _set_fmt(m, cut=rng.randrange(len(fmt.body()) + 1))


def m_extensible(m: Mutant, rng: random.Random) -> None:
    _set_fmt(m, extensible=True, guid_ok=rng.random() < 0.7)


def m_duplicate_fmt(m: Mutant, rng: random.Random) -> None:
    tag, bits = rng.choice(sorted(SUPPORTED))
    other = Fmt(tag, rng.choice([1, 2]), rng.choice([8000, 16000, 44100]), bits)
    first = m.chunks.index(_fmt_chunk(m))
    m.chunks.insert(rng.randrange(first + 1, len(m.chunks) + 1), Chunk(b"fmt ", fmt=other))


def m_drop_chunk(m: Mutant, rng: random.Random) -> None:
    m.chunks.remove(rng.choice([_fmt_chunk(m), _data_chunk(m)]))


def m_magic(m: Mutant, rng: random.Random) -> None:
    which = rng.choice(["riff", "wave", *(c.cid.decode().strip() for c in m.chunks
                                          if c.cid in (b"fmt ", b"data"))])
    if which == "riff":
        m.riff = rng.choice([b"RIFX", b"RF64", b"riff"])
    elif which == "wave":
        m.wave = rng.choice([b"AVI ", b"wave"])
    else:
        chunk = _fmt_chunk(m) if which == "fmt" else _data_chunk(m)
        chunk.cid = chunk.cid.upper()  # b"FMT " / b"DATA": an unknown chunk


def m_odd_data(m: Mutant, rng: random.Random) -> None:
    data = _data_chunk(m)
    data.body = data.body[:len(data.body) - rng.randrange(1, 8)]


def m_flip_data(m: Mutant, rng: random.Random) -> None:
    data = _data_chunk(m)
    body = bytearray(data.body)
    for _ in range(rng.randrange(1, 64)):
        body[rng.randrange(len(body))] = rng.getrandbits(8)
    data.body = bytes(body)


# Field and chunk changes first; then the ones after which a chunk may be gone or renamed;
# truncation last, so it cuts the finished file.
MUTATIONS = [m_riff_size, m_extra_chunks, m_fmt_after_data, m_channels, m_rate, m_bits, m_tag,
             m_ignored_fields, m_fmt_cut, m_extensible, m_duplicate_fmt, m_odd_data,
             m_flip_data, m_data_size, m_drop_chunk, m_magic, m_truncate]


def make_mutants(bases: dict[str, Mutant], seed: int, count: int,
                 as_written: bool = True) -> list[Mutant]:
    """``count`` mutants, the same for the same seed; ``as_written``: the first ones are the
    bases themselves."""
    rng = random.Random(seed)
    mutants = []
    for i in range(count):
        base = bases[rng.choice(sorted(bases))]
        chosen = sorted(rng.sample(range(len(MUTATIONS)), rng.choice([1, 1, 2, 3])))
        if as_written and i < len(bases):
            base, chosen = list(bases.values())[i], []
        m = Mutant(f"m{i:03d}_{base.name}", [replace(c) for c in base.chunks])
        for k in chosen:
            MUTATIONS[k](m, rng)
            m.what.append(MUTATIONS[k].__name__[2:])
        mutants.append(m)
    return mutants


# --- running them ----------------------------------------------------------------------------


def make_bases(out: Path) -> dict[str, Mutant]:
    """Half a second of real speech from each recording, rewritten by sox in each format into
    ``out``; only its sample bytes are kept, the header is written here."""
    found = {}
    for name, source, options, tag, channels, rate, bits in BASES:
        if not source.exists():
            raise FileNotFoundError(f"{source} is missing (the shared clips: see README)")
        raw = out / f"{name}.raw"
        start = "8" if source == DEMO else "1"
        subprocess.run(["sox", "-D", str(source), "-t", "raw", *options, str(raw),
                        "trim", start, str(BASE_SECONDS)], check=True, capture_output=True)
        data = raw.read_bytes()
        frame_bytes = channels * bits // 8
        assert len(data) % frame_bytes == 0
        assert abs(len(data) // frame_bytes - BASE_SECONDS * rate) <= 1
        found[name] = Mutant(name, [Chunk(b"fmt ", fmt=Fmt(tag, channels, rate, bits)),
                                    Chunk(b"data", data)])
    return found


@dataclass
class Outcome:
    status: int
    stdout: str
    stderr: str
    traceback: str | None


def replay_in_process(path: Path, db: Path) -> Outcome:
    result = CliRunner().invoke(main, ["replay", str(path), "--asr", "none", "--json",
                                       "--db", str(db)])
    crash = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        crash = repr(result.exception)
    return Outcome(result.exit_code, result.stdout, result.stderr, crash)


def replay_process(path: Path, db: Path) -> Outcome:
    done = subprocess.run([sys.executable, "-m", "monitor", "replay", str(path), "--asr", "none",
                           "--json", "--db", str(db)], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    crash = done.stderr if "Traceback" in done.stderr else None
    return Outcome(done.returncode, done.stdout, done.stderr, crash)


def check(m: Mutant, path: Path, outcome: Outcome) -> str:
    """Assert the outcome the mutant's own parts predict; return it, for the tally."""
    seconds, warned = m.expected()
    label = f"{m.name} ({', '.join(m.what) or 'as written'})"
    assert outcome.traceback is None, f"{label}: {outcome.traceback}"
    lines = outcome.stderr.strip().splitlines()
    if seconds is None:
        assert outcome.status == 2, f"{label}: exit {outcome.status}, expected a refusal"
        assert len(lines) == 1 and lines[0].startswith("callmonitor: error: "), (label, lines)
        assert path.name in lines[0], (label, lines)
        return "refused"
    assert outcome.status == 0, f"{label}: exit {outcome.status}: {outcome.stderr}"
    summary = json.loads(outcome.stdout.splitlines()[-1])
    assert summary["type"] == "summary" and summary["status"] == "complete", label
    assert abs(summary["duration_s"] - seconds) <= DURATION_TOLERANCE_S, (
        label, summary["duration_s"], seconds)
    if warned:
        assert len(lines) == 1 and "'fmt ' chunks; the first is used" in lines[0], (label, lines)
        assert path.name in lines[0]
        return "played, warned"
    assert not lines, (label, lines)
    return "played"


def statuses(db: Path) -> Counter[str]:
    """How many sessions the store holds, by status."""
    if not db.exists():
        return Counter()
    with sqlite3.connect(db) as conn:
        return Counter(s for (s,) in conn.execute("SELECT status FROM sessions"))


def fuzz(bases: dict[str, Mutant], seed: int, count: int, out: Path, db: Path,
         replay: Callable[[Path, Path], Outcome] = replay_in_process,
         as_written: bool = True) -> Counter[str]:
    """Write and replay ``count`` mutants into ``db``; the tally of their outcomes. Raises
    ``AssertionError`` at the first mutant that breaks the promise; a refused file must store
    nothing, a played one exactly one complete session."""
    tally: Counter[str] = Counter()
    for m in make_mutants(bases, seed, count, as_written):
        path = out / f"{m.name}.wav"
        path.write_bytes(m.render()[0])
        before = statuses(db).total()
        result = check(m, path, replay(path, db))
        tally[result] += 1
        assert statuses(db).total() == before + (result != "refused"), m.name
    return tally
