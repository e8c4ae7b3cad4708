"""Find a phrase family's patterns in utterances, and where they were said, as people say them.

Greeting, apology, hold, filler, taboo and closing rules all ask the same question of an
utterance: does it hold one of these phrases, and at which words and times? A family is a few
patterns (``monitor.config.patterns``: alternatives, optional parts, bounded gaps), so natural
variants and words inserted in the middle (你[把单号]弄错了) match. Each required part is
found in the characters (English: the words) or, failing that, in what sounds nearly the same:

* Mandarin recognisers mostly fail by writing a near-homophone (诚美客服 -> 成美克服, 耐心 ->
  内心, 这 -> 就), so parts are also aligned over toneless pinyin syllables, a substitution
  costing what the recognisers' own confusions of that initial and final say
  (config/pinyin_costs.toml, learned by scripts/learn_confusions.py);
* English words that sound alike (the same Metaphone code) cost little, and a proper name may
  also be matched by its spelling (Acme -> "at me").

A chain of n units may cost at most n * ``max_cost_per_unit``; chains shorter than
``fuzzy_min_units`` match exactly only. ``exclusions`` excuse a match lying inside one of them:
a polite form never counts as the taboo it contains.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import product
from typing import Literal

import jellyfish

from monitor.config import TABOO_PREFIX, Config
from monitor.config.patterns import Chain, compile_pattern
from monitor.engine.phrase_align import approximate, letters_of, similarity, spelled_like
from monitor.engine.phrase_units import Units, pinyin, text_units, word_owners
from monitor.frames import Utterance, Word

By = Literal["chars", "pinyin", "phonetic", "spelling"]
# Rank of a match's evidence: the text beats a near-homophone, which beats a spelling.
_CHARS, _SOUND, _SPELLING = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Match:
    """One phrase found in an utterance.

    ``text`` is the span of the utterance text that matched (as written, punctuation inside it
    included), so a supervisor sees what the recogniser heard rather than the pattern searched
    for; ``start``/``end`` are the audio times of the words covering it (the utterance's own
    times when its words cannot be lined up with its text); ``by`` says whether the characters
    (English: the words) matched, or only their sound (pinyin, phonetic) or spelling did;
    ``cost`` is how far what was heard is from the pattern (0 for the exact text), to three
    decimals (a sum of costs loses its float noise: 0.1 + 0.2 is 0.3); ``units``
    the range of the text's units it covers, [first, last + 1), so matches of different
    matchers on one utterance can be told apart even where the words have no times.
    """

    phrase: str
    text: str
    start: float
    end: float
    by: By
    cost: float = 0.0
    units: tuple[int, int] = (0, 0)


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How loosely patterns match: ``[matching]`` and the learned costs, read once."""

    max_gap_units: int
    max_cost_per_unit: float
    homophone_min_units: int
    fuzzy_min_units: int
    phonetic_cost: float
    joined_spelling_similarity: float
    syllable_cost: Callable[[str, str], float]
    aliases: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def of(cls, cfg: Config) -> Tolerance:
        m = cfg.matching
        return cls(m.max_gap_units, m.max_cost_per_unit, m.homophone_min_units,
                   m.fuzzy_min_units, m.phonetic_cost, m.joined_spelling_similarity,
                   cfg.pinyin_costs.syllable, m.aliases)


@dataclass(frozen=True, slots=True)
class _Chain:
    """A compiled chain: its parts as units, the gap allowed after each, and its cost budget
    (``per_unit`` times its size; each part may spend at most its own share; None: the exact
    text only)."""

    phrase: str
    parts: tuple[tuple[str, ...], ...]
    gaps: tuple[int, ...]
    per_unit: float | None
    clause_start: bool
    clause_end: bool



@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    cost: float
    rank: int


@dataclass(frozen=True, slots=True)
class _Compiling:
    """Everything compiling a pattern into chains reads (of ``Tolerance``, only what shapes
    the chains, not the cost table): equal settings give equal chains."""

    language: str
    sound: bool
    max_gap_units: int
    max_cost_per_unit: float
    homophone_min_units: int
    fuzzy_min_units: int
    phonetic_cost: float
    aliases: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, language: str, t: Tolerance, sound: bool) -> _Compiling:
        return cls(language, sound, t.max_gap_units, t.max_cost_per_unit,
                   t.homophone_min_units, t.fuzzy_min_units, t.phonetic_cost, t.aliases)


