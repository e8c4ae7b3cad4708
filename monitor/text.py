"""Text normalisation shared by both recognisers and by every score computed on their output.

Rules count what was said (characters per minute, filler tokens, phrases), so the two backends
must write the same text for the same speech: Whisper writes traditional characters at times,
numerals for spoken digits and an occasional subtitle credit it saw in training; Vosk writes
space-separated Mandarin words. Everything here maps those forms onto one: simplified
characters, digits kept as digits, punctuation kept (it marks sentences for the phrase rules).
Scoring (``comparable``, ``error_rate``) then drops what a listener cannot hear.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from monitor.frames import Word

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df"
_HAN = re.compile(f"[{_CJK}]")
_ZH_UNIT = re.compile(f"[{_CJK}]|[0-9]|[A-Za-z]+(?:'[A-Za-z]+)*")
_WORD = re.compile(r"\w+(?:['’.,]\w+)*")
_SPACE_NEAR_HAN = re.compile(f"\\s+(?=[{_CJK}，。？！、；：])|(?<=[{_CJK}，。？！、；：])\\s+")
# Whisper often closes a Mandarin clause with ASCII punctuation; Chinese text uses full width.
_ASCII_PUNCT_AFTER_HAN = re.compile(f"(?<=[{_CJK}])[,?!;:.]")
_FULL_PUNCT = {",": "，", "?": "？", "!": "！", ";": "；", ":": "：", ".": "。"}
# Non-speech annotations Whisper emits from its subtitle training data: [音乐], (笑), ♪ ...
_ANNOTATION = re.compile(r"\[[^\]]{0,20}\]|【[^】]{0,20}】|\([^)]{0,20}\)|（[^）]{0,20}）|[♪♫🎵]")
# Subtitle credits Whisper hallucinates on quiet audio; compared after conversion to simplified.
_CREDITS = (
    "字幕由Amara.org社区提供",
    "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目",
    "Subtitles by the Amara.org community",
    "Thanks for watching!",
    "Thank you for watching.",
)
# Full-width letters and digits (ＡＢＣ１２３) to ASCII, so digits are counted and spelled alike.
_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF10, 0xFF5B) if chr(c - 0xFEE0).isalnum()}
_DIGIT_NAMES = str.maketrans("0123456789", "零一二三四五六七八九")


@cache
def _t2s():
    """The OpenCC converter: building it reads dictionaries, so it is built once per process.

    ``tw2s`` is ``t2s`` plus the Taiwan variants, which is the traditional Whisper writes:
    plain ``t2s`` leaves the particle 著 (照著做, 著急) where Mandarin text has 着.
    """
    import opencc

    return opencc.OpenCC("tw2s")


def to_simplified(text: str) -> str:
    """Traditional to simplified characters (OpenCC); simplified text comes back unchanged.

    OpenCC reads 么 as the traditional form of 幺 unless a word it knows holds it (什么), so a
    recogniser's 神么 became 神幺; 么 is kept where it was written. Conversion maps code point for
    code point, so positions line up.
    """
    if not _HAN.search(text):
        return text
    converted = _t2s().convert(text)
    if "么" not in text or len(converted) != len(text):
        return converted
    return "".join("么" if was == "么" else now for was, now in zip(text, converted, strict=True))


def normalize_text(text: str, language: str) -> str:
    """The one written form of a recognised utterance: what rules, store and sinks see.

    Mandarin gets simplified characters, no spaces between characters (Vosk separates its
    words with spaces) and full-width punctuation after a character; every language loses
    Whisper's annotations and credits and gets single spaces. Punctuation and digits stay as
    written.
    """
    text = text.translate(_FULLWIDTH)
    if language == "zh":
        text = to_simplified(text)
    for credit in _CREDITS:
        text = text.replace(credit, " ")
    text = _ANNOTATION.sub(" ", text)
    if language == "zh":
        text = _ASCII_PUNCT_AFTER_HAN.sub(lambda m: _FULL_PUNCT[m.group()], text)
        text = _SPACE_NEAR_HAN.sub("", text)
    return " ".join(text.split())


def units(text: str, language: str) -> list[str]:
    """The spoken units of ``text``: what a speaking rate counts.

    Mandarin: each Chinese character, each digit (a digit is read as one syllable) and each
    word in Latin letters. Other languages: words.
    """
    if language == "zh":
        return _ZH_UNIT.findall(text)
    return _WORD.findall(text)


def count_units(text: str, language: str) -> int:
    """How many characters (Mandarin) or words (other languages) were spoken in ``text``."""
    return len(units(text, language))


def word_units(text: str, start: float, end: float, prob: float, language: str) -> list[Word]:
    """One recogniser word as ``Word`` records, one per spoken unit of ``text``.

    Recognisers hand out multi-character Mandarin words (Vosk: 您好; Whisper: 138); the
    pipeline's words are single characters and digits so a filler or a phrase can be found by
    time, so the word is split and its time shared evenly. Punctuation is dropped.
    """
    parts = units(normalize_text(text, language), language)
    if language != "zh":
        parts = [" ".join(parts)] if parts else []
    step = (end - start) / len(parts) if parts else 0.0
    return [Word(start + i * step, start + (i + 1) * step, part, prob)
            for i, part in enumerate(parts)]


def comparable(text: str, language: str) -> str:
    """``text`` reduced to what is heard, for scoring against a reference.

    Mandarin: characters only, no punctuation or spaces, each digit spelled as the character
    read for it (138 -> 一三八), Latin letters lower-cased. Other languages: lower-cased words
    separated by single spaces.
    """
    parts = units(normalize_text(text, language), language)
    if language == "zh":
        return "".join(parts).translate(_DIGIT_NAMES).lower()
    return " ".join(parts).lower()


def _tokens(text: str, language: str) -> list[str]:
    form = comparable(text, language)
    return list(form) if language == "zh" else form.split()


def levenshtein(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Edits (substitutions, insertions, deletions) from ``ref`` to ``hyp``: units or letters."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def error_counts(ref: str, hyp: str, language: str) -> tuple[int, int]:
    """(edits, reference length) in characters (Mandarin) or words (other languages).

    Summing both over a test set gives the corpus error rate, which weights long utterances
    properly where an average of per-utterance rates would not.
    """
    ref_tokens, hyp_tokens = _tokens(ref, language), _tokens(hyp, language)
    return levenshtein(ref_tokens, hyp_tokens), len(ref_tokens)


def error_rate(ref: str, hyp: str, language: str) -> float:
    """Character error rate for Mandarin, word error rate otherwise, on comparable forms.

    An empty reference scores 0 against an empty hypothesis and 1 against anything else.
    """
    edits, n = error_counts(ref, hyp, language)
    if n == 0:
        return 0.0 if edits == 0 else 1.0
    return edits / n
