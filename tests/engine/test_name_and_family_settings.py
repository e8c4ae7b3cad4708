"""How names and phrase families are matched, as their settings say (mutation survivors of
greeting.py and phrase_match.py, issue #16).

The truths: a company's or an agent's name is plain text, never a pattern, and may be heard
by its spelling in English only (``PhraseMatcher``: "at me" for Acme; a Mandarin name is
matched by its characters and their sound, and 科学 is not 科技); a family's ``exclude`` and
``excused_by`` excuse what lies inside them (您好像 is no greeting, 额度 no filler, the 嗯 of a
backchannel 嗯嗯 no filler), and ``sound = false`` matches the text only (哪个 is a question,
not the filler 那个). No audio, no models.
"""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.engine.core import Engine
from monitor.engine.phrase_match import family_matcher
from monitor.frames import Utterance
from testkit.engine_feed import feed, talk

ZH = load_config("zh-CN")


def greeting(language: str, company: str, agent_name: str, said: str) -> dict:
    """The summary's greeting parts of a call whose agent says ``said`` before the caller."""
    cfg = load_config(language, {"company": company, "agent_name": agent_name})
    out = feed(Engine(cfg, ("agent", "customer")),
               [*talk("agent", 1.0, 4.0, said), *talk("customer", 5.0, 6.0)], 7.0)
    return out[-1].fields["greeting"]


def test_a_name_is_plain_text_even_with_characters_of_the_pattern_syntax():
    # As a pattern, 诚美[集团] would make 集团 optional and find the company in 诚美客服.
    parts = greeting("zh-CN", "诚美[集团]", "小王", "您好，诚美客服，我是小王")
    assert (parts["company"], parts["agent_name"]) == (False, True)
    parts = greeting("zh-CN", "诚美[集团]", "小王", "您好，诚美集团，我是小王")
    assert parts["company"] is True


def test_an_english_name_is_heard_by_its_spelling():
    parts = greeting("en-US", "Acme", "Tom", "Hello, thank you for calling at me, this is Tom.")
    assert (parts["greeting"], parts["company"], parts["agent_name"]) == (True, True, True)


def test_a_mandarin_name_is_not_matched_by_spelling():
    # 诚美科学 shares three of 诚美科技's four characters (a spelling similarity of 0.75, the
    # English setting), but 科学 (kexue) does not sound like 科技 (keji): another company.
    parts = greeting("zh-CN", "诚美科技", "小王", "您好，诚美科学客服，我是小王")
    assert (parts["company"], parts["agent_name"]) == (False, True)
    assert greeting("zh-CN", "诚美科技", "小王", "您好，诚美科技客服，我是小王")["company"] is True


def found(family: str, text: str) -> list[str]:
    return [m.text for m in family_matcher(ZH, family).find(Utterance("agent", 0.0, 1.0, text))]


@pytest.mark.parametrize(("family", "text", "expected"), [
    ("greeting", "您好，诚美客服", ["您好"]),
    ("greeting", "您好像打错了", []),          # exclude: (您|你)好(像|好)
    ("greeting", "早上好不好", []),            # exclude: …好不好
    ("filler", "嗯，我看一下", ["嗯"]),
    ("filler", "嗯嗯，我明白", []),            # excused_by: backchannel 嗯嗯
    ("filler", "您的额度是五千", []),          # exclude: 额(度|外)
    ("filler", "呃，那个订单", ["呃"]),
    ("filler", "那个，", ["那个"]),
    ("filler", "哪个？", []),                  # sound = false: 哪个 only sounds like 那个
])
def test_a_familys_exclusions_and_sound_setting(family: str, text: str, expected: list[str]):
    assert found(family, text) == expected