@lru_cache(maxsize=4096)
def _compile(pattern: str, literal: bool, how: _Compiling) -> tuple[_Chain, ...]:
    """A pattern's chains, every alias spelling included. Compiled once per process for each
    pattern and settings (the key is immutable, the chains too): every session builds the same
    matchers, and compiling them cost more than a short call's whole timing analysis."""
    chains = [Chain((pattern,), ())] if literal else list(compile_pattern(pattern))
    out = []
    for chain in chains:
        for parts in _aliased([text_units(t, how.language).forms for t in chain.texts], how):
            if not all(parts):
                raise ValueError(f"pattern {pattern!r} has a part with nothing to match")
            gaps = tuple(how.max_gap_units if g is None else g for g in chain.gaps)
            out.append(_Chain(pattern, tuple(parts), gaps, _per_unit(chain, parts, how),
                              chain.clause_start, chain.clause_end))
    return tuple(out)


def _per_unit(chain: Chain, parts: tuple[tuple[str, ...], ...], how: _Compiling
              ) -> float | None:
    """What each unit of the chain may cost: near-homophones for long chains, homophones
    (English: words of one Metaphone code) for short ones and for a whole clause, None
    (the text only) for a single unit inside a clause."""
    size = sum(len(p) for p in parts)
    if not how.sound:
        return None
    if size >= how.fuzzy_min_units:
        return how.max_cost_per_unit
    if size >= how.homophone_min_units or (chain.clause_start and chain.clause_end):
        return 0.0 if how.language == "zh" else how.phonetic_cost
    return None


def _aliased(parts: list[tuple[str, ...]], how: _Compiling) -> list[tuple[tuple[str, ...], ...]]:
    """Every spelling of the parts the aliases allow ("do not" also as "don't")."""
    groups = [[text_units(a, how.language).forms for a in group] for group in how.aliases]
    return list(product(*(_alias_variants(p, groups) for p in parts)))


class PhraseMatcher:
    """Finds any of a list of patterns in utterances; built once, used on every utterance.

    ``language`` "zh" matches Mandarin by characters and pinyin; any other language (the
    profiles use "en") by words and their sound. ``literal`` takes the phrases as plain text
    (a company's or an agent's name), not patterns; ``polite`` are plain texts excusing a match
    inside them, as ``exclusions`` do. ``sound`` False matches the text only (fillers: 那个 and
    哪个 differ only in tone). ``min_spelling_similarity`` (English only;
    names, not phrases) also accepts any run of words whose letters, run together, are at least
    this similar to the phrase's (1 - edit distance / length): "at me" for Acme.
    """

    def __init__(self, patterns: Iterable[str], language: str, tolerance: Tolerance, *,
                 exclusions: Iterable[str] = (), polite: Iterable[str] = (),
                 literal: bool = False, sound: bool = True,
                 min_spelling_similarity: float | None = None) -> None:
        self._language = language
        self._tolerance = tolerance
        self._min_spelling = min_spelling_similarity if language != "zh" else None
        how = _Compiling.of(language, tolerance, sound)
        self._chains = [c for p in patterns for c in _compile(p, literal, how)]
        self._exclusions = [c for p in exclusions for c in _compile(p, literal, how)] + [
            c for p in polite for c in _compile(p, True, how)]

    def find(self, utterance: Utterance) -> list[Match]:
        """All non-overlapping matches in order of position.

        Where matches overlap, the one starting first wins, then the cheaper, then the longer,
        then the exact text over a sound-alike, then the pattern listed first: a pinyin match
        of 感谢您的来电 in 感谢您的来点 says more than the character match of 感谢 inside it.
        Matches inside an exclusion's match are dropped before that choice.
        """
        text = text_units(utterance.text, self._language)
        if not text.forms:
            return []
        heard = _Heard(text, utterance.text, self._language, self._tolerance)
        excused = [(f.start, f.end) for chain in self._exclusions for f in heard.chain(chain)]
        candidates = [(f.start, f.cost, f.start - f.end, f.rank, i)
                      for i, chain in enumerate(self._chains) for f in heard.chain(chain)
                      if not any(x0 <= f.start and f.end <= x1 for x0, x1 in excused)]
        if self._min_spelling is not None:
            candidates += self._spelled(text.forms, excused)
        candidates.sort()
        owners = word_owners(utterance, len(text.forms), self._language)
        matches, free_from = [], 0
        for start, cost, negative_size, rank, i in candidates:
            if start >= free_from:
                free_from = start - negative_size
                matches.append(_match(self._chains[i].phrase, utterance, text, owners,
                                      (start, free_from), rank, cost, self._language))
        return matches

    @property
    def chain_count(self) -> int:
        """How many chains the patterns expanded to (aliases included): what a find costs."""
        return len(self._chains) + len(self._exclusions)

    def first(self, utterance: Utterance) -> Match | None:
        """The earliest match, or None: what a rule that only asks "was it said?" needs."""
        matches = self.find(utterance)
        return matches[0] if matches else None

    def _spelled(self, forms: Sequence[str], excused: list[tuple[int, int]]
                 ) -> list[tuple[int, float, int, int, int]]:
        assert self._min_spelling is not None
        return [(start, 0.0, start - end, _SPELLING, i)
                for i, chain in enumerate(self._chains) if len(chain.parts) == 1
                for start, end in spelled_like(letters_of(chain.parts[0]), forms,
                                               self._min_spelling)
                if not any(x0 <= start and end <= x1 for x0, x1 in excused)]


