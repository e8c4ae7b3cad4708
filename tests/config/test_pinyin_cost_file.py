"""The pinyin cost file: the committed table loads, and a bad one is one line naming the file,
the key and the fix, before any matcher sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import PINYIN_COSTS_PATH, load_pinyin_costs
from monitor.errors import CallmonitorError
from monitor.pinyin import FINALS, INITIALS
from testkit.confusions import KNOWN_FINALS, KNOWN_INITIALS, Settings

GOOD = 'weight_initial = 0.4\nweight_final = 0.6\n[initials]\n"z zh" = 0.25\n"- r" = 0.5\n' \
       '[finals]\n"ing in" = 0.2\n'


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "pinyin_costs.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_the_committed_table_loads_and_keeps_the_known_confusions_cheap() -> None:
    costs = load_pinyin_costs(PINYIN_COSTS_PATH)
    assert costs.weight_initial + costs.weight_final == pytest.approx(1.0)
    prior = Settings().prior_cost
    for a, b in KNOWN_INITIALS:
        assert costs.initial(a, b) == costs.initial(b, a) <= prior
    for a, b in KNOWN_FINALS:
        assert costs.final(a, b) == costs.final(b, a) <= prior
    for pair in (*costs.initials, *costs.finals):
        assert pair == tuple(sorted(pair)) and pair[0] != pair[1]
    assert set(sum(costs.initials, ())) <= set(INITIALS)
    assert set(sum(costs.finals, ())) <= set(FINALS)
    assert all(0.0 <= c < 1.0 for c in (*costs.initials.values(), *costs.finals.values()))
    header = PINYIN_COSTS_PATH.read_text(encoding="utf-8").splitlines()[:8]
    for word in ("scripts/learn_confusions.py", "models:", "faster-whisper-base", "clips:",
                 "aligned:", "date:"):
        assert any(word in line for line in header), word


def test_a_good_file_is_read_pair_by_pair(tmp_path: Path) -> None:
    costs = load_pinyin_costs(write(tmp_path, GOOD))
    assert (costs.weight_initial, costs.weight_final) == (0.4, 0.6)
    assert costs.initial("zh", "z") == 0.25
    assert costs.initial("", "r") == costs.initial("r", "") == 0.5  # "-" is the zero initial
    assert costs.final("in", "ing") == 0.2
    assert costs.syllable("zhang", "zang") == pytest.approx(0.4 * 0.25)


BAD_CASES = [
    # (case, file text, what the one error line must say)
    ("three units", GOOD + '"in ing ang" = 0.3\n', '[finals] "in ing ang": not a pair'),
    ("unknown initial", GOOD.replace('"z zh"', '"z zz"'), '[initials] "z zz": not a pair'),
    ("a final among the initials", GOOD.replace('"z zh"', '"an ang"'),
     '[initials] "an ang": not a pair'),
    ("identical pair", GOOD.replace('"z zh"', '"z z"'), '[initials] "z z": not a pair'),
    ("the pair twice", GOOD + '"in ing" = 0.3\n', '[finals] "in ing": the pair in ing is '
     "listed twice"),
    ("cost above 1", GOOD.replace("0.25", "1.5"), '[initials] "z zh" = 1.5 is not allowed; '
     "use a number in [0, 1]"),
    ("negative cost", GOOD.replace("0.2\n", "-0.1\n"), '[finals] "ing in" = -0.1'),
    ("NaN cost", GOOD.replace("0.25", "nan"), '[initials] "z zh" = nan'),
    ("cost as a string", GOOD.replace("0.25", '"low"'), '[initials] "z zh" = "low"'),
    ("weights not summing to 1", GOOD.replace("0.6", "0.7"),
     "weight_initial = 0.4 is not allowed; use weights that sum to 1"),
    ("negative weight", GOOD.replace("0.4", "-0.4").replace("0.6", "1.4"),
     "weight_initial = -0.4"),
    ("missing weight", GOOD.replace("weight_final = 0.6\n", ""), "missing key weight_final"),
    ("unknown key", "x = 1\n" + GOOD, "unknown key x"),
    ("not a table", "finals = 3\n" + GOOD.replace('[finals]\n"ing in" = 0.2\n', ""),
     "finals = 3 is not allowed"),
    ("not TOML", "weight_initial = 0.5\n[initials\n", "is not valid TOML"),
    ("not UTF-8", b"weight_initial = 0.5 # \xff\n", "is not UTF-8"),
]


@pytest.mark.parametrize(("case", "text", "expected"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_a_bad_file_is_one_line_naming_file_key_and_fix(tmp_path: Path, case: str,
                                                       text: str | bytes,
                                                       expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CallmonitorError) as info:
        load_pinyin_costs(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path)) or f"config file {path}" in message, message
    assert expected in message, message
    assert info.value.fix, message


def test_a_missing_file_says_how_to_get_it_back(tmp_path: Path) -> None:
    with pytest.raises(CallmonitorError, match=r"is missing.*learn_confusions\.py"):
        load_pinyin_costs(tmp_path / "nowhere.toml")
