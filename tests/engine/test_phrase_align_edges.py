"""``phrase_align.approximate`` at its edges: each figure is an edit cost counted by hand.

The truths are the docstring's: a phrase unit heard as a sound-alike costs what ``cost`` says,
one left out or added costs 1 wherever it is (before the first heard unit too), two heard
words may stand for one (``joined``), a run needs at least half the phrase's units heard as
they are, and the result is every non-empty run ``heard[start:end]`` within the budget with the
cheapest start for its end. Units are single letters; an upper-case letter is a sound-alike of
its lower-case one (cost 0.1), any other pair is another sound.
"""

from __future__ import annotations

from monitor.engine.phrase_align import approximate


def like(said: str, heard: str) -> float:
    """0 for the unit itself, 0.1 for its upper-case sound-alike, 1 for anything else."""
    if said == heard:
        return 0.0
    return 0.1 if said.upper() == heard else 1.0


def joined_exactly(said: str, heard: str) -> float:
    """Two heard words run together stand for the unit when they spell it."""
    return 0.0 if said == heard else 1.0


def test_a_unit_left_out_before_the_first_heard_unit_costs_one():
    # Pins the first column of each row: "a b c" heard as "b c" (its "a" not heard) is the run
    # from the first heard unit, at cost 1; "b" alone or "c" alone cost 2.
    assert approximate("abc", "bc", like, 1.0) == [(0, 2, 1.0)]


def test_a_unit_left_out_in_the_middle_costs_one():
    # "a b c" heard as "a c": one unit left out, 1; "a" or "c" alone cost 2.
    assert approximate("abc", "ac", like, 1.0) == [(0, 2, 1.0)]


def test_an_extra_unit_heard_costs_one():
    # "a b c d" heard as "a b x c d": one unit added, 1; every shorter run costs 2 or more.
    assert approximate("abcd", "abxcd", like, 1.0) == [(0, 5, 1.0)]


def test_an_extra_unit_keeps_the_start_of_the_run_it_follows():
    # "a b" in "a a x b": the run ending at "b" starts at the second "a" ("a x b", cost 1),
    # not at the first ("a a x b" costs 2). Each "a" alone is "a b" with "b" left out (1).
    assert approximate("ab", "aaxb", like, 1.0) == [(0, 1, 1.0), (1, 2, 1.0), (1, 4, 1.0)]


def test_two_words_at_the_very_start_may_stand_for_one_unit():
    # Pins that joining is tried from the second heard word on: "trans fer call" is
    # "transfer call" at cost 0 (the two first words spell the first unit).
    assert approximate(["transfer", "call"], ["trans", "fer", "call"], like, 0.3,
                       joined=joined_exactly) == [(0, 3, 0.0)]


def test_a_run_needs_at_least_half_the_units_heard_as_they_are():
    # Half of the units as they are is enough: "a b" heard as "a B" (0.1).
    assert approximate("ab", "aB", like, 0.3) == [(0, 2, 0.1)]
    # One of three is not, even though the alignment "a B C" costs only 0.2.
    assert approximate("abc", "aBC", like, 0.45) == []


def test_no_empty_run_even_when_the_budget_pays_for_every_unit_left_out():
    # Budget 2 pays for leaving out both units of "a b", which a run of no heard units would
    # cost; such a run is not a run of the heard text, so nothing is reported ending at the
    # last "x" (every run there costs 3 or more). "a" is "a b" less "b" (1), "a x" is "b"
    # left out and "x" added (2).
    assert approximate("ab", "axx", like, 2.0) == [(0, 1, 1.0), (0, 2, 2.0)]
