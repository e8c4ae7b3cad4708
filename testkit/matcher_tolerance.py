"""The phrase matcher's tolerance the matcher tests share: fixed numbers, so each test's truth
does not move when the shipped settings or the learned pinyin costs change."""

from __future__ import annotations

from collections.abc import Callable

from monitor.engine.phrase_match import Tolerance


def another_sound(said: str, heard: str) -> float:
    """Every other syllable is another sound (no learned confusion), so only the text (or an
    alias) can match a Mandarin phrase of other syllables."""
    return 0.0 if said == heard else 1.0


def fixed_tolerance(syllable_cost: Callable[[str, str], float] = another_sound) -> Tolerance:
    """Gaps of up to 4 units, 0.15 a unit, homophones from 2 units, near spellings from 3,
    0.3 for an English word heard as a sound-alike, two heard words joined at 0.6 alike."""
    return Tolerance(max_gap_units=4, max_cost_per_unit=0.15, homophone_min_units=2,
                     fuzzy_min_units=3, phonetic_cost=0.3, joined_spelling_similarity=0.6,
                     syllable_cost=syllable_cost)
