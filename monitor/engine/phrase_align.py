"""Finding a phrase in heard text despite the recogniser: approximate runs of units.

``approximate`` is the edit distance of a phrase against every run of the heard units (the
phrase may start anywhere: Sellers' variant of Levenshtein), with a substitution cost the
caller gives (a learned pinyin confusion, a sound-alike English word) and 1 for a unit left
out or added. ``spelled_like`` serves proper names in English, which a recogniser that does not
know them writes as common words that sound like them (Acme -> "at me").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Cost = Callable[[str, str], float]
"""The cost of hearing the second unit where the first was said: 0 for the same, at most 1."""


def approximate(phrase: Sequence[str], heard: Sequence[str], cost: Cost, budget: float,
                key: Callable[[str], str] = str) -> list[tuple[int, int, float]]:
    """Every run ``heard[start:end]`` whose edit cost against ``phrase`` is within ``budget``,
    as (start, end, cost), the cheapest start for each end.

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
            options = ((previous[j - 1] + cost(unit, said), starts[j - 1]),
                       (previous[j] + 1.0, starts[j]),  # the phrase's unit was not heard
                       (current[j - 1] + 1.0, current_starts[j - 1]))  # an extra unit heard
            best = min(options)
            current.append(best[0])
            current_starts.append(best[1])
        previous, starts = current, current_starts
    return [(starts[j], j, previous[j]) for j in range(1, len(heard) + 1)
            if previous[j] <= budget + 1e-9 and starts[j] < j]


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
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return 1.0 - previous[-1] / max(len(a), len(b))
