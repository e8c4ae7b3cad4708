"""Finding a phrase in heard text despite the recogniser: approximate runs of units.

``approximate`` is the edit distance of a phrase against every run of the heard units (the
phrase may start anywhere: Sellers' variant of Levenshtein), with a substitution cost the
caller gives (a learned pinyin confusion, a sound-alike English word) and 1 for a unit left
out or added. ``spelled_like`` serves proper names in English, which a recogniser that does not
know them writes as common words that sound like them (Acme -> "at me").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from monitor.text import levenshtein

Cost = Callable[[str, str], float]
"""The cost of hearing the second unit where the first was said: 0 for the same, at most 1."""


def approximate(phrase: Sequence[str], heard: Sequence[str], cost: Cost, budget: float,
                key: Callable[[str], str] = str, joined: Cost | None = None
                ) -> list[tuple[int, int, float]]:
    """Every run ``heard[start:end]`` whose edit cost against ``phrase`` is within ``budget``,
    as (start, end, cost), the cheapest start for each end.

    A unit may be heard as a sound-alike (``cost`` below 1), left out or added (1 each); a unit
    heard as something of another sound is not that unit, so a long phrase cannot absorb a
    wrong word in its budget. ``joined`` (English) also lets two heard words stand for one
    ("trans fur" for transfer): it is given the phrase's unit and the two words run together.

    A run needs at least half the phrase's units heard with the same ``key`` (the unit itself,
    or how it sounds), which rules out nearly every run before the alignment is computed (this
    runs for every phrase on every utterance).
    """
    present = {key(unit) for unit in heard}
    if 2 * sum(key(unit) in present for unit in phrase) < len(phrase):
        return []
    previous = [0.0] * (len(heard) + 1)  # a match may start anywhere
    starts = list(range(len(heard) + 1))
    for i, unit in enumerate(phrase, 1):
        current, current_starts = [float(i)], [0]
        for j, said in enumerate(heard, 1):
            options = [(previous[j - 1] + _alike(cost(unit, said)), starts[j - 1]),
                       (previous[j] + 1.0, starts[j]),  # the phrase's unit was not heard
                       (current[j - 1] + 1.0, current_starts[j - 1])]  # an extra unit heard
            if joined is not None and j >= 2:
                options.append((previous[j - 2] + _alike(joined(unit, heard[j - 2] + said)),
                                starts[j - 2]))
            best = min(options)
            current.append(best[0])
            current_starts.append(best[1])
        previous, starts = current, current_starts
    return [(starts[j], j, previous[j]) for j in range(1, len(heard) + 1)
            if previous[j] <= budget + 1e-9 and starts[j] < j]


def _alike(cost: float) -> float:
    return cost if cost < 1.0 else float("inf")


def spelled_like(letters: str, forms: Sequence[str],
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
            said += letters_of(forms[end - 1:end])
            if len(said) > longest:
                break
            if similarity(said, letters) >= min_similarity:
                found.append((start, end))
    return found


def letters_of(words: Sequence[str]) -> str:
    return "".join(c for word in words for c in word if c.isalpha())


def similarity(a: str, b: str) -> float:
    """1 - Levenshtein distance / the longer length: 0.75 for "atme" against "acme"."""
    if not a or not b:
        return 0.0
    return 1.0 - levenshtein(a, b) / max(len(a), len(b))
