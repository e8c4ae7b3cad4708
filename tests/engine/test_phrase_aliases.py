"""How a pattern is compiled into what it matches: alias spellings, one-word anchors, and two
heard words joined into one at the spelling threshold (``[matching]`` of the profiles).

The truths are the settings' stated meaning: "a pattern written with one [spelling of an
alias group] matches the others" (en-US.toml), so a pattern holding no alias is matched as
written; "chains shorter than homophone_min_units units match their exact text only"
(default.toml) unless they are a whole clause; two heard words stand for one when "spelled at
least this much like it" (joined_spelling_similarity). Utterances carry no words, so a match
takes the utterance's times; only what matched and how is checked.
"""

from __future__ import annotations

import dataclasses

import pytest

from monitor.engine.phrase_match import PhraseMatcher, Tolerance
from monitor.frames import Utterance
from testkit.matcher_tolerance import fixed_tolerance

PLAIN = fixed_tolerance()
ALIASED = dataclasses.replace(PLAIN, aliases=(
    ("do not", "don't", "dont"), ("do not know", "don't know", "dunno"),
    ("you are", "you're"), ("we are", "we're")))


def found(pattern: str, language: str, text: str,
          tolerance: Tolerance = ALIASED) -> list[tuple[str, str]]:
    """(text, by) of each match of ``pattern`` in an utterance saying ``text``."""
    matcher = PhraseMatcher([pattern], language, tolerance)
    return [(m.text, m.by) for m in matcher.find(Utterance("agent", 0.0, 1.0, text))]


def chains(pattern: str, language: str = "en", tolerance: Tolerance = ALIASED) -> int:
    return PhraseMatcher([pattern], language, tolerance).chain_count


@pytest.mark.parametrize("said", ["I do not agree", "I don't agree", "I dont agree"])
@pytest.mark.parametrize("pattern", ["i do not agree", "i don't agree", "i dont agree"])
def test_a_pattern_matches_every_spelling_of_its_alias_by_the_text(pattern, said):
    assert chains(pattern) == 3
    assert found(pattern, "en", said) == [(said, "chars")]


def test_without_the_alias_a_contraction_is_not_the_words():
    # The alias does the work: "dont" is one word for the pattern's two.
    assert found("i do not agree", "en", "I dont agree", PLAIN) == []
    assert chains("i do not agree", tolerance=PLAIN) == 1


def test_the_longest_alias_at_a_place_is_the_one_spelled_out():
    # "do not know" (3 words) wins over the "do not" it starts with: "dunno" is only its
    # spelling.
    assert chains("i do not know") == 3
    assert found("i do not know", "en", "Well, I dunno.") == [("I dunno", "chars")]


@pytest.mark.parametrize("said", ["We're sorry you're waiting", "We are sorry you're waiting",
                                  "We're sorry you are waiting"])
def test_each_alias_of_a_pattern_is_spelled_either_way_with_the_words_around_it(said):
    assert chains("we are sorry you are waiting") == 4
    assert found("we are sorry you are waiting", "en", f"Oh, {said}.") == [(said, "chars")]


def test_a_pattern_holding_no_alias_is_matched_as_written():
    assert chains("please hold the line") == 1
    assert found("please hold the line", "en", "Please hold the line.") == [
        ("Please hold the line", "chars")]
    assert found("please hold the line", "en", "Do not hold the line.") == []


def test_mandarin_aliases_are_cut_into_characters_like_the_pattern():
    # 请稍候 says what 请稍等 says; hou is no sound of deng, so only the alias matches it.
    polite = dataclasses.replace(PLAIN, aliases=(("稍等", "稍候"),))
    assert found("请稍等", "zh", "好的，请稍候。", PLAIN) == []
    assert found("请稍等", "zh", "好的，请稍候。", polite) == [("请稍候", "chars")]
    assert chains("请稍等", "zh", polite) == 2


@pytest.mark.parametrize(("pattern", "said"), [
    ("^hi", "High time we talked."),  # hi / high: H
    ("right$", "Let me write"),       # right / write: RT
])
def test_one_word_anchored_at_one_end_only_matches_its_text(pattern, said):
    # One word inside a clause has too many sound-alikes: only the text matches it ...
    assert found(pattern, "en", said) == []
    # ... but a whole clause of one word may be a homophone.
    whole = f"^{pattern.strip('^$')}$"
    heard = said.split()[0] if pattern.startswith("^") else said.split()[-1]
    assert found(whole, "en", f"{heard}.") == [(heard, "phonetic")]


def test_two_heard_words_join_when_spelled_exactly_as_alike_as_required():
    # "trans fur" against "transfer": one edit in eight letters, similarity exactly 0.875.
    said = "I will trans fur you now"
    at_limit = dataclasses.replace(PLAIN, joined_spelling_similarity=0.875)
    assert found("i will transfer you", "en", said, at_limit) == [
        ("I will trans fur you", "phonetic")]
    above = dataclasses.replace(PLAIN, joined_spelling_similarity=0.876)
    assert found("i will transfer you", "en", said, above) == []
