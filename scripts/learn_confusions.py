"""Learn the pinyin confusion costs (``config/pinyin_costs.toml``) from the recognisers' mistakes.

Every Mandarin clip of the library (``shared/audio/zh/*.wav`` with the texts of its
``manifest.json``, and the clips of ``shared/audio/human/`` whose text has Chinese characters)
is recognised by each Mandarin recogniser that is installed: faster-whisper-base with the
zh-CN profile's options and the names the clips say (诚美 / 小王) as the call's hotwords, and
the Vosk model of the profile (vosk-model-small-cn-0.22) when it is installed. Each clip is one
segment from its first to its last speech (the whole clip where the manifest has no times).

Reference and recognised text become toneless pinyin syllables (pypinyin, characters read in
context, each digit read as its character: 138 -> yi san ba), are aligned syllable by
syllable (plain Levenshtein), and the initial and final substitutions are counted per
unordered pair, with how often each initial and final occurs. ``testkit/confusions.py``
says how counts become costs:

    rate = n_ab / (N_ab + k)           N_ab: aligned syllables holding a or b
    cost = 1 - (1 - min_cost) * min(1, rate / saturation)
    cost = min(cost, prior_cost)       for the known Mandarin confusions (zh/z, ch/c, sh/s,
                                       n/l, f/h, r/l, an/ang, en/eng, in/ing, ian/iang, uan/uang)

Recognised texts are cached in ``$XDG_CACHE_HOME/callmonitor/confusions.json`` (default
``~/.cache``), keyed by model, decoding options and clip content, so a rerun only recomputes
the table; ``--no-cache`` recognises everything again.

    .venv/bin/python scripts/learn_confusions.py [--no-cache] [--out FILE] [--k 20] ...
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import sys
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from monitor.asr import backend_installed, load_recognizer, load_vosk
from monitor.asr.base import Recognizer
from monitor.asr.models import find_model
from monitor.config import PINYIN_COSTS_PATH, Config, load_config, load_pinyin_costs
from monitor.errors import CallmonitorError
from monitor.frames import SAMPLE_RATE_HZ
from testkit.confusions import (
    KNOWN_FINALS,
    KNOWN_INITIALS,
    Counts,
    Estimate,
    Settings,
    estimate_costs,
    render_toml,
    spoken_syllables,
)
from testkit.scenarios import PROFILES

REPO = Path(__file__).resolve().parents[1]
AUDIO = REPO.parent / "shared" / "audio"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "callmonitor" \
    / "confusions.json"
HAN = re.compile("[\u4e00-\u9fff]")
TOP = 20


@dataclass(frozen=True)
class Clip:
    """A library clip, its reference text and the span given to the recogniser."""

    name: str
    path: Path
    text: str
    start: float
    end: float


def library(audio: Path) -> list[Clip]:
    """The Mandarin clips, sorted by folder and name."""
    clips = []
    for entry_name, entry in sorted(_manifest(audio / "zh").items()):
        clips.append(Clip(f"zh/{entry_name}", audio / "zh" / f"{entry_name}.wav",
                          entry["text"], entry["speech_start"], entry["speech_end"]))
    for file_name, entry in sorted(_manifest(audio / "human").items()):
        if HAN.search(entry["text"]):
            path = audio / "human" / file_name
            clips.append(Clip(f"human/{file_name}", path, entry["text"], 0.0, _duration(path)))
    return clips


def _manifest(folder: Path) -> dict[str, dict]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def _pcm_16k(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        rate, raw = wav.getframerate(), wav.readframes(wav.getnframes())
    samples = np.frombuffer(raw, dtype=np.int16)
    if rate != SAMPLE_RATE_HZ:
        samples = soxr.resample(samples, rate, SAMPLE_RATE_HZ)
    return np.asarray(samples, dtype=np.int16).tobytes()


def recognisers(cfg: Config) -> tuple[list[Recognizer], list[str]]:
    """faster-whisper-base, and the profile's Vosk model where it is installed; then the
    names of the models left out."""
    found = [load_recognizer(cfg.asr, cfg.language, backend="whisper")]
    if backend_installed("vosk") and find_model(cfg.asr.vosk_model) is not None:
        return [*found, load_vosk(cfg.asr.vosk_model, cfg.language)], []
    print(f"{cfg.asr.vosk_model}: not installed, left out (see models/README.md)")
    return found, [cfg.asr.vosk_model]


def recognise(recognizer: Recognizer, clip: Clip, options: str, cache: dict[str, str]) -> str:
    """What ``recognizer`` writes for ``clip`` ("" for nothing), from ``cache`` when there;
    ``options`` (the profile's [asr] settings) is part of the key with the model, the call's
    names, the span and the audio, so a changed setting recognises again."""
    pcm = _pcm_16k(clip.path)
    names = PROFILES["zh"][1]
    options = json.dumps([recognizer.model_name, options, names, clip.start, clip.end],
                         ensure_ascii=False)
    key = hashlib.sha256(options.encode() + pcm).hexdigest()
    if key not in cache:
        decoder = recognizer.decoder("agent", names)
        decoder.begin(0.0, pcm)
        utterance = decoder.finish(clip.start, clip.end)
        cache[key] = utterance.text if utterance else ""
    return cache[key]


def _load_cache(use: bool) -> dict[str, str]:
    return json.loads(CACHE.read_text(encoding="utf-8")) if use and CACHE.is_file() else {}


def _save_cache(cache: dict[str, str]) -> None:
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_text(json.dumps(cache, ensure_ascii=False, indent=0, sort_keys=True),
                     encoding="utf-8")


def count(models: Sequence[Recognizer], clips: Sequence[Clip], cfg: Config, use_cache: bool
          ) -> tuple[Counts, dict[str, Counts]]:
    """The counts over every model and clip, and per model."""
    cache = _load_cache(use_cache)
    total, per_model = Counts(), {}
    for model in models:
        counts = per_model[model.model_name] = Counts()
        for clip in clips:
            ref = spoken_syllables(clip.text)
            hyp = spoken_syllables(recognise(model, clip, repr(cfg.asr), cache))
            counts.add(ref, hyp)
            total.add(ref, hyp)
        _save_cache(cache)
    return total, per_model


def _rates(counts: Counts) -> str:
    return (f"{counts.ref_syllables} reference syllables, {counts.positions} aligned pinyin "
            f"pairs, syllable error rate {counts.errors / max(counts.ref_syllables, 1):.1%} "
            f"(S {counts.substitutions}, D {counts.deletions}, I {counts.insertions})")


def _print_top(title: str, estimates: Sequence[Estimate]) -> None:
    print(f"top {TOP} {title} confusions (pair: confused / opportunities -> cost):")
    confused = sorted((e for e in estimates if e.confused),
                      key=lambda e: (-e.confused, e.cost, e.pair))
    for e in confused[:TOP]:
        pair = " ".join(u or "-" for u in e.pair)
        print(f"  {pair:<12} {e.confused:>4} / {e.opportunities:<5} -> {e.cost:.2f}"
              f"{'  (known)' if e.known else ''}")


def _header(argv: Sequence[str], models: Sequence[Recognizer], missing: Sequence[str],
            clips: Sequence[Clip], counts: Counts, settings: Settings) -> list[str]:
    folders = sorted({c.name.split("/")[0] for c in clips})
    by_folder = ", ".join(f"{sum(c.name.startswith(f + '/') for c in clips)} from "
                          f"shared/audio/{f}" for f in folders)
    return [
        "Pinyin confusion costs, generated (a rerun overwrites hand edits) by",
        f"  .venv/bin/python scripts/learn_confusions.py {' '.join(argv)}".rstrip(),
        f"models: {', '.join(m.model_name + ' (' + m.backend + ')' for m in models)}"
        + "".join(f"; {name} not installed, left out" for name in missing),
        f"clips: {len(clips)} ({by_folder}), each recognised by every model",
        f"aligned: {_rates(counts)}",
        f"costs: k = {settings.k}, saturation = {settings.saturation}, min_cost = "
        f"{settings.min_cost}, prior_cost = {settings.prior_cost} (see testkit/confusions.py)",
        f"date: {datetime.date.today().isoformat()}",
        "",
        "A syllable substitution costs weight_initial * initial cost + weight_final * final "
        "cost;",
        'an unlisted pair costs 1, "-" is the zero initial, ü is written v (monitor/pinyin.py).',
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cache", action="store_true", help="recognise every clip again")
    parser.add_argument("--out", type=Path, default=PINYIN_COSTS_PATH, help="the cost file")
    parser.add_argument("--audio", type=Path, default=AUDIO, help="the clip library")
    parser.add_argument("--weight-initial", type=float, default=0.5,
                        help="share of a syllable's cost that is its initial's (the final "
                             "gets the rest)")
    defaults = Settings()
    for name in ("k", "saturation", "min_cost", "prior_cost"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float,
                            default=getattr(defaults, name))
    args = parser.parse_args(argv)
    settings = Settings(args.k, args.saturation, args.min_cost, args.prior_cost)
    try:
        cfg = load_config("zh-CN")
        (models, missing), clips = recognisers(cfg), library(args.audio)
        total, per_model = count(models, clips, cfg, not args.no_cache)
    except CallmonitorError as exc:
        print(f"learn_confusions: error: {exc}", file=sys.stderr)
        return 2
    _report(clips, total, per_model)
    initials = estimate_costs(total.initials, total.initial_seen, KNOWN_INITIALS, settings)
    finals = estimate_costs(total.finals, total.final_seen, KNOWN_FINALS, settings)
    _print_top("initial", initials)
    _print_top("final", finals)
    header = _header(sys.argv[1:] if argv is None else argv, models, missing, clips, total,
                     settings)
    args.out.write_text(render_toml(header, initials, finals,
                                    (args.weight_initial, round(1 - args.weight_initial, 6))),
                        encoding="utf-8")
    load_pinyin_costs(args.out)  # what was written must load
    print(f"wrote {args.out}")
    return 0


def _report(clips: Sequence[Clip], total: Counts, per_model: dict[str, Counts]) -> None:
    print(f"clips: {len(clips)}")
    for name, counts in per_model.items():
        print(f"{name}: {_rates(counts)}")
    print(f"all models: {_rates(total)}")


if __name__ == "__main__":
    raise SystemExit(main())
