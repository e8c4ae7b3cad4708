"""``PhraseMatcher`` at its edges: exclusions, gaps, later parts by sound, clause anchors, the
cross-family excuse of taboos and the reported cost.

The truths are the docstrings' and docs/phrases.md's: a match lying inside an exclusion's match
is dropped; ``…`` allows up to ``max_gap_units`` units; each part of a chain of n units may be
heard as a sound-alike within its share of the chain's budget, and the chain costs what its
parts cost together; ``^`` makes a match start a clause; every taboo's suggestion excuses
every taboo; the cost is reported to three decimals. English words sounding alike have one
Metaphone code: "wait" and "weight" are WT, "sorry" and "sari" SR.
"""

from __future__ import annotations

import dataclasses

import pytest

from monitor.config import load_config
from monitor.engine.phrase_match import PhraseMatcher, taboo_matchers
from monitor.frames import Utterance
from testkit.matcher_tolerance import fixed_tolerance

TOL = fixed_tolerance()


def said(text: str) -> Utterance:
    """An utterance without word times: a match takes the utterance's (0 to 1 s)."""
    return Utterance("agent", 0.0, 1.0, text)


def found(matcher: PhraseMatcher, text: str) -> list[tuple[str, str, float]]:
    return [(m.text, m.by, m.cost) for m in matcher.find(said(text))]


def test_an_exclusion_starting_where_the_match_starts_excuses_it():
    # "hold" lies inside "hold on" when both start at the same word.
    matcher = PhraseMatcher(["hold"], "en", TOL, exclusions=["hold on"])
    assert found(matcher, "Hold on please.") == []
    assert found(matcher, "Please hold.") == [("hold", "chars", 0.0)]


@pytest.mark.parametrize(("text", "matches"), [
    ("Sorry about the very long wait.", True),       # 4 words in the gap: max_gap_units
    ("Sorry about all the very long wait.", False),  # 5 words
])
def test_a_gap_holds_up_to_max_gap_units_words(text, matches):
    assert bool(found(PhraseMatcher(["sorry … wait"], "en", TOL), text)) is matches


def test_a_part_after_a_gap_may_be_a_sound_alike_and_the_parts_costs_add_up():
    # "sorry … wait" is 2 units: each may be a word of its Metaphone code (phonetic_cost 0.3,
    # within its share). The second part alone heard so costs 0.3; both parts, 0.6.
    matcher = PhraseMatcher(["sorry … wait"], "en", TOL)
    assert found(matcher, "Sorry for the weight.") == [
        ("Sorry for the weight", "phonetic", 0.3)]
    assert found(matcher, "Sari for the weight.") == [
        ("Sari for the weight", "phonetic", 0.6)]


def test_a_clause_anchored_match_is_found_after_one_that_does_not_start_a_clause():
    # The first "thanks" follows "No" in its clause; the second starts one.
    assert found(PhraseMatcher(["^thanks"], "en", TOL), "No thanks. Thanks a lot.") == [
        ("Thanks", "chars", 0.0)]


def test_every_taboos_suggestion_excuses_every_taboo():
    # A site taboo "转给前台" (sending the caller on to reception) lies inside the shipped
    # taboo.no_such_person's suggestion, which offers to do just that: not a taboo there.
    cfg = load_config("zh-CN", {"phrases": {"taboo.pass_on": {
        "suggestion": "我帮您联系负责的同事", "patterns": ["转给前台"]}}})
    pass_on = taboo_matchers(cfg)["taboo.pass_on"]
    assert cfg.phrases["taboo.no_such_person"].suggestion == (
        "抱歉，这里没有这位同事，我帮您转给前台查一下")
    assert pass_on.find(said(cfg.phrases["taboo.no_such_person"].suggestion)) == []
    assert [m.text for m in pass_on.find(said("我把你转给前台。"))] == ["转给前台"]


def test_the_cost_is_reported_to_three_decimals():
    # A site's phonetic_cost of 0.1234: "weight" for "wait" is reported as 0.123.
    tolerance = dataclasses.replace(TOL, phonetic_cost=0.1234)
    assert found(PhraseMatcher(["sorry … wait"], "en", tolerance), "Sorry for the weight") == [
        ("Sorry for the weight", "phonetic", 0.123)]
