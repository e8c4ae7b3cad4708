"""Whisper's error rate and decode time against one encoder window for every phrase.

    .venv/bin/python scripts/cer_window.py [--windows 30,20,15,10,8] [--en-lines 40]

Every clip of the Mandarin library (``../shared/audio/zh``, exact texts in its manifest) and
the English lines of the scenario set (spoken by espeak-ng, as the scenarios do) goes through a
Whisper decoder the way ``monitor.asr.phrases`` feeds a phrase: the pre-roll from ``pad_s``
before the speech, frames until the VAD's hangover has passed, cut ``whisper_tail_s`` after the
speech. Per window it prints the Mandarin CER and the English WER (``monitor.text.error_counts``)
and the decode time (seconds of CPU wall time per second of audio). A clip longer than the
window is decoded with the 30 s window, as the pipeline does. (The pipeline picks a window per
phrase from ``[asr] whisper_windows_s``; ``scripts/cer_replay.py`` measures that choice on a
whole call.)
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.asr import load_whisper
from monitor.asr.base import SegmentDecoder
from monitor.config import Config, load_config
from monitor.frames import FRAME_BYTES, FRAME_S, SAMPLE_RATE_HZ
from monitor.text import error_counts
from testkit import synth

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Clip:
    name: str
    pcm: bytes
    speech_start: float
    speech_end: float
    text: str


def zh_clips() -> list[Clip]:
    out = []
    for name, meta in synth._manifest(synth.ZH_CLIPS_DIR).items():
        line = synth.load_clip(name, SAMPLE_RATE_HZ)
        out.append(Clip(name, line.samples.astype("<i2").tobytes(), meta["speech_start"],
                        meta["speech_end"], meta["text"]))
    return out


def en_clips(limit: int) -> list[Clip]:
    """The distinct English lines the scenarios say, by the channel that says them."""
    said = re.compile(r'^channel\s*=\s*"(\w+)"\s*\n(?:.*\n)*?say\s*=\s*"([^"]+)"', re.MULTILINE)
    lines: dict[str, str] = {}
    for path in sorted((REPO / "scenarios").rglob("*.toml")):
        for block in path.read_text(encoding="utf-8").split("[[events]]")[1:]:
            found = said.search(block)
            if found:
                lines.setdefault(found.group(2), found.group(1))
    out = []
    for text, channel in list(lines.items())[:limit]:
        line = synth.espeak_line(text, channel, SAMPLE_RATE_HZ)
        out.append(Clip(text, line.samples.astype("<i2").tobytes(),
                        line.speech_start / SAMPLE_RATE_HZ, line.speech_end / SAMPLE_RATE_HZ,
                        text))
    return out


def decode(decoder: SegmentDecoder, clip: Clip, cfg: Config) -> str:
    """Feed one clip as ``monitor.asr.phrases`` feeds a phrase; its recognised text."""
    frames = [clip.pcm[i:i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
              for i in range(0, len(clip.pcm), FRAME_BYTES)]
    first = max(0, math.floor((clip.speech_start - cfg.asr.pad_s) / FRAME_S))
    confirmed = min(len(frames), math.ceil(clip.speech_start / FRAME_S) + cfg.vad.onset_frames)
    last = min(len(frames), math.ceil((clip.speech_end + cfg.vad.hangover_s) / FRAME_S))
    decoder.begin(first * FRAME_S, b"".join(frames[first:confirmed]))
    for frame in frames[confirmed:last]:
        decoder.feed(frame)
    utterance = decoder.finish(clip.speech_start, clip.speech_end)
    return utterance.text if utterance is not None else ""


def measure(cfg: Config, clips: list[Clip], window: int) -> tuple[float, float, int]:
    """Error rate, decode seconds per audio second, and how many clips fell back to 30 s."""
    asr = dataclasses.replace(cfg.asr, whisper_windows_s=(window,),
                              whisper_window_margin_s=0.0)
    recognizer = load_whisper(asr, cfg.language)
    edits = units = fallback = 0
    audio_s = decode_s = 0.0
    for clip in clips:
        started = time.perf_counter()
        text = decode(recognizer.decoder("agent"), clip, cfg)
        decode_s += time.perf_counter() - started
        e, n = error_counts(clip.text, text, cfg.language)
        edits, units = edits + e, units + n
        heard_s = (clip.speech_end + cfg.asr.whisper_tail_s
                   - max(0.0, clip.speech_start - cfg.asr.pad_s))
        audio_s += heard_s
        fallback += recognizer.window_s(heard_s) != window
    return edits / units, decode_s / audio_s, fallback


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", default="30,20,15,10,8",
                        help="comma-separated encoder windows in whole seconds (1-30)")
    parser.add_argument("--en-lines", type=int, default=40,
                        help="how many distinct English scenario lines to decode")
    args = parser.parse_args()
    windows = [int(w) for w in args.windows.split(",")]
    sets = {"zh": (load_config("zh-CN"), zh_clips()),
            "en": (load_config("en-US"), en_clips(args.en_lines))}
    load_whisper(sets["zh"][0].asr, "zh").transcribe(np.zeros(SAMPLE_RATE_HZ, np.float32))
    for lang, (cfg, clips) in sets.items():
        longest = max(c.speech_end - c.speech_start for c in clips)
        print(f"{lang}: {len(clips)} clips, longest speech {longest:.1f} s "
              f"({'CER' if lang == 'zh' else 'WER'}; decode s per audio s)")
        for window in windows:
            rate, rtf, fallback = measure(cfg, clips, window)
            print(f"  window {window:>2} s: error {rate:6.1%}  decode {rtf:.3f}  "
                  f"({fallback} clips longer than the window, decoded at 30 s)")


if __name__ == "__main__":
    main()
