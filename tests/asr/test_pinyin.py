"""Pinyin syllables, their substitution costs, and the learner that sets the costs from the
recognisers' real mistakes.

``split_syllable`` is checked against pypinyin's own strict initials and finals for every
syllable its dictionary holds; the learner's counts against a hand-garbled sentence whose
edits are known; the whole script against the real recogniser on two library clips.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pypinyin import Style
from pypinyin.pinyin_dict import pinyin_dict
from pypinyin.style import convert

from monitor.config import load_pinyin_costs
from monitor.pinyin import FINALS, INITIALS, PinyinCosts, split_syllable, syllables
from testkit.confusions import Counts, Settings, align, estimate_costs, spoken_syllables

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "learn_confusions.py"
AUDIO = REPO.parent / "shared" / "audio"
# pypinyin's strict finals spell iou, uei, uen in full; after a consonant (and here) they are
# written iu, ui, un. pypinyin gives the interjections m, n, ng, hm, hng no final; here they
# have one, so that they are pinyin and not foreign words.
WRITTEN = {"iou": "iu", "uei": "ui", "uen": "un"}
INTERJECTIONS = {"m": ("", "m"), "n": ("", "n"), "ng": ("", "ng"), "hm": ("h", "m"),
                 "hng": ("h", "ng")}


def every_syllable() -> dict[str, tuple[str, str]]:
    """Each toneless syllable of pypinyin's dictionary with pypinyin's strict split."""
    readings = {r for value in pinyin_dict.values() for r in value.split(",")}
    return {convert(r, Style.NORMAL, strict=True): (convert(r, Style.INITIALS, strict=True),
                                                    convert(r, Style.FINALS, strict=True))
            for r in readings}


def test_split_syllable_agrees_with_pypinyin_on_its_whole_dictionary() -> None:
    table = every_syllable()
    assert len(table) > 400
    for syllable, (initial, final) in table.items():
        expected = INTERJECTIONS.get(syllable, (initial, WRITTEN.get(final, final)))
        assert split_syllable(syllable) == expected, syllable
        assert expected[0] in INITIALS and expected[1] in FINALS, syllable


@pytest.mark.parametrize(("syllable", "parts"), [
    ("zhang", ("zh", "ang")), ("zang", ("z", "ang")), ("an", ("", "an")), ("e", ("", "e")),
    ("ou", ("", "ou")), ("er", ("", "er")), ("yi", ("", "i")), ("wu", ("", "u")),
    ("yu", ("", "v")), ("yue", ("", "ve")), ("yuan", ("", "van")), ("ju", ("j", "v")),
    ("qu", ("q", "v")), ("xue", ("x", "ve")), ("lv", ("l", "v")), ("lu", ("l", "u")),
    ("nve", ("n", "ve")), ("you", ("", "iu")), ("liu", ("l", "iu")), ("wei", ("", "ui")),
    ("shi", ("sh", "i")), ("ZHI", ("zh", "i")),
    ("hello", ("hello", "")), ("ok", ("ok", "")), ("8", ("8", "")),
])
def test_split_syllable_examples(syllable: str, parts: tuple[str, str]) -> None:
    assert split_syllable(syllable) == parts


def test_syllables_read_characters_in_context_and_keep_latin_words() -> None:
    assert syllables("长途") == ("chang", "tu")
    assert syllables("长大") == ("zhang", "da")
    assert syllables("您好，Hello world！OK的") == ("nin", "hao", "hello", "world", "ok", "de")
    assert spoken_syllables("号码是138。") == ("hao", "ma", "shi", "yi", "san", "ba")
    assert spoken_syllables("這個") == ("zhe", "ge")  # traditional as the recogniser wrote it


def test_costs_are_symmetric_zero_for_identity_and_one_when_unlisted() -> None:
    costs = PinyinCosts({("zh", "z"): 0.2, ("", "r"): 0.6}, {("ing", "in"): 0.4})
    assert costs.initial("z", "zh") == costs.initial("zh", "z") == 0.2
    assert costs.final("in", "ing") == costs.final("ing", "in") == 0.4
    assert costs.initial("b", "p") == costs.final("a", "o") == 1.0
    for s in ("zhang", "an", "yu", "hello"):
        assert costs.syllable(s, s) == 0.0
    assert costs.syllable("zhang", "zang") == costs.syllable("zang", "zhang") == 0.5 * 0.2
    assert costs.syllable("xin", "xing") == pytest.approx(0.5 * 0.4)
    assert costs.syllable("ran", "an") == pytest.approx(0.5 * 0.6)  # r against no initial
    assert costs.syllable("zhin", "zing") == pytest.approx(0.5 * 0.2 + 0.5 * 0.4)
    assert costs.syllable("ba", "po") == 1.0  # nothing shared: as dear as an insertion
    assert costs.syllable("hello", "world") == costs.syllable("hello", "he") == 1.0


def test_weights_must_keep_a_syllable_within_one() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        PinyinCosts(weight_initial=0.7, weight_final=0.7)
    costs = PinyinCosts(weight_initial=0.25, weight_final=0.75)
    assert costs.syllable("ba", "pa") == 0.25 and costs.syllable("ba", "bo") == 0.75


# 您好，诚美客服，请您稍等。我帮您查一下。 as a recogniser might garble it, with the edits known:
# 您 -> 你 (final in -> i), 诚 -> 陈 (eng -> en), 啊 inserted, 稍 -> 扫 (initial sh -> s),
# the second 您 dropped. Every other syllable is right.
REFERENCE = "您好，诚美客服，请您稍等。我帮您查一下。"
GARBLED = "你好，陈美客服啊，请您扫等。我帮查一下。"


def test_alignment_finds_the_known_edits() -> None:
    columns = align(spoken_syllables(REFERENCE), spoken_syllables(GARBLED))
    assert [c for c in columns if c[0] != c[1]] == [
        ("nin", "ni"), ("cheng", "chen"), (None, "a"), ("shao", "sao"), ("nin", None)]


def test_counting_the_known_edits() -> None:
    counts = Counts()
    counts.add(spoken_syllables(REFERENCE), spoken_syllables(GARBLED))
    assert (counts.ref_syllables, counts.matches, counts.substitutions, counts.deletions,
            counts.insertions) == (16, 12, 3, 1, 1)
    assert counts.positions == 15
    assert dict(counts.initials) == {("s", "sh"): 1}
    assert dict(counts.finals) == {("en", "eng"): 1, ("i", "in"): 1}
    # in: nin/ni and the kept nin; i: nin/ni and yi/yi; the dropped nin is no position
    assert (counts.final_seen["in"], counts.final_seen["i"]) == (2, 2)
    assert (counts.initial_seen["sh"], counts.initial_seen["s"]) == (1, 1)
    assert counts.initial_seen["n"] == 2

    settings = Settings()
    estimates = {e.pair: e for e in estimate_costs(counts.finals, counts.final_seen, [],
                                                   settings)}
    e = estimates[("i", "in")]
    assert (e.confused, e.opportunities) == (1, 3)
    rate = 1 / (3 + settings.k)
    expected = 1 - (1 - settings.min_cost) * min(1.0, rate / settings.saturation)
    assert e.cost == pytest.approx(expected, abs=0.005) and settings.min_cost < e.cost < 1
    known = estimate_costs(counts.initials, counts.initial_seen, [("z", "zh")], settings)
    by_pair = {e.pair: e for e in known}
    assert by_pair[("z", "zh")].cost == settings.prior_cost  # known, never seen here
    assert by_pair[("z", "zh")].confused == 0


@pytest.mark.slow
def test_the_learner_writes_a_table_that_loads_and_reruns_identically(tmp_path: Path) -> None:
    library = tmp_path / "audio"
    (library / "zh").mkdir(parents=True)
    (library / "human").mkdir()
    clips = ("a_greet_apology", "a_hold_short")
    manifest = json.loads((AUDIO / "zh" / "manifest.json").read_text("utf-8"))
    (library / "zh" / "manifest.json").write_text(json.dumps(
        {c: manifest[c] for c in clips}, ensure_ascii=False), encoding="utf-8")
    for clip in clips:
        (library / "zh" / f"{clip}.wav").symlink_to(AUDIO / "zh" / f"{clip}.wav")
    (library / "human" / "manifest.json").write_text("{}", encoding="utf-8")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    out, outputs = tmp_path / "costs.toml", []
    for _ in range(2):
        done = subprocess.run([sys.executable, str(SCRIPT), "--audio", str(library), "--out",
                               str(out)], env=env, capture_output=True, text=True, timeout=300,
                              check=False)
        assert done.returncode == 0, done.stderr
        assert "clips: 2" in done.stdout
        outputs.append(out.read_text(encoding="utf-8"))
        load_pinyin_costs(out)
    assert (tmp_path / "cache" / "callmonitor" / "confusions.json").is_file()
    assert outputs[0] == outputs[1]  # the rerun, from the cache, writes the same table
    reference = sum(len(spoken_syllables(manifest[c]["text"])) for c in clips)
    assert f"{reference} reference syllables" in outputs[0]
