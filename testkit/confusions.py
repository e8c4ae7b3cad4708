"""Learning pinyin confusion costs from what the recognisers wrote for known texts.

``scripts/learn_confusions.py`` recognises the clip library and hands the (reference,
hypothesis) syllable sequences here: each pair is aligned syllable by syllable (plain
Levenshtein, every edit costing 1), every aligned pair of pinyin syllables (a match or a
substitution) is one *position*, and at each position the initials and the finals of the two
sides are compared. That gives, for every unit ``a`` (an initial or a final), ``seen[a]``:
the positions where ``a`` is on either side, and for every unordered pair ``{a, b}``,
``n_ab``: the positions where one side has ``a`` and the other ``b``.

Costs (``estimate_costs``): the positions that could show the confusion are those holding
``a`` or ``b``, ``N_ab = seen[a] + seen[b] - n_ab``. The confusion rate is smoothed towards
0 with ``k`` pseudo-positions, ``rate = n_ab / (N_ab + k)``, so one confusion of a rare unit
is not taken for a habit, and mapped onto a cost that falls linearly from 1 (never confused)
to ``min_cost`` at ``saturation`` (a pair confused at that rate or more is as cheap as
anything gets; no pair is free, or the matcher could not tell 四 from 十). The defaults fit
a library of about a thousand syllables recognised with a syllable error rate near 7 %: a
pair confused in a tenth of the positions that could show it is as strong a habit as a
recogniser has, and with ``k = 20`` one confusion among twenty positions costs about 0.8,
five among a hundred about 0.6:

    cost = 1 - (1 - min_cost) * min(1, rate / saturation)

The library is clean synthetic and read speech, which cannot show what a caller with a
southern accent does to zh/z or n/l, so the confusions Mandarin speakers and recognisers are
known to make (``KNOWN_INITIALS``, ``KNOWN_FINALS``) never cost more than ``prior_cost``:
``cost = min(cost, prior_cost)``. Only pairs that come out below 1 are written.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from monitor.config.pinyin_costs import ZERO_INITIAL
from monitor.pinyin import pair_key, split_syllable, syllables
from monitor.text import comparable, normalize_text

KNOWN_INITIALS = (("z", "zh"), ("c", "ch"), ("s", "sh"), ("l", "n"), ("f", "h"), ("l", "r"))
"""Initials Mandarin speakers merge (southern accents: flat and retroflex, n/l, f/h, r/l)."""
KNOWN_FINALS = (("an", "ang"), ("en", "eng"), ("in", "ing"), ("ian", "iang"), ("uan", "uang"))
"""Finals told apart only by the nasal coda (-n / -ng)."""

_DIGIT = re.compile("[0-9]")

Aligned = tuple[str | None, str | None]
"""One column of an alignment: (reference, hypothesis), None on the side that has nothing."""


@dataclass(frozen=True, slots=True)
class Settings:
    """How counts become costs (see the module doc)."""

    k: float = 20.0
    saturation: float = 0.1
    min_cost: float = 0.1
    prior_cost: float = 0.3


@dataclass
class Counts:
    """What the alignments showed; ``add`` one (reference, hypothesis) pair at a time."""

    ref_syllables: int = 0
    matches: int = 0
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    positions: int = 0
    """Aligned pairs of two pinyin syllables: where initials and finals were compared."""
    initials: Counter[tuple[str, str]] = field(default_factory=Counter)
    finals: Counter[tuple[str, str]] = field(default_factory=Counter)
    initial_seen: Counter[str] = field(default_factory=Counter)
    final_seen: Counter[str] = field(default_factory=Counter)

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    def add(self, ref: Sequence[str], hyp: Sequence[str]) -> None:
        self.ref_syllables += len(ref)
        for r, h in align(ref, hyp):
            if r is None:
                self.insertions += 1
            elif h is None:
                self.deletions += 1
            else:
                self.matches += r == h
                self.substitutions += r != h
                self._compare(r, h)

    def _compare(self, r: str, h: str) -> None:
        (ri, rf), (hi, hf) = split_syllable(r), split_syllable(h)
        if not rf or not hf:  # a Latin word or a digit: no initial or final to compare
            return
        self.positions += 1
        for a, b, pairs, seen in ((ri, hi, self.initials, self.initial_seen),
                                  (rf, hf, self.finals, self.final_seen)):
            seen.update({a, b})
            if a != b:
                pairs[pair_key(a, b)] += 1


def spoken_syllables(text: str) -> tuple[str, ...]:
    """The syllables of ``text`` as they are said, reference or recognised alike: written as
    the recognisers' output is (``normalize_text``), each digit read as its character
    (138 -> yi san ba, as the error rates count it); characters stay together, so each is
    read in its context."""
    spelled = _DIGIT.sub(lambda m: comparable(m.group(), "zh"), normalize_text(text, "zh"))
    return syllables(spelled)


def align(ref: Sequence[str], hyp: Sequence[str]) -> list[Aligned]:
    """A minimal-edit alignment of two syllable sequences (substitution, insertion and
    deletion each cost 1); of equal alignments the one preferring a substitution, then a
    deletion, is taken, so the result is the same on every run."""
    rows = [list(range(len(hyp) + 1))]
    for i, r in enumerate(ref, 1):
        row = [i]
        for j, h in enumerate(hyp, 1):
            row.append(min(rows[i - 1][j - 1] + (r != h), rows[i - 1][j] + 1, row[j - 1] + 1))
        rows.append(row)
    out: list[Aligned] = []
    i, j = len(ref), len(hyp)
    while i or j:
        if i and j and rows[i][j] == rows[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            i, j = i - 1, j - 1
            out.append((ref[i], hyp[j]))
        elif i and rows[i][j] == rows[i - 1][j] + 1:
            i -= 1
            out.append((ref[i], None))
        else:
            j -= 1
            out.append((None, hyp[j]))
    return out[::-1]


@dataclass(frozen=True, slots=True)
class Estimate:
    """The cost of one pair and the evidence behind it."""

    pair: tuple[str, str]
    confused: int
    """n_ab: positions where one side had a, the other b."""
    opportunities: int
    """N_ab: positions holding a or b."""
    cost: float
    known: bool


def estimate_costs(pairs: Counter[tuple[str, str]], seen: Counter[str],
                   known: Iterable[tuple[str, str]], settings: Settings) -> list[Estimate]:
    """Every pair confused or known, with its cost (module doc), cheapest first."""
    known_pairs = {pair_key(a, b) for a, b in known}
    out = []
    for pair in sorted(set(pairs) | known_pairs):
        n = pairs[pair]
        opportunities = seen[pair[0]] + seen[pair[1]] - n
        rate = n / (opportunities + settings.k)
        cost = 1.0 - (1.0 - settings.min_cost) * min(1.0, rate / settings.saturation)
        if pair in known_pairs:
            cost = min(cost, settings.prior_cost)
        out.append(Estimate(pair, n, opportunities, round(cost, 2), pair in known_pairs))
    return sorted(out, key=lambda e: (e.cost, -e.confused, e.pair))


def render_toml(header: Sequence[str], initials: Sequence[Estimate],
                finals: Sequence[Estimate], weights: tuple[float, float]) -> str:
    """The cost file: ``header`` as comments, the weights, then every pair below cost 1 by
    name (zero initial written ``-``), each with its evidence as a comment."""
    lines = [f"# {line}".rstrip() for line in header]
    lines += ["", f"weight_initial = {weights[0]}", f"weight_final = {weights[1]}"]
    for name, estimates in (("initials", initials), ("finals", finals)):
        lines += ["", f"[{name}]"]
        for e in sorted(estimates, key=lambda e: e.pair):
            if e.cost < 1.0:
                key = " ".join(u or ZERO_INITIAL for u in e.pair)
                note = f"confused {e.confused} of {e.opportunities}" + (
                    ", known confusion" if e.known else "")
                lines.append(f'"{key}" = {e.cost}  # {note}')
    return "\n".join(lines) + "\n"
