"""Phrase matching on utterances built the way the recognisers build them, with real pypinyin.

Mandarin utterances carry one word per character or digit (``word_units``), punctuation only in
the text, so every expected time below is ``T0 + STEP * index of the spoken unit``.
"""

from __future__ import annotations

import dataclasses

import pytest

from monitor.config import load_config
from monitor.engine.phrase_align import spelled_like
from monitor.engine.phrase_match import Match, PhraseMatcher, family_matchers
from monitor.frames import Utterance
from monitor.pinyin import PinyinCosts
from monitor.text import count_units, word_units
from testkit.matcher_tolerance import fixed_tolerance

T0, STEP = 10.0, 0.25
# Known costs, so each test's truth does not move when the learned table is regenerated: the
# confusions Mandarin speakers and recognisers are known for, 0.3 each (0.15 a syllable).
COSTS = PinyinCosts({("z", "zh"): 0.3, ("c", "ch"): 0.3, ("s", "sh"): 0.3, ("l", "n"): 0.3},
                    {("an", "ang"): 0.3, ("en", "eng"): 0.3, ("in", "ing"): 0.3}, 0.5, 0.5)
TOL = fixed_tolerance(COSTS.syllable)


def pm(patterns: list[str], language: str, **options: object) -> PhraseMatcher:
    return PhraseMatcher(patterns, language, TOL, **options)  # type: ignore[arg-type]  # options as PhraseMatcher takes them


def zh(text: str) -> Utterance:
    """A Mandarin utterance: one word per spoken unit, STEP seconds each, from T0."""
    end = T0 + STEP * count_units(text, "zh")
    return Utterance("agent", T0, end, text, tuple(word_units(text, T0, end, 0.9, "zh")))


def en(text: str) -> Utterance:
    """An English utterance: one word per space-separated recogniser word, STEP seconds each."""
    words = [w for i, token in enumerate(text.split())
             for w in word_units(token, T0 + STEP * i, T0 + STEP * (i + 1), 0.9, "en")]
    return Utterance("agent", T0, T0 + STEP * len(text.split()), text, tuple(words))


def at(first: int, last: int) -> tuple[object, object]:
    """Audio times of spoken units first..last (inclusive), compared approximately."""
    return pytest.approx(T0 + STEP * first), pytest.approx(T0 + STEP * (last + 1))


def found(matcher: PhraseMatcher, utterance: Utterance) -> list[tuple[str, str, str]]:
    return [(m.phrase, m.text, m.by) for m in matcher.find(utterance)]


def test_match_is_an_immutable_record():
    m = Match("话费", "花费", 1.0, 1.5, "pinyin")
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.text = "话费"  # type: ignore[misc]
    assert not hasattr(m, "__dict__")


def test_company_name_misrecognised_as_homophones_is_found_by_pinyin_with_word_times():
    m = pm(["诚美客服"], "zh").first(zh("您好，成美克服，我是小李。"))
    assert m is not None
    assert (m.phrase, m.text, m.by) == ("诚美客服", "成美克服", "pinyin")
    assert (m.start, m.end) == at(2, 5)


def test_thanks_for_calling_survives_a_homophone_of_laidian():
    m = pm(["感谢您的来电"], "zh").first(zh("感谢您的来点，再见"))
    assert m is not None and (m.text, m.by) == ("感谢您的来点", "pinyin")
    assert (m.start, m.end) == at(0, 5)


@pytest.mark.parametrize(("phrase", "said"), [("话费", "花费"), ("花费", "话费")])
def test_hua_fei_matches_either_way(phrase, said):
    m = pm([phrase], "zh").first(zh(f"您这个月的{said}是三十元"))
    assert m is not None and (m.text, m.by) == (said, "pinyin")
    assert (m.start, m.end) == at(5, 6)


def test_same_characters_are_a_character_match_not_a_pinyin_one():
    matcher = pm(["花费", "话费"], "zh")
    assert found(matcher, zh("您的话费")) == [("话费", "话费", "chars")]


def test_taboo_opening_found_in_characters_and_the_polite_form_is_not_it():
    matcher = pm(["你找谁"], "zh")
    m = matcher.first(zh("喂，你找谁呀？"))
    assert m is not None and (m.text, m.by) == ("你找谁", "chars")
    assert (m.start, m.end) == at(1, 3)
    assert matcher.find(zh("请问您找哪位？")) == []


