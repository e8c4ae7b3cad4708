"""Find service phrases in recognised text, and where they were said, despite ASR homophones.

Greeting, apology, hold, filler, taboo and closing rules all ask the same question of an
utterance: does it contain one of these phrases, and at which words and times? Mandarin
recognisers mostly fail by writing a homophone (诚美客服 -> 成美克服, 来电 -> 来点, 话费 ->
花费), so a phrase is looked for twice: in the characters, and in toneless pinyin, where those
pairs are equal. English is matched as a sequence of whole words; a proper name (the company,
the agent) may also be matched by its spelling, because an English recogniser that does not
know a name writes common words that sound like it (Acme -> "at me").

Both forms compare sequences of whole units (a character, a digit, a Latin word; a pinyin
syllable; an English word), never substrings: 安 (an) is not inside 南 (nan), 西安 (xi an) is
not 先 (xian), "um" is not inside "umbrella". Every unit keeps its span in the original text
and its recognised word, so a match reports what was actually said and when.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from typing import Literal

from pypinyin import Style, lazy_pinyin
from pypinyin.seg.simpleseg import seg

from monitor.frames import Utterance, Word
from monitor.text import count_units, to_simplified, units

By = Literal["chars", "pinyin", "spelling"]
# Rank of a match's evidence: characters beat pinyin, pinyin beats spelling on the same span.
_CHARS, _PINYIN, _SPELLING = 0, 1, 2
_BY: dict[int, By] = {_CHARS: "chars", _PINYIN: "pinyin", _SPELLING: "spelling"}
_ZH_FORMS = str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                          "零一二三四五六七八九abcdefghijklmnopqrstuvwxyz")
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"))
_FUZZY_FINALS = ("ang", "eng", "ing")  # -iang/-uang fold onto -ian/-uan with them


@dataclass(frozen=True, slots=True)
class Match:
    """One phrase found in an utterance.

    ``text`` is the span of the utterance text that matched (as written, punctuation inside it
    included), so a supervisor sees what the recogniser heard rather than the phrase searched
    for; ``start``/``end`` are the audio times of the words covering it (the utterance's own
    times when its words cannot be lined up with its text); ``by`` says whether the characters
    (English: the words) matched or only their pinyin did.
    """

    phrase: str
    text: str
    start: float
    end: float
    by: By


@dataclass(frozen=True, slots=True)
class _Units:
    """Text cut into matchable units, each with its span in the original text."""

    forms: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]


class _Haystack:
    """Units joined with spaces, so a phrase is found by ``str.find`` at unit boundaries only."""

    __slots__ = ("_index", "_text")

    def __init__(self, forms: Sequence[str]) -> None:
        self._text = f" {' '.join(forms)} "
        self._index: dict[int, int] = {}
        at = 0
        for i, form in enumerate(forms):
            self._index[at] = i
            at += len(form) + 1

    def find(self, needle: str, size: int) -> list[tuple[int, int]]:
        """Every occurrence of ``needle`` (overlapping ones too) as a unit range [start, end)."""
        found, at = [], self._text.find(needle)
        while at >= 0:
            first = self._index[at]
            found.append((first, first + size))
            at = self._text.find(needle, at + 1)
        return found


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A phrase precomputed for searching: its units and pinyin as space-delimited needles."""

    phrase: str
    size: int
    chars: str
    pinyin: str | None  # None: matched by characters only


