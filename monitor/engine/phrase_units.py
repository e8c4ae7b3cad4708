"""Utterance text cut into the units phrases are matched on, with spans, pinyin and word times.

Both a pattern and what was heard are compared as sequences of whole units (a character, a
digit, a Latin word; a pinyin syllable; an English word), never substrings: 安 (an) is not
inside 南 (nan), "um" is not inside "umbrella". Every unit keeps its span in the original text
and its recognised word, so a match reports what was actually said and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby

from pypinyin import Style, lazy_pinyin
from pypinyin.seg.simpleseg import seg

from monitor.frames import Utterance, Word
from monitor.text import count_units, to_simplified, units

_ZH_FORMS = str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                          "零一二三四五六七八九abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, slots=True)
class Units:
    """Text cut into matchable units, each with its span in the original text."""

    forms: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]

    def clause_starts(self, text: str) -> frozenset[int]:
        """Units that start a clause: the first, and each after punctuation in ``text``."""
        return frozenset(i for i, (start, _) in enumerate(self.spans)
                         if i == 0 or text[self.spans[i - 1][1]:start].strip())

    def clause_ends(self, text: str) -> frozenset[int]:
        """Unit ranges' ends [.., end) that end a clause: the last unit, and each before
        punctuation."""
        last = len(self.spans)
        return frozenset(i + 1 for i, (_, end) in enumerate(self.spans)
                         if i + 1 == last or text[end:self.spans[i + 1][0]].strip())


def text_units(text: str, language: str) -> Units:
    """The units ``monitor.text.units`` counts, normalised, with their text spans.

    Using the same units as the recognisers' ``word_units`` keeps unit i on word i. Mandarin
    units are simplified characters, digits as the characters read for them (17951 ==
    一七九五一) and lower-cased Latin words; every step maps code point for code point (OpenCC's
    tw2s dictionaries do too), so spans in the converted text are spans in the original.
    English units are lower-cased words with one kind of apostrophe. Punctuation and spaces are
    not units, so they never keep a phrase from matching.
    """
    source = to_simplified(text).translate(_ZH_FORMS) if language == "zh" else text
    forms, spans, pos = [], [], 0
    for unit in units(source, language):
        # units() returns its regex matches in order; each is the first occurrence from pos.
        start = source.index(unit, pos)
        pos = start + len(unit)
        forms.append(unit if language == "zh" else unit.lower().replace("’", "'"))
        spans.append((start, pos))
    return Units(tuple(forms), tuple(spans))


def pinyin(forms: Sequence[str]) -> tuple[str, ...]:
    """Toneless pinyin, one syllable per Mandarin unit; Latin words stand for themselves.

    Each run of characters is segmented into words as ``lazy_pinyin`` does, so a polyphone is
    read in its context (银行 yin hang, 重新 chong xin, where 行 and 重 alone read xing and
    zhong), and each word's pinyin is cached: converting, not segmenting, is what makes
    ``lazy_pinyin`` too slow to run on every utterance of a live call.
    """
    syllables: list[str] = []
    for latin, run in groupby(forms, key=str.isascii):
        if latin:
            syllables.extend(run)
        else:
            for word in seg("".join(run)):
                syllables.extend(_word_pinyin(word))
    return tuple(syllables)


@lru_cache(maxsize=65536)
def _word_pinyin(word: str) -> tuple[str, ...]:
    # errors=list: a character without pinyin stands for itself, one unit each, so the
    # syllables stay aligned with the characters.
    return tuple(lazy_pinyin(word, style=Style.NORMAL,
                             errors=list))  # type: ignore[arg-type]  # pypinyin takes any callable; its hint says str


def word_owners(utterance: Utterance, n_units: int, language: str) -> list[Word] | None:
    """The word that carries each unit of the text, or None when words and text disagree.

    Mandarin words are one unit each; an English word may hold two ("well-known"). When the
    counts differ no unit can be placed in time, and the utterance's own times are used.
    """
    owners = [w for w in utterance.words for _ in range(_unit_count(w.text, language))]
    return owners if len(owners) == n_units else None


@lru_cache(maxsize=8192)
def _unit_count(text: str, language: str) -> int:
    """``count_units`` of one word's text, cached: a call repeats the same few thousand words."""
    return count_units(text, language)
