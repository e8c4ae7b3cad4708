"""Regenerate the recognised-speech items of the phrase set (``scenarios/phrases/<lang>.asr.toml``).

Hand-written garbles guess how a recogniser fails; these items are how one did. Every
hand-written positive that a person would say (kind ``variant`` or ``insertion``) is spoken by
espeak-ng, resampled to 16 kHz and recognised by the real Whisper base model with its
profile's options; the text Whisper wrote becomes a ``garbled`` item whose truth is what the
sentence said (its families), ``source = "espeak+whisper"`` and ``said`` = the sentence.

An item is dropped, and counted in the file's header, when:
- Whisper wrote the sentence verbatim (punctuation and case aside): nothing garbled to learn;
- the text has lost the sentence (its syllables, Mandarin, or words, English, match less than
  ``MIN_SIMILARITY`` of the sentence's): truth by intent would then ask for the impossible;
- review found the phrase itself gone although the rest survived (``LOST_BY_REVIEW``);
- the text is already in the set (another sentence came out the same).

Mandarin is spoken with espeak-ng's ``cmn-latn-pinyin`` voice: its ``cmn`` voice (espeak-ng
1.51, Debian) reads each character's pinyin tone digit as an English number ("nin two hao
three"); both voices use the same Mandarin dictionary for characters. Deterministic: espeak-ng
and greedy Whisper with pinned CPU kernels give the same text on every run on one machine.
Recognising a sentence takes seconds, so what Whisper wrote is kept in ``var/phrase_asr``
(per language, voice and model; ``--fresh`` recognises everything again): reviewing the
output and rewriting the file after a change to ``LOST_BY_REVIEW`` then costs nothing.

``--clips`` prints instead what Whisper writes for the recorded Mandarin clip library
(``../shared/audio/zh``, manifest texts beside it): where the hand-written garbles of
``zh.toml`` come from (稍等→收等, 久等→就等, 没这个人→美女个人 ...).

    .venv/bin/python scripts/phrase_set_asr.py [--language zh|en] [--dry-run] [--fresh] [--clips]
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
from pypinyin import lazy_pinyin

from monitor.asr import load_recognizer
from monitor.asr.whisper import WhisperRecognizer
from monitor.config import load_config
from monitor.frames import SAMPLE_RATE_HZ
from monitor.pcm import FULL_SCALE
from testkit.phrase_set import LANGUAGES, PHRASES_DIR, PhraseItem, load_phrase_set
from testkit.synth import ZH_CLIPS_DIR, espeak_samples, load_clip

# language -> (espeak-ng voice, profile)
VOICES = {"zh": ("cmn-latn-pinyin", "zh-CN"), "en": ("en-us", "en-US")}
ESPEAK_PITCH = 50
SPOKEN_KINDS = ("variant", "insertion")
MIN_SIMILARITY = 0.5
# Sentences whose recognised text kept enough of the sentence but lost the phrase itself,
# found by reading the script's --dry-run output; keyed by the sentence said.
LOST_BY_REVIEW: dict[str, str] = {
    "喂，哪位？": "哪位 gone (微微)",
    "喂，这边诚美，你有啥事？": "啥事 gone (你要发佛)",
    "麻烦您稍等片刻，我去核实一下您的账单。": "稍等 gone (朝天), 核实 became 河水",
    "谢谢您的来电，我们会尽快处理。": "谢谢 and 来电 gone (也许您的台湾)",
    "祝您和家人生活愉快。": "生活愉快 gone (神，落于苞)",
    "我明白，您说的情况我都记下了。": "明白 gone (I'm in for the)",
    "这笔费用，啊，是上个月的，呃，流量费。": "both fillers gone",
    "那是你自己操作错了，跟系统没关系。": "错 gone (你自己操作的)",
    "你们这个弄错了，不是我们的问题。": "弄错 gone (农子网路)",
    "公司规定就是这样，我也没办法。": "公司规定 became 当时被定",
    "没办法，这是上面定的规矩。": "规矩 became 对决",
    "我哪知道你的快递在哪儿。": "哪知道 became 会知道 (the opposite)",
    "没有你说的这个人。": "这个人 gone (我可超过人)",
    "Good afternoon, Acme billing, how may I help you today?": "good afternoon gone",
    "Er, let me see, your order shipped on Monday.": "the filler er gone",
    "You read the bill wrong.": "wrong gone (you read the bill on)",
    "Who exactly is this?": "who gone (and that is this)",
}
CACHE_DIR = Path(__file__).resolve().parent.parent / "var" / "phrase_asr"
_WORD = re.compile(r"[a-z0-9']+")


def units(text: str, language: str) -> list[str]:
    """What similarity is measured on: toneless pinyin syllables (Mandarin, where a homophone
    is a near hit), lower-case words (English)."""
    if language == "zh":
        return [s for s in lazy_pinyin(re.sub(r"[^\u4e00-\u9fff0-9A-Za-z]", "", text))
                if s.strip()]
    return _WORD.findall(text.lower().replace("-", " "))


def similarity(said: str, heard: str, language: str) -> float:
    """How much of the sentence survived recognition, 0 to 1 (difflib's ratio on units)."""
    return difflib.SequenceMatcher(None, units(said, language), units(heard, language),
                                   autojunk=False).ratio()


def _bare(text: str, language: str) -> str:
    """The words without punctuation or case: "have an ice day" is not "have a nice day"."""
    return ("" if language == "zh" else " ").join(re.findall(r"[^\W_]+", text.lower()))


def drop_reason(item: PhraseItem, heard: str, taken: set[str], language: str) -> str | None:
    """Why a recognised text is not kept (see the module doc), or None to keep it."""
    if not heard.strip() or similarity(item.text, heard, language) < MIN_SIMILARITY:
        return "lost"
    if _bare(heard, language) == _bare(item.text, language):
        return "verbatim"
    if item.text in LOST_BY_REVIEW:
        return "lost by review"
    if heard in taken:
        return "duplicate"
    return None


def recognise(recognizer: WhisperRecognizer, text: str, voice: str) -> str:
    """The text Whisper writes for ``text`` spoken by espeak-ng ``voice``."""
    samples = espeak_samples(text, voice, ESPEAK_PITCH, SAMPLE_RATE_HZ)
    heard, _words = recognizer.transcribe((samples / FULL_SCALE).astype(np.float32))
    return heard


def heard_texts(language: str, sentences: list[str], fresh: bool) -> dict[str, str]:
    """What Whisper wrote for each sentence, from the cache where it is there (unless
    ``fresh``), else recognised now and added to it."""
    voice, profile = VOICES[language]
    cfg = load_config(profile)
    path = CACHE_DIR / f"{language}.json"
    key = {"voice": voice, "pitch": ESPEAK_PITCH, "model": cfg.asr.whisper_model}
    cached = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    heard: dict[str, str] = {} if fresh or cached.get("key") != key else cached["heard"]
    todo = [s for s in sentences if s not in heard]
    if todo:
        recognizer = load_recognizer(cfg.asr, cfg.language, backend="whisper")
        assert isinstance(recognizer, WhisperRecognizer)
        for sentence in todo:
            heard[sentence] = recognise(recognizer, sentence, voice)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"key": key, "heard": heard}, ensure_ascii=False,
                                       indent=0), encoding="utf-8")
    return heard


