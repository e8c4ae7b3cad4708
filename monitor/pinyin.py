"""Mandarin text as toneless pinyin syllables, and what it costs to mistake one for another.

A recogniser that mishears Mandarin mostly writes a character that sounds alike: the same
syllable (诚/成, free in pinyin), or one whose initial or final is a neighbour (z/zh, n/l,
in/ing). Phrase matching therefore compares syllables, split into initial and final, with
substitution costs learned from the recognisers' own confusions (``config/pinyin_costs.toml``,
written by ``scripts/learn_confusions.py``). Tones are ignored: recognisers and callers lose
them first.

Spelling, the one ``pypinyin.lazy_pinyin(..., style=Style.NORMAL)`` writes, made regular:

- the zero initial is ``""`` (``"-"`` in the cost file): an, e, ou, er, and the syllables
  spelled with y/w, which get the final they have after a consonant: yi -> i, ya -> ia,
  you -> iu (as in liu), wei -> ui (as in gui), wen -> un, wu -> u, weng -> ueng, and
  yo -> o, wong -> ong as pypinyin's strict finals have them;
- ü is written ``v`` in every final: lv, nve, and yu -> v, yue -> ve, yuan -> van,
  yun -> vn, also after j, q, x (ju -> j + v, where pinyin writes u);
- the apical vowel of zi, zhi, ri is the final ``i`` (the initial tells them apart), and the
  interjections m, n, ng, hm, hng have the finals m, n, ng;
- anything else (a Latin word, a digit) is not pinyin: it splits into ``(word, "")`` and is
  only ever equal to itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType

from pypinyin import Style, lazy_pinyin

INITIALS = ("", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x",
            "zh", "ch", "sh", "r", "z", "c", "s")
"""Every initial, ``""`` the zero initial."""
FINALS = ("a", "o", "e", "ê", "ai", "ei", "ao", "ou", "an", "en", "ang", "eng", "ong", "er",
          "i", "ia", "ie", "iao", "iu", "ian", "in", "iang", "ing", "iong",
          "u", "ua", "uo", "uai", "ui", "uan", "un", "uang", "ueng",
          "v", "ve", "van", "vn", "m", "n", "ng")
"""Every final, in the spelling of the module doc (ü as ``v``, iou as ``iu``)."""

_Y_W = {"yi": "i", "ya": "ia", "yo": "o", "ye": "ie", "yao": "iao", "you": "iu",
        "yan": "ian", "yin": "in", "yang": "iang", "ying": "ing", "yong": "iong",
        "yu": "v", "yue": "ve", "yuan": "van", "yun": "vn",
        "wu": "u", "wa": "ua", "wo": "uo", "wai": "uai", "wei": "ui", "wan": "uan",
        "wen": "un", "wang": "uang", "weng": "ueng", "wong": "ong"}
# Longest first, so zh is not read as z + h...
_CONSONANTS = sorted((i for i in INITIALS if i), key=len, reverse=True)
_FINAL_SET = frozenset(FINALS)
# What pypinyin hands back: a syllable per character, other text as it was written.
_UNIT = re.compile("[A-Za-zê]+|[0-9]")


@cache
def split_syllable(s: str) -> tuple[str, str]:
    """``s`` (a toneless syllable, as ``syllables`` gives) as (initial, final); a word that is
    not pinyin as ``(word, "")``. See the module doc for the spelling."""
    s = s.lower()
    if s in _Y_W:
        return "", _Y_W[s]
    for initial in _CONSONANTS:
        if s.startswith(initial) and len(s) > len(initial):
            final = s[len(initial):]
            if initial in ("j", "q", "x") and final.startswith("u"):
                final = "v" + final[1:]
            if final in _FINAL_SET:
                return initial, final
    return ("", s) if s in _FINAL_SET else (s, "")


def syllables(text: str) -> tuple[str, ...]:
    """The toneless syllables of ``text``: each Chinese character read in context (多音字 by
    pypinyin's phrase dictionary), each Latin word lower-cased and each digit as it is;
    punctuation, spaces and characters without a reading are dropped."""
    return tuple(unit.lower() for chunk in lazy_pinyin(text, style=Style.NORMAL)
                 for unit in _UNIT.findall(chunk))


def pair_key(a: str, b: str) -> tuple[str, str]:
    """The unordered pair ``a``, ``b`` as the cost tables key it: sorted."""
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True)
class PinyinCosts:
    """What substituting one syllable for another costs, in [0, 1].

    ``syllable(a, b) = weight_initial * initial(a', b') + weight_final * final(a'', b'')``
    over the split syllables; the weights sum to 1, so mistaking a whole syllable costs at
    most 1, what the matcher charges for inserting or deleting one, and with weights 0.5 a
    syllable whose only error is a final listed at 0.2 costs 0.1. A component pair costs 0
    when equal, its listed cost when ``initials``/``finals`` list it (keyed by ``pair_key``,
    so costs are symmetric), 1 otherwise. A word that is not pinyin costs 0 against itself
    and 1 against anything else. Results are memoised: the matcher asks in inner loops.
    """

    initials: Mapping[tuple[str, str], float] = field(default_factory=dict)
    finals: Mapping[tuple[str, str], float] = field(default_factory=dict)
    weight_initial: float = 0.5
    weight_final: float = 0.5
    _memo: dict[tuple[str, str], float] = field(default_factory=dict, init=False, repr=False,
                                                compare=False)

    def __post_init__(self) -> None:
        if abs(self.weight_initial + self.weight_final - 1.0) > 1e-9 or min(
                self.weight_initial, self.weight_final) < 0:
            raise ValueError("the weights must be >= 0 and sum to 1")
        for name in ("initials", "finals"):
            table = {pair_key(a, b): float(c) for (a, b), c in getattr(self, name).items()}
            object.__setattr__(self, name, MappingProxyType(table))

    def initial(self, a: str, b: str) -> float:
        """The cost of hearing initial ``b`` for ``a`` (``""`` the zero initial)."""
        return 0.0 if a == b else self.initials.get(pair_key(a, b), 1.0)

    def final(self, a: str, b: str) -> float:
        """The cost of hearing final ``b`` for ``a``."""
        return 0.0 if a == b else self.finals.get(pair_key(a, b), 1.0)

    def syllable(self, a: str, b: str) -> float:
        """The cost of hearing syllable ``b`` for ``a`` (see the class doc)."""
        key = pair_key(a, b)
        cost = self._memo.get(key)
        if cost is None:
            (ia, fa), (ib, fb) = split_syllable(a), split_syllable(b)
            if not fa or not fb:  # not pinyin: only equal to itself
                cost = 0.0 if ia == ib and fa == fb else 1.0
            else:
                cost = min(1.0, self.weight_initial * self.initial(ia, ib)
                           + self.weight_final * self.final(fa, fb))
            self._memo[key] = cost
        return cost