def test_i_dont_know_is_not_found_in_its_polite_alternative():
    matcher = pm(["我不知道"], "zh")
    assert found(matcher, zh("这个我不知道啊")) == [("我不知道", "我不知道", "chars")]
    assert matcher.find(zh("抱歉，这事我不太了解")) == []


def test_exclusion_excuses_the_taboo_inside_the_polite_phrase_only():
    taboo = pm(["有什么事"], "zh", exclusions=["请问有什么事可以帮您"])
    assert found(taboo, zh("你是谁？有什么事？")) == [("有什么事", "有什么事", "chars")]
    assert taboo.find(zh("您好，请问有什么事可以帮您？")) == []
    # Without the exclusion the polite phrase does contain the taboo.
    assert found(pm(["有什么事"], "zh"), zh("请问有什么事可以帮您")) == [
        ("有什么事", "有什么事", "chars")]
    # The same utterance can hold both: only the match outside the polite phrase is reported.
    [m] = taboo.find(zh("请问有什么事可以帮您？有什么事快说"))
    assert (m.text, m.by) == ("有什么事", "chars")
    assert (m.start, m.end) == at(10, 13)


def test_exclusion_applies_to_pinyin_matches_and_is_itself_matched_by_pinyin():
    # 事 written as 是 (both shi): the taboo matches by pinyin, and so does the exclusion.
    said = zh("请问有什么是可以帮您")
    assert found(pm(["有什么事"], "zh"), said) == [("有什么事", "有什么是", "pinyin")]
    assert pm(["有什么事"], "zh", exclusions=["请问有什么事可以帮您"]).find(said) == []


def test_traditional_and_simplified_characters_match_each_other():
    simplified = pm(["让您久等了"], "zh")
    traditional = pm(["讓您久等了"], "zh")
    for matcher in (simplified, traditional):
        m = matcher.first(zh("对不起，让您久等了"))
        assert m is not None and (m.text, m.by) == ("让您久等了", "chars")
        assert (m.start, m.end) == at(3, 7)
    m = simplified.first(zh("對不起，讓您久等了"))  # Whisper writing traditional characters
    assert m is not None and (m.text, m.by) == ("讓您久等了", "chars")
    assert (m.start, m.end) == at(3, 7)


@pytest.mark.parametrize(("phrase", "said", "text"), [
    ("17951", "请拨打一七九五一。", "一七九五一"),
    ("一七九五一", "请拨打17951。", "17951"),
])
def test_digits_match_the_characters_read_for_them(phrase, said, text):
    m = pm([phrase], "zh").first(zh(said))
    assert m is not None and (m.text, m.by) == (text, "chars")
    assert (m.start, m.end) == at(3, 7)


def test_latin_word_inside_mandarin_is_one_unit_and_one_word():
    m = pm(["VIP客户"], "zh").first(zh("您是vip客户吗"))
    assert m is not None and (m.text, m.by) == ("vip客户", "chars")
    assert (m.start, m.end) == at(2, 4)
    assert pm(["IP客户"], "zh").find(zh("您是VIP客户吗")) == []


def test_match_text_keeps_the_punctuation_it_spans_and_times_cover_its_words():
    m = pm(["您好诚美"], "zh").first(zh("您好，诚美客服"))
    assert m is not None and m.text == "您好，诚美"
    assert (m.start, m.end) == at(0, 3)


def test_english_phrase_is_a_word_sequence():
    matcher = pm(["anything else", "um"], "en")
    m = matcher.first(en("Is there anything else I can help you with?"))
    assert m is not None and (m.phrase, m.text, m.by) == ("anything else", "anything else", "chars")
    assert (m.start, m.end) == at(2, 3)
    assert matcher.find(en("I left my umbrella in the car")) == []
    [m] = matcher.find(en("Um, let me check."))
    assert (m.phrase, m.text) == ("um", "Um")
    assert (m.start, m.end) == at(0, 0)
    assert found(pm(["Sorry to keep you waiting"], "en"),
                 en("So sorry, to keep you waiting!")) == [
        ("Sorry to keep you waiting", "sorry, to keep you waiting", "chars")]


def test_english_apostrophes_and_words_holding_two_units():
    assert found(pm(["I don't know"], "en"), en("Well I don’t know.")) == [
        ("I don't know", "I don’t know", "chars")]
    # "well-known" is one recogniser word holding two units: times stay on the right words.
    m = pm(["known company"], "en").first(en("a well-known company indeed"))
    assert m is not None and m.text == "known company"
    assert (m.start, m.end) == at(1, 2)


