"""The phrase set's loader, checks and scoring, on a hand-made truth whose score is obvious,
and the shipped set against the size issue #12 asks for.

The matcher here is a plain substring test written for the test, not the product's: it is
what makes the right counts easy to see (it finds "hello" inside "Othello", and misses
"do not know"), so the scoring, not a matcher, is under test.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from testkit.phrase_set import (
    FAMILIES,
    LANGUAGES,
    NEAR_MISS,
    PhraseItem,
    PhraseSetError,
    format_phrase_report,
    load_phrase_set,
    parse_item,
    parse_items,
    score_phrases,
)

TRUTH = [
    {"text": "Hello, this is Anna.", "families": ["greeting"], "kind": "variant"},
    {"text": "I don't know.", "families": ["taboo.dont_know"], "kind": "variant"},
    {"text": "I do not know.", "families": ["taboo.dont_know"], "kind": "insertion"},
    {"text": "Hello, I don't know.", "families": ["greeting", "taboo.dont_know"],
     "kind": "garbled"},
    {"text": "If you don't know the PIN we reset it.", "families": [], "kind": NEAR_MISS,
     "near": "taboo.dont_know"},
    {"text": "Othello is on tonight.", "families": [], "kind": NEAR_MISS, "near": "greeting"},
    {"text": "Have a nice day.", "families": [], "kind": NEAR_MISS, "near": "greeting"},
]


def substring_matcher(text: str, language: str) -> set[str]:
    assert language == "en"
    found = {"greeting"} if "hello" in text.lower() else set()
    if "don't know" in text:
        found.add("taboo.dont_know")
    found.add("not.a.family")  # what the set does not know is not scored
    return found


@pytest.fixture
def report() -> Any:
    return score_phrases(parse_items(TRUTH, "truth"), substring_matcher, "en")


def test_each_family_counts_its_hits_misses_and_false_alarms(report: Any) -> None:
    greeting = report.families["greeting"]
    assert (greeting.positives, greeting.near_misses) == (2, 2)
    assert (greeting.tp, greeting.fp, greeting.fn) == (2, 1, 0)
    assert greeting.recall == 1.0 and greeting.precision == pytest.approx(2 / 3)
    dont_know = report.families["taboo.dont_know"]
    assert (dont_know.positives, dont_know.near_misses) == (3, 1)
    assert (dont_know.tp, dont_know.fp, dont_know.fn) == (2, 1, 1)
    assert dont_know.recall == pytest.approx(2 / 3) and dont_know.precision == pytest.approx(2 / 3)
    untouched = report.families["taboo.who"]
    assert (untouched.tp, untouched.fp, untouched.fn) == (0, 0, 0)
    assert untouched.recall is None and untouched.precision is None
    assert set(report.families) == set(FAMILIES)


def test_kinds_and_the_lists_of_mistakes(report: Any) -> None:
    kinds = {kind: (k.items, k.missed, k.false_alarms) for kind, k in report.kinds.items()}
    assert kinds == {"variant": (2, 0, 0), "insertion": (1, 1, 0), "garbled": (1, 0, 0),
                     NEAR_MISS: (3, 0, 2)}
    assert [(m.text, set(m.expected), set(m.got)) for m in report.misses] == [
        ("I do not know.", {"taboo.dont_know"}, set())]
    assert [(m.text, set(m.got)) for m in report.false_alarms] == [
        ("If you don't know the PIN we reset it.", {"taboo.dont_know"}),
        ("Othello is on tonight.", {"greeting"})]


def test_targets_fail_the_families_below_them_only(report: Any) -> None:
    assert report.failing(0.95, 0.98) == ["greeting", "taboo.dont_know"]
    assert report.failing(0.6, 0.6) == []
    assert report.failing(0.7, 0.6) == ["taboo.dont_know"]
    text = format_phrase_report(report, 0.95, 0.98)
    assert "greeting" in text and "FAIL" in text
    assert "I do not know." in text and "Othello is on tonight." in text
    assert "families meeting both targets: 18/20" in text


@pytest.mark.parametrize(("change", "message"), [
    ({"families": ["greeting", "hello"]}, "unknown families"),
    ({"kind": "paraphrase"}, "kind 'paraphrase'"),
    ({"text": "  "}, "`text`"),
    ({"families": ["greeting", "greeting"]}, "without repeats"),
    ({"families": []}, "at least one family"),
    ({"colour": "red"}, "unknown keys colour"),
    ({"kind": NEAR_MISS, "families": []}, "must say which family it is `near`"),
    ({"kind": NEAR_MISS, "near": "greeting"}, "cannot be near 'greeting' and contain it"),
    ({"kind": NEAR_MISS, "families": [], "near": "taboo.rude"}, "unknown families"),
])
def test_a_broken_item_is_refused_with_the_reason(change: dict[str, Any], message: str) -> None:
    raw = {"text": "Hello there.", "families": ["greeting"], "kind": "variant", **change}
    with pytest.raises(PhraseSetError, match=re.escape(message)):
        parse_item(raw, "x.toml item 1")


def test_a_near_miss_may_contain_other_families() -> None:
    item = parse_item({"text": "Good morning, how may I help you?", "families": ["greeting"],
                       "kind": NEAR_MISS, "near": "taboo.what_matter"}, "x")
    assert item == PhraseItem("Good morning, how may I help you?", frozenset({"greeting"}),
                              NEAR_MISS, "taboo.what_matter", "hand", None, "x")


def test_files_of_a_language_are_read_together_and_a_text_only_once(tmp_path: Path) -> None:
    (tmp_path / "en.toml").write_text(
        'language = "en"\nitems = [{ text = "Hello.", families = ["greeting"], '
        'kind = "variant" }]\n', encoding="utf-8")
    (tmp_path / "en.asr.toml").write_text(
        'language = "en"\nitems = [{ text = "Hollow.", families = ["greeting"], '
        'kind = "garbled", source = "espeak+whisper", said = "Hello." }]\n', encoding="utf-8")
    items = load_phrase_set("en", tmp_path)
    assert [(i.text, i.source, i.said) for i in items] == [
        ("Hello.", "hand", None), ("Hollow.", "espeak+whisper", "Hello.")]
    (tmp_path / "en.more.toml").write_text(
        'language = "en"\nitems = [{ text = "Hello.", families = ["greeting"], '
        'kind = "variant" }]\n', encoding="utf-8")
    with pytest.raises(PhraseSetError, match=re.escape("already in en.toml item 1")):
        load_phrase_set("en", tmp_path)
    (tmp_path / "zh.toml").write_text('language = "en"\nitems = []\n', encoding="utf-8")
    with pytest.raises(PhraseSetError, match=re.escape("language must be 'zh'")):
        load_phrase_set("zh", tmp_path)


@pytest.fixture(scope="module")
def shipped() -> dict[str, list[PhraseItem]]:
    return {language: load_phrase_set(language) for language in LANGUAGES}


def test_the_shipped_set_is_as_large_as_the_issue_asks(
        shipped: dict[str, list[PhraseItem]]) -> None:
    items = [i for language in LANGUAGES for i in shipped[language]]
    assert sum(i.kind != NEAR_MISS for i in items) >= 260
    assert sum(i.kind == NEAR_MISS for i in items) >= 240
    assert sum(i.kind in ("variant", "insertion", "garbled") for i in items) >= 200
    for language in LANGUAGES:
        hand = [i for i in shipped[language] if i.source == "hand"]
        positives = Counter(f for i in hand if i.kind != NEAR_MISS for f in i.families)
        near = Counter(i.near for i in hand if i.kind == NEAR_MISS)
        kinds = Counter(i.kind for i in hand)
        assert {f: positives[f] for f in FAMILIES if positives[f] < 6} == {}, language
        assert {f: near[f] for f in FAMILIES if near[f] < 5} == {}, language
        assert min(kinds[k] for k in ("variant", "insertion", "garbled")) >= 40, language


def test_recognised_items_keep_the_truth_of_the_sentence_said(
        shipped: dict[str, list[PhraseItem]]) -> None:
    for language in LANGUAGES:
        said = {i.text: i.families for i in shipped[language] if i.source == "hand"}
        for item in (i for i in shipped[language] if i.source != "hand"):
            assert item.source == "espeak+whisper" and item.kind == "garbled", item
            assert item.said in said and item.families == said[item.said], item