def generate(language: str, fresh: bool = False) -> tuple[list[PhraseItem], Counter[str]]:
    """The kept items of ``language`` and the count of each drop reason (and of the kept)."""
    hand = [i for i in load_phrase_set(language) if i.source == "hand"]
    spoken = [i for i in hand if i.kind in SPOKEN_KINDS]
    heard_for = heard_texts(language, [i.text for i in spoken], fresh)
    taken = {i.text for i in hand}
    kept: list[PhraseItem] = []
    counts: Counter[str] = Counter()
    for item in spoken:
        heard = heard_for[item.text]
        reason = drop_reason(item, heard, taken, language)
        counts[reason or "kept"] += 1
        print(f"{reason or 'kept':15} {similarity(item.text, heard, language):.2f} "
              f"{item.text} => {heard}", flush=True)
        if reason is None:
            taken.add(heard)
            kept.append(PhraseItem(heard, item.families, "garbled", None, "espeak+whisper",
                                   item.text))
    return kept, counts


def render(language: str, kept: list[PhraseItem], counts: Counter[str]) -> str:
    """The generated TOML file, its header saying how it was made and what was dropped."""
    voice, profile = VOICES[language]
    spoken = sum(counts.values())
    lines = [
        "# Generated by scripts/phrase_set_asr.py: do not edit, run it again.",
        f"# The {spoken} hand-written {'/'.join(SPOKEN_KINDS)} items of {language}.toml, spoken",
        f"# by espeak-ng -v {voice}, resampled to {SAMPLE_RATE_HZ} Hz and recognised by Whisper",
        f"# base with the {profile} profile's options. Truth is what the sentence said.",
        f"# Kept {counts['kept']}; dropped {spoken - counts['kept']}: "
        f"{counts['verbatim']} recognised verbatim (nothing garbled), {counts['lost']} lost "
        f"(under {MIN_SIMILARITY:.0%} of the",
        f"# sentence's {'syllables' if language == 'zh' else 'words'} survived), "
        f"{counts['lost by review']} with the phrase itself lost (LOST_BY_REVIEW), "
        f"{counts['duplicate']} duplicates.",
    ]
    texts = {item.text for item in load_phrase_set(language)}
    lines += [f"#   dropped on review: {said} ({why})" for said, why in LOST_BY_REVIEW.items()
              if said in texts]
    lines += [f'language = "{language}"', "", "items = ["]
    for item in kept:
        families = ", ".join(json.dumps(f) for f in sorted(item.families))
        lines.append(f'  {{ text = {_toml(item.text)}, families = [{families}], kind = '
                     f'"garbled", source = "{item.source}", said = {_toml(item.said or "")} }},')
    return "\n".join([*lines, "]", ""])


def _toml(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def print_clip_library() -> None:
    """Each clip's manifest text and what Whisper base (zh-CN options) writes for it."""
    cfg = load_config("zh-CN")
    recognizer = load_recognizer(cfg.asr, cfg.language, backend="whisper")
    assert isinstance(recognizer, WhisperRecognizer)
    manifest = json.loads((ZH_CLIPS_DIR / "manifest.json").read_text(encoding="utf-8"))
    for name in manifest:
        line = load_clip(name, SAMPLE_RATE_HZ)
        heard, _words = recognizer.transcribe((line.samples / FULL_SCALE).astype(np.float32))
        print(f"{name:20} {line.text} => {heard}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", choices=LANGUAGES, action="append",
                        help="only this language (default: all)")
    parser.add_argument("--dry-run", action="store_true", help="print, write nothing")
    parser.add_argument("--fresh", action="store_true",
                        help="recognise every sentence again instead of reading var/phrase_asr")
    parser.add_argument("--clips", action="store_true",
                        help="print Whisper's text for the Mandarin clip library, write nothing")
    args = parser.parse_args(argv)
    if args.clips:
        print_clip_library()
        return 0
    for language in args.language or LANGUAGES:
        kept, counts = generate(language, args.fresh)
        print(f"{language}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        if not args.dry_run:
            path = PHRASES_DIR / f"{language}.asr.toml"
            path.write_text(render(language, kept, counts), encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