def test_english_names_match_words_spelled_like_them_only_when_asked():
    acme = pm(["Acme"], "en", min_spelling_similarity=0.75)
    m = acme.first(en("Thank you for calling at me support"))
    assert m is not None and (m.text, m.by) == ("at me", "spelling")
    assert (m.start, m.end) == at(4, 5)
    # An exact spelling is still a word match, and wins over the looser reading around it.
    assert found(acme, en("calling Acme support")) == [("Acme", "Acme", "chars")]
    assert acme.find(en("Thank you for calling, this is Anna")) == []
    assert pm(["Acme"], "en").find(en("calling at me support")) == []
    # Two-word names tolerate a word split or merged by the recogniser, not unrelated words.
    north = pm(["Northwind Telecom"], "en", min_spelling_similarity=0.75)
    assert found(north, en("calling North wind tele com")) == [
        ("Northwind Telecom", "North wind tele com", "spelling")]
    assert north.find(en("calling the billing team")) == []


def test_words_spelled_at_the_longest_a_similar_spelling_allows_still_match():
    # "acme" at 0.8: up to 4 / 0.8 = 5 letters may be similar enough, and "acmex" (one letter
    # more, similarity 1 - 1/5 = 0.8) is exactly that; six letters never are.
    assert (0, 2) in spelled_like("acme", ["ac", "mex"], 0.8)
    assert spelled_like("acme", ["ac", "mexy"], 0.8) == []


def test_spelling_similarity_never_applies_to_mandarin():
    assert pm(["诚美"], "zh", min_spelling_similarity=0.5).find(zh("成都")) == []


def test_pinyin_never_matches_inside_or_across_syllables():
    assert pm(["西安"], "zh").find(zh("先生")) == []  # xi an is not xian
    assert pm(["先生"], "zh").find(zh("西安")) == []
    assert pm(["西安市"], "zh").find(zh("先是")) == []
    assert pm(["我不知道"], "zh").find(zh("我知道了")) == []  # a syllable left out costs 1


def test_single_syllables_match_by_characters_only():
    fillers = pm(["唔", "啊"], "zh")
    assert fillers.find(zh("感谢您对我们服务的支持，号码是五五五")) == []  # 务, 五: wu
    assert found(fillers, zh("唔，这个啊")) == [("唔", "唔", "chars"), ("啊", "啊", "chars")]
    assert pm(["安"], "zh").find(zh("按一下")) == []


@pytest.mark.parametrize(("phrase", "said"), [
    ("你找谁", "你早谁"),        # zh / z
    ("查询一下", "擦询一下"),    # ch / c
    ("请稍等", "请骚等"),        # sh / s
    ("您好吗", "林好吗"),        # n / l
    ("帮您查", "班您查"),        # an / ang
    ("很好的", "横好的"),        # en / eng
    ("您好吗", "宁好吗"),        # in / ing
])
def test_known_confusions_match_phrases_of_three_syllables_or_more(phrase, said):
    m = pm([phrase], "zh").first(zh(said))
    assert m is not None and (m.phrase, m.text, m.by) == (phrase, said, "pinyin")
    assert m.cost == pytest.approx(0.15)
    assert (m.start, m.end) == at(0, len(said) - 1)


def test_two_syllables_match_homophones_but_not_confusions():
    assert found(pm(["是的"], "zh"), zh("好，市的")) == [("是的", "市的", "pinyin")]
    assert pm(["是的"], "zh").find(zh("公司的")) == []  # si is not shi for two syllables
    assert pm(["诚美"], "zh").find(zh("真美")) == []  # zhen is not cheng


def test_confusions_add_up_within_the_budget_only():
    # Two cheap confusions (0.3) fit in a six-syllable phrase (0.9), three unlisted ones do not.
    assert found(pm(["感谢您的耐心"], "zh"), zh("感谢宁的耐新")) == [
        ("感谢您的耐心", "感谢宁的耐新", "pinyin")]
    assert pm(["感谢您的耐心"], "zh").find(zh("感谢您的来电")) == []


def test_polyphones_are_read_in_context():
    # 行 alone reads xing and 重 zhong; in 银行 and 重新 they read hang and chong.
    assert found(pm(["银行卡"], "zh"), zh("您的银航卡")) == [
        ("银行卡", "银航卡", "pinyin")]
    assert found(pm(["重新"], "zh"), zh("我虫新查一下")) == [("重新", "虫新", "pinyin")]