class PhraseMatcher:
    """Finds any of a fixed list of phrases in utterances; built once, used on every utterance.

    ``language`` "zh" matches Mandarin by characters and by pinyin; any other language (the
    profiles use "en") matches whole words only. ``exclusions`` are phrases that excuse a match
    lying inside one of them: the polite 请问有什么事可以帮您 contains the taboo 有什么事, and
    must never be reported as it. ``fuzzy`` also equates the pinyin pairs Mandarin speakers and
    recognisers confuse (zh/z, ch/c, sh/s, n/l, an/ang, en/eng, in/ing). Phrases shorter than
    ``min_pinyin_syllables`` are matched by characters only: one syllable has dozens of
    homophones, and the filler 唔 (wu) would otherwise be found in 服务 (fu wu) and in every 五.
    ``min_spelling_similarity`` (English only; names, not phrases) also accepts any run of words
    whose letters, run together, are at least this similar to the phrase's (1 - edit distance /
    length): "at me" for Acme, "Ana" for Anna, "North wind tele com" for Northwind Telecom.
    """

    def __init__(self, phrases: Iterable[str], language: str, *, exclusions: Iterable[str] = (),
                 fuzzy: bool = False, min_pinyin_syllables: int = 2,
                 min_spelling_similarity: float | None = None) -> None:
        self._language = language
        self._fuzzy = fuzzy
        self._min_pinyin = min_pinyin_syllables
        self._min_spelling = min_spelling_similarity if language != "zh" else None
        self._patterns = [self._pattern(p) for p in phrases]
        self._exclusions = [self._pattern(p) for p in exclusions]

    def find(self, utterance: Utterance) -> list[Match]:
        """All non-overlapping matches in order of position.

        Where matches overlap, the one starting first wins, then the longer phrase, then a
        character match over a pinyin one, then the phrase listed first: a pinyin match of
        感谢您的来电 in 感谢您的来点 says more than the character match of 感谢 inside it.
        Matches inside an exclusion's match (by characters or pinyin) are dropped before that
        choice, so they block nothing.
        """
        text = _units(utterance.text, self._language)
        if not text.forms:
            return []
        chars = _Haystack(text.forms)
        pinyin = _Haystack(self._syllables(text.forms)) if self._language == "zh" else None
        excused = [span for pat in self._exclusions
                   for span, _ in self._occurrences(pat, text.forms, chars, pinyin)]
        candidates = sorted(
            (start, start - end, rank, i)
            for i, pat in enumerate(self._patterns)
            for (start, end), rank in self._occurrences(pat, text.forms, chars, pinyin)
            if not any(x0 <= start and end <= x1 for x0, x1 in excused)
        )
        if not candidates:
            return []
        owners = _word_owners(utterance, len(text.forms), self._language)
        matches, free_from = [], 0
        for start, negative_size, rank, i in candidates:
            if start >= free_from:
                free_from = start - negative_size
                matches.append(_match(self._patterns[i].phrase, utterance, text, owners,
                                      start, free_from, rank))
        return matches

    def first(self, utterance: Utterance) -> Match | None:
        """The earliest match, or None: what a rule that only asks "was it said?" needs."""
        matches = self.find(utterance)
        return matches[0] if matches else None

    def _pattern(self, phrase: str) -> _Pattern:
        forms = _units(phrase, self._language).forms
        if not forms:
            raise ValueError(f"phrase {phrase!r} has nothing to match (no characters or words)")
        pinyin = None
        if self._language == "zh" and len(forms) >= self._min_pinyin:
            pinyin = _needle(self._syllables(forms))
        return _Pattern(phrase, len(forms), _needle(forms), pinyin)

    def _syllables(self, forms: Sequence[str]) -> list[str]:
        syllables = _pinyin(forms)
        return [_fuzzy(s) for s in syllables] if self._fuzzy else syllables

    def _occurrences(self, pattern: _Pattern, forms: Sequence[str], chars: _Haystack,
                     pinyin: _Haystack | None) -> list[tuple[tuple[int, int], int]]:
        """Every unit range where ``pattern`` occurs, with the rank of the evidence."""
        found = [(span, _CHARS) for span in chars.find(pattern.chars, pattern.size)]
        if pinyin is not None and pattern.pinyin is not None:
            found += [(span, _PINYIN) for span in pinyin.find(pattern.pinyin, pattern.size)]
        if self._min_spelling is not None:
            found += [(span, _SPELLING) for span in _spelled_like(
                _letters(pattern.chars.split()), forms, self._min_spelling)]
        return found


def _spelled_like(letters: str, forms: Sequence[str],
                  min_similarity: float) -> list[tuple[int, int]]:
    """Word ranges whose letters, run together, are spelled nearly like ``letters``.

    A recogniser may split a name into any number of words, so ranges of every length are
    tried, up to the most letters that could still be similar enough.
    """
    longest = len(letters) / min_similarity
    found = []
    for start in range(len(forms)):
        said = ""
        for end in range(start + 1, len(forms) + 1):
            said += _letters(forms[end - 1:end])
            if len(said) > longest:
                break
            if _similarity(said, letters) >= min_similarity:
                found.append((start, end))
    return found


def _letters(words: Sequence[str]) -> str:
    return "".join(c for word in words for c in word if c.isalpha())


def _similarity(a: str, b: str) -> float:
    """1 - Levenshtein distance / the longer length: 0.75 for "atme" against "acme"."""
    if not a or not b:
        return 0.0
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return 1.0 - previous[-1] / max(len(a), len(b))


def _match(phrase: str, utterance: Utterance, text: _Units, owners: list[Word] | None,
           start: int, end: int, rank: int) -> Match:
    """A unit range as what was said and when."""
    said = utterance.text[text.spans[start][0]:text.spans[end - 1][1]]
    if owners is None:
        return Match(phrase, said, utterance.start, utterance.end, _BY[rank])
    return Match(phrase, said, owners[start].start, owners[end - 1].end, _BY[rank])


def _units(text: str, language: str) -> _Units:
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
    return _Units(tuple(forms), tuple(spans))


def _needle(forms: Sequence[str]) -> str:
    return f" {' '.join(forms)} "


def _pinyin(forms: Sequence[str]) -> list[str]:
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
    return syllables


@lru_cache(maxsize=65536)
def _word_pinyin(word: str) -> tuple[str, ...]:
    # errors=list: a character without pinyin stands for itself, one unit each, so the
    # syllables stay aligned with the characters.
    return tuple(lazy_pinyin(word, style=Style.NORMAL,
                             errors=list))  # type: ignore[arg-type]  # pypinyin takes any callable; its hint says str


@lru_cache(maxsize=4096)
def _fuzzy(syllable: str) -> str:
    """One spelling per fuzzy pair: zh->z, ch->c, sh->s, l->n, -ang->-an, -eng->-en, -ing->-in."""
    for initial, same in _FUZZY_INITIALS:
        if syllable.startswith(initial):
            syllable = same + syllable[len(initial):]
            break
    return syllable[:-1] if syllable.endswith(_FUZZY_FINALS) else syllable


def _word_owners(utterance: Utterance, n_units: int, language: str) -> list[Word] | None:
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