def family_matcher(cfg: Config, *families: str, exclusions: Iterable[str] = (),
                   polite: Iterable[str] = ()) -> PhraseMatcher:
    """The matcher of ``[phrases."<family>"]`` (of several, as one): the patterns, excused by
    each family's ``exclude`` and ``exclusions`` (patterns), its suggestion (a polite form never
    matches its taboo) and ``polite`` (plain texts)."""
    chosen = [cfg.phrases[name] for name in families]
    excusing = [p for f in chosen for other in f.excused_by for p in cfg.phrases[other].patterns]
    return PhraseMatcher([p for f in chosen for p in f.patterns], cfg.language,
                         Tolerance.of(cfg),
                         exclusions=[*exclusions, *(p for f in chosen for p in f.exclude),
                                     *excusing],
                         polite=[*polite, *(f.suggestion for f in chosen if f.suggestion)],
                         sound=all(f.sound for f in chosen))


def taboo_matchers(cfg: Config) -> dict[str, PhraseMatcher]:
    """Each taboo family's matcher; every taboo's suggestion excuses every taboo (抱歉，这事我
    不太了解 is no 我不知道)."""
    taboos = [name for name in cfg.phrases if name.startswith(TABOO_PREFIX)]
    polite = [cfg.phrases[name].suggestion for name in taboos]
    return {name: family_matcher(cfg, name, polite=polite) for name in taboos}


def family_matchers(cfg: Config) -> dict[str, PhraseMatcher]:
    """Every family's matcher by name, as the rules build them: what an evaluation scores."""
    return {name: family_matcher(cfg, name) for name in cfg.phrases} | taboo_matchers(cfg)