def test_overlaps_prefer_the_earliest_then_longest_then_characters():
    matcher = pm(["久等", "让您久等了", "对不起", "不起"], "zh")
    assert found(matcher, zh("对不起，让您久等了")) == [
        ("对不起", "对不起", "chars"), ("让您久等了", "让您久等了", "chars")]
    # A longer pinyin match beats the shorter character match it contains.
    thanks = pm(["感谢", "感谢您的来电"], "zh")
    assert found(thanks, zh("感谢您的来点")) == [("感谢您的来电", "感谢您的来点", "pinyin")]


def test_all_matches_in_order_of_position():
    matcher = pm(["稍等", "您好", "诚美客服"], "zh")
    matches = matcher.find(zh("您好，成美克服，请稍等，您好"))
    assert [(m.phrase, m.text) for m in matches] == [
        ("您好", "您好"), ("诚美客服", "成美克服"), ("稍等", "稍等"), ("您好", "您好")]
    assert [m.start for m in matches] == [at(i, i)[0] for i in (0, 2, 7, 9)]
    assert matcher.first(zh("您好，成美克服")) == matches[0]
    assert matcher.first(zh("再见")) is None


def test_without_usable_words_a_match_takes_the_utterance_times():
    matcher = pm(["你找谁"], "zh")
    bare = Utterance("agent", 3.0, 5.0, "喂，你找谁呀？")
    assert [(m.text, m.start, m.end) for m in matcher.find(bare)] == [("你找谁", 3.0, 5.0)]
    # Words that do not line up with the text (one missing) cannot place the match either.
    short = dataclasses.replace(zh("喂，你找谁呀？"), words=zh("喂，你找谁呀？").words[:-1])
    [m] = matcher.find(short)
    assert (m.start, m.end) == (short.start, short.end)


def test_empty_utterances_and_phrases():
    assert pm(["您好"], "zh").find(Utterance("agent", 0.0, 1.0, "")) == []
    assert pm(["您好"], "zh").find(zh("。。。")) == []
    with pytest.raises(ValueError, match="nothing to match"):
        pm(["您好", "，。"], "zh")
    with pytest.raises(ValueError, match="gap at the start"):
        pm(["hello"], "en", exclusions=["..."])


def test_a_long_utterance_with_many_phrases():
    phrases = ["您好", "诚美客服", "我是", "对不起", "让您久等了", "请稍等", "感谢您的耐心等待",
               "还有什么可以帮您", "感谢您的来电", "你弄错了", "这不关我的事", "我不知道",
               "这是我们公司的规定", "你找谁", "有什么事", "没这个人", "是的", "我明白",
               "话费", "唔"]
    matcher = pm(phrases, "zh", exclusions=["请问有什么事可以帮您"])
    utterance = zh("您好，成美克服，我是小李，请问有什么事可以帮您？"
                   "您的花费是一三八元，号码是一三八，请稍等一下")
    assert count_units(utterance.text, "zh") == 40
    matches = matcher.find(utterance)
    assert [(m.phrase, m.by) for m in matches] == [
        ("您好", "chars"), ("诚美客服", "pinyin"), ("我是", "chars"), ("话费", "pinyin"),
        ("请稍等", "chars")]


@pytest.mark.parametrize(("profile", "said", "families"), [
    ("zh-CN", "你肯定弄混了。", {"taboo.blame"}),
    ("zh-CN", "就不关我的事", {"taboo.not_responsible"}),
    ("zh-CN", "感谢您内心的等待", {"hold.thanks"}),
    ("zh-CN", "请您稍等，我帮您查询一下。", {"hold.announce"}),
    ("zh-CN", "抱歉，这事我不太了解，我帮您转给相关的同事。", {"hold.transfer"}),
    ("zh-CN", "请问有什么事可以帮您？", set()),
    ("zh-CN", "感谢您的来电，祝您生活愉快，再见。", {"closing.thanks", "closing.goodbye"}),
    ("en-US", "Well I dunno.", {"taboo.dont_know"}),
    ("en-US", "May I ask who is calling?", set()),
    ("en-US", "We've always done it this way.", {"taboo.always_done"}),
])
def test_the_profiles_families_find_what_was_meant(profile, said, families):
    matchers = family_matchers(load_config(profile))
    utterance = (zh if profile == "zh-CN" else en)(said)
    assert {name for name, m in matchers.items() if m.find(utterance)} == families


