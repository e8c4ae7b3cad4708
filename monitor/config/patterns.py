"""The phrase pattern syntax: what a service trainer writes in ``[phrases."<family>"]``.

A pattern is the words of a phrase with a little structure (docs/phrases.md has the examples):

* ``(a|b|c)`` one of the alternatives; an alternative may be empty: ``(的|)``;
* ``[a]`` an optional part, the same as ``(a|)``;
* ``…`` (or ``...``) a gap of up to ``[matching] max_gap_units`` units (characters or words)
  that may hold anything: ``你…弄错了`` finds 你把单号弄错了; ``…{6}`` allows up to 6;
* ``^`` at the very start, ``$`` at the very end: the match must start (end) a clause, i.e.
  the utterance or a stretch the recogniser set off by punctuation: ``^(对|好的)$`` is a
  backchannel said on its own, not the 对 of 对您来说;
* everything else is text, matched unit by unit (a Chinese character, a digit, a word).

Parts nest. A pattern is expanded here, once, into its *chains*: the texts it requires in
order with the gaps allowed between them, so the matcher never parses at run time and a
pattern that cannot work (an unclosed bracket, a gap at an end, nothing required, thousands
of expansions) is refused when the configuration loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import product

MAX_CHAINS = 256
"""More expansions than this is a pattern that should be two or three patterns."""

_GAPS = ("…", "...")


@dataclass(frozen=True, slots=True)
class Chain:
    """One expansion of a pattern: ``texts[i]`` then at most ``gaps[i]`` units then
    ``texts[i + 1]`` ...; a gap of None takes ``[matching] max_gap_units``."""

    texts: tuple[str, ...]
    gaps: tuple[int | None, ...]
    clause_start: bool = False
    clause_end: bool = False


class PatternError(ValueError):
    """A pattern that cannot be compiled; the message says where and why."""


@dataclass(frozen=True, slots=True)
class _Gap:
    most: int | None


_Token = str | _Gap


@cache
def compile_pattern(pattern: str) -> tuple[Chain, ...]:
    """Every chain ``pattern`` stands for, in the order written (first alternatives first).

    Cached: every configuration a process loads (each batch call, each test) compiles the
    same few thousand patterns, and the chains are immutable."""
    body = pattern.strip()
    clause_start, clause_end = body.startswith("^"), body.endswith("$")
    body = body.removeprefix("^").removesuffix("$")
    if body.strip().startswith(_GAPS) or body.strip().endswith(_GAPS):
        raise PatternError("a gap at the start or end adds nothing: remove the …")
    parser = _Parser(body)
    options = parser.sequence()
    if parser.pos < len(body):
        raise PatternError(f"unexpected {body[parser.pos]!r} at position {parser.pos + 1}")
    chains: dict[Chain, None] = {}  # in the order written, each once
    for tokens in options:
        chain = _chain(tokens)
        if chain is not None:
            chains[Chain(chain.texts, chain.gaps, clause_start, clause_end)] = None
    if not chains:
        raise PatternError("it matches nothing (every part is optional)")
    return tuple(chains)


class _Parser:
    """Recursive descent over the pattern; each method returns the token lists it expands to."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def sequence(self) -> list[list[_Token]]:
        options: list[list[_Token]] = [[]]
        while self.pos < len(self.text) and self.text[self.pos] not in "|)]":
            item = self._item()
            options = [a + b for a, b in product(options, item)]
            if len(options) > MAX_CHAINS:
                raise PatternError(f"it expands to more than {MAX_CHAINS} phrases; "
                                   "split it into several patterns")
        return options

    def _item(self) -> list[list[_Token]]:
        char = self.text[self.pos]
        if char in "([":
            return self._group(char)
        for gap in _GAPS:
            if self.text.startswith(gap, self.pos):
                self.pos += len(gap)
                return [[_Gap(self._bound())]]
        if char in "?*+{}^$":
            raise PatternError(f"{char!r} at position {self.pos + 1} is not pattern syntax: "
                               "write an optional part as [a], alternatives as (a|b), "
                               "^ and $ only at the ends")
        self.pos += 1
        return [[char]]

    def _group(self, opening: str) -> list[list[_Token]]:
        closing = ")" if opening == "(" else "]"
        start = self.pos
        self.pos += 1
        options = self.sequence()
        while self.pos < len(self.text) and self.text[self.pos] == "|":
            self.pos += 1
            options += self.sequence()
        if self.pos >= len(self.text) or self.text[self.pos] != closing:
            raise PatternError(f"the {opening!r} at position {start + 1} is not closed "
                               f"with {closing!r}")
        self.pos += 1
        return [*options, []] if opening == "[" else options

    def _bound(self) -> int | None:
        if not self.text.startswith("{", self.pos):
            return None
        end = self.text.find("}", self.pos)
        digits = self.text[self.pos + 1:end] if end > 0 else ""
        if not digits.isdigit() or int(digits) < 1:
            raise PatternError(f"a gap's bound at position {self.pos + 1} must be "
                               "{N} with N a whole number >= 1")
        self.pos = end + 1
        return int(digits)


def _chain(tokens: list[_Token]) -> Chain | None:
    """Join neighbouring text, merge neighbouring gaps; None when nothing is required.

    A gap left at an end by an optional part that is absent (``[请]…稍等``) is dropped: it
    would allow nothing more.
    """
    texts: list[str] = []
    gaps: list[int | None] = []
    gap: _Gap | None = None
    for token in tokens:
        if isinstance(token, _Gap):
            if texts:
                gap = token if gap is None else _Gap(_sum(gap.most, token.most))
        elif gap is None and texts:
            texts[-1] += token
        elif token.strip():
            if gap is not None:
                gaps.append(gap.most)
            texts.append(token)
            gap = None
    if not texts:
        return None
    return Chain(tuple(t.strip() for t in texts), tuple(gaps))


def _sum(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b
