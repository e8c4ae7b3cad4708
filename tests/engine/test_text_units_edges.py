"""How English text is cut into matchable units (mutation survivors of phrase_units.py's
``text_units``, issue #16).

``text_units``' docstring: Mandarin units are simplified characters, digits as the characters
read for them and lower-cased Latin words; English units are lower-cased words with one kind
of apostrophe (a digit is a word of its own, not read as a Mandarin character), each with its
span in the original text.
"""

from __future__ import annotations

from monitor.engine.phrase_units import text_units


def test_english_units_are_lower_cased_words_with_digits_kept_as_written():
    # Pins the English path: no Mandarin reading of digits (1 stays 1), lower case, and ’
    # written as ' -- with the spans in the text as given.
    got = text_units("Press 1 for VIP, I’m here", "en")
    assert got.forms == ("press", "1", "for", "vip", "i'm", "here")
    assert got.spans == ((0, 5), (6, 7), (8, 11), (12, 15), (17, 20), (21, 25))


def test_mandarin_units_read_digits_and_lower_case_latin_words():
    # The Mandarin path for contrast (the same function): VIP lower-cased, 17951 read digit by
    # digit as 一七九五一.
    assert text_units("VIP客户17951", "zh").forms == (
        "vip", "客", "户", "一", "七", "九", "五", "一")