def test_clause_anchors_need_the_punctuation_the_recogniser_wrote():
    alone = pm(["^(对|好的)$"], "zh")
    assert found(alone, zh("对，您说得没错")) == [("^(对|好的)$", "对", "chars")]
    assert found(alone, zh("嗯，好的。")) == [("^(对|好的)$", "好的", "chars")]
    assert alone.find(zh("这个套餐对您来说很划算")) == []
    assert alone.find(zh("好的套餐")) == []
    # A whole clause may be a homophone even of one syllable: 位 for 喂, "write" for "right".
    assert found(pm(["^喂$"], "zh"), zh("位，说话")) == [("^喂$", "位", "pinyin")]
    assert found(pm(["^right$"], "en"), en("Write, I understand.")) == [
        ("^right$", "Write", "phonetic")]
    assert pm(["^right$"], "en").find(en("You have the right to cancel")) == []


def test_without_sound_only_the_text_matches():
    assert pm(["那个"], "zh", sound=False).find(zh("你到底是哪个")) == []
    assert pm(["那个"], "zh").first(zh("你到底是哪个")) is not None


def test_a_long_phrase_cannot_absorb_a_word_of_another_sound():
    # 自 and 某 share no learned confusion: a substitution is only ever a sound-alike, and
    # leaving one out and adding the other (2) is over the budget (7 x 0.15).
    assert pm(["这是您自己的错"], "zh").find(zh("这是您某己的错")) == []
    assert found(pm(["这是您自己的错"], "zh"), zh("这是您自己的措")) == [
        ("这是您自己的错", "这是您自己的措", "pinyin")]


def test_english_words_split_by_the_recogniser_are_joined_when_spelled_alike():
    assert found(pm(["i will transfer you"], "en"), en("I will trans fur you now")) == [
        ("i will transfer you", "I will trans fur you", "phonetic")]
    # "who do" sounds like "what" (WT) but is not spelled like it.
    assert pm(["what do you want"], "en").find(en("who do you want")) == []


@pytest.mark.parametrize(("phrase", "said"), [
    ("please read our policy", "please read our polish"),  # PLS / PLX: 3 letters, 1 edit
    ("we cannot refund this order", "we cannot refine this order"),  # RFNT / RFN
])
def test_an_english_word_whose_sound_code_is_one_edit_away_costs_twice_a_homophone(phrase,
                                                                                   said):
    # Metaphone codes of 3 letters or more, one edit apart: 2 x phonetic_cost (here exactly
    # the budget of these phrases, max_cost_per_unit a word).
    [m] = pm([phrase], "en").find(en(said))
    assert (m.text, m.by) == (said, "phonetic")
    assert m.cost == pytest.approx(2 * TOL.phonetic_cost)


def test_an_english_word_whose_sound_code_is_two_edits_away_is_another_word():
    # account / amount: AKKNT / AMNT, two edits in five: a different word, no match.
    assert pm(["please cancel my account now"], "en").find(
        en("please cancel my amount now")) == []


def test_a_name_spelled_alike_is_excused_only_inside_an_exclusion():
    # "at me" spelled like Acme is a spelling match (free: the spelling threshold is the
    # whole test); an exclusion covering exactly those words excuses it, one elsewhere does
    # not.
    said = en("Thank you for calling at me support")
    [m] = pm(["Acme"], "en", min_spelling_similarity=0.75).find(said)
    assert (m.text, m.by, m.cost) == ("at me", "spelling", 0.0)
    assert pm(["Acme"], "en", min_spelling_similarity=0.75, exclusions=["at me"]).find(said) == []
    assert found(pm(["Acme"], "en", min_spelling_similarity=0.75, exclusions=["thank you"]),
                 said) == [("Acme", "at me", "spelling")]


def test_matchers_of_other_settings_match_by_their_own_settings():
    # Chains are compiled once per process for each pattern and settings: a matcher of the
    # same pattern built after one of other settings must not take that one's chains.
    heard = zh("我想擦询话费余额")  # 擦 for 查: c for ch, 0.15 (a near-homophone)
    strict = dataclasses.replace(TOL, max_cost_per_unit=0.0)  # homophones only
    assert PhraseMatcher(["查询话费余额"], "zh", strict).find(heard) == []
    assert found(pm(["查询话费余额"], "zh"), heard) == [("查询话费余额", "擦询话费余额", "pinyin")]
    assert PhraseMatcher(["查询话费余额"], "zh", strict).find(heard) == []