class _Heard:
    """One utterance's units prepared for every chain: text, sound, and found parts (cached)."""

    def __init__(self, text: Units, said: str, language: str, tolerance: Tolerance) -> None:
        self.forms = text.forms
        self.starts, self.ends = text.clause_starts(said), text.clause_ends(said)
        self.zh = language == "zh"
        self.tolerance = tolerance
        self._parts: dict[tuple[tuple[str, ...], float | None], list[_Found]] = {}

    @cached_property
    def sound(self) -> tuple[str, ...]:
        """The heard units' toneless pinyin, which Mandarin parts are aligned over (English
        aligns the words themselves, keyed by their Metaphone code): made once per utterance, and
        only when a Mandarin part may be heard as a near-homophone."""
        return pinyin(self.forms)

    def chain(self, chain: _Chain) -> list[_Found]:
        """Where the whole chain occurs: its parts in order, each within its gap of the last,
        within the chain's budget; the cheapest way for each (start, end)."""
        runs = self.part(chain.parts[0], chain.per_unit)
        for part, gap in zip(chain.parts[1:], chain.gaps, strict=True):
            found = self.part(part, chain.per_unit)
            runs = [_Found(r.start, f.end, r.cost + f.cost, max(r.rank, f.rank))
                    for r in runs for f in found if r.end <= f.start <= r.end + gap]
        best: dict[tuple[int, int], _Found] = {}
        for r in runs:
            if (chain.clause_start and r.start not in self.starts) or (
                    chain.clause_end and r.end not in self.ends):
                continue
            if (r.start, r.end) not in best or r.cost < best[(r.start, r.end)].cost:
                best[(r.start, r.end)] = r
        return list(best.values())

    def part(self, units: tuple[str, ...], per_unit: float | None) -> list[_Found]:
        key = (units, per_unit)
        if key not in self._parts:
            self._parts[key] = self._find_part(
                units, None if per_unit is None else per_unit * len(units))
        return self._parts[key]

    def _find_part(self, units: tuple[str, ...], budget: float | None) -> list[_Found]:
        n = len(units)
        exact = [_Found(i, i + n, 0.0, _CHARS) for i in range(len(self.forms) - n + 1)
                 if self.forms[i:i + n] == units]
        if budget is None:
            return exact
        if self.zh:
            sounds = approximate(pinyin(units), self.sound, self.tolerance.syllable_cost, budget)
        else:
            sounds = approximate(units, self.forms, self._word_cost, budget, key=_metaphone,
                                 joined=self._joined_cost)
        seen = {(f.start, f.end) for f in exact}
        return exact + [_Found(s, e, c, _SOUND) for s, e, c in sounds if (s, e) not in seen]

    def _joined_cost(self, said: str, heard: str) -> float:
        """Two heard words run together ("trans fur") against one word: they must also be
        spelled nearly like it, or "who do" would be "what" (both WT)."""
        if similarity(said, heard) < self.tolerance.joined_spelling_similarity:
            return 1.0
        return self._word_cost(said, heard)

    def _word_cost(self, said: str, heard: str) -> float:
        """0 for the word, ``phonetic_cost`` for one that sounds the same (one Metaphone code),
        twice that for one whose code is one edit away (policy / polish), else 1."""
        if said == heard:
            return 0.0
        a, b = _metaphone(said), _metaphone(heard)
        if a == b:
            return self.tolerance.phonetic_cost
        if min(len(a), len(b)) >= 3 and similarity(a, b) >= 1 - 1 / max(len(a), len(b)):
            return min(1.0, 2 * self.tolerance.phonetic_cost)
        return 1.0


def _alias_variants(units: tuple[str, ...], groups: list[list[tuple[str, ...]]]
                    ) -> list[tuple[str, ...]]:
    """``units`` with every alias occurrence (the longest at a place) replaced by each
    spelling of its group."""
    for i in range(len(units)):
        found = [(len(member), member, group) for group in groups for member in group
                 if member and units[i:i + len(member)] == member]
        if found:
            size, _, group = max(found)
            rest = _alias_variants(units[i + size:], groups)
            return [units[:i] + alt + tail for alt in group for tail in rest]
    return [units]


@lru_cache(maxsize=16384)
def _metaphone(word: str) -> str:
    return str(jellyfish.metaphone(word)) or word


def _match(phrase: str, utterance: Utterance, text: Units, owners: list[Word] | None,
           span: tuple[int, int], rank: int, cost: float, language: str) -> Match:
    """A unit range as what was said and when."""
    start, end = span
    said = utterance.text[text.spans[start][0]:text.spans[end - 1][1]]
    by: By = ("chars" if rank == _CHARS else "spelling" if rank == _SPELLING
              else "pinyin" if language == "zh" else "phonetic")
    times = ((utterance.start, utterance.end) if owners is None
             else (owners[start].start, owners[end - 1].end))
    return Match(phrase, said, *times, by, round(cost, 3), span)
