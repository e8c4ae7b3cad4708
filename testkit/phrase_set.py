"""The phrase evaluation set (``scenarios/phrases``): load it, check it, score a matcher on it.

Issue #12 asks how well the phrase families are found in what agents really say: natural
paraphrases, words inserted inside a phrase, recogniser garbles, and not in near misses (the
polite alternative of a taboo, innocent look-alikes). The set is truth written apart from the
product's phrase lists, one TOML file per language (``zh.toml``, ``en.toml``) plus generated
files beside them (``zh.asr.toml``: recognised speech, ``scripts/phrase_set_asr.py``).

Every item says which families it truly contains, so one scoring covers positives and near
misses alike: for each family, an item that contains it and is found is a true positive, one
that is not found a miss, and any item found to contain a family it does not is a false alarm.
A near miss names the family it resembles (``near``), so each family's table row also says how
many traps it was set.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testkit.synth import SCENARIOS_DIR

PHRASES_DIR = SCENARIOS_DIR / "phrases"
LANGUAGES = ("zh", "en")
FAMILIES = (
    "greeting", "bad_opening", "apology", "hold.announce", "hold.transfer", "hold.thanks",
    "closing.ask_more", "closing.thanks", "closing.goodbye", "backchannel", "filler",
    "taboo.blame", "taboo.not_responsible", "taboo.company_rules", "taboo.dont_know",
    "taboo.always_done", "taboo.your_business", "taboo.who", "taboo.what_matter",
    "taboo.no_such_person",
)
KINDS = ("variant", "insertion", "garbled", "near_miss")
NEAR_MISS = "near_miss"
_ITEM_KEYS = {"text", "families", "kind", "near", "source", "said"}

Matcher = Callable[[str, str], set[str]]
"""``match(text, language)``: the families a matcher finds in one utterance."""


class PhraseSetError(ValueError):
    """The set breaks its own rules (unknown family or kind, a near miss without ``near`` ...)."""


@dataclass(frozen=True, slots=True)
class PhraseItem:
    """One utterance and the truth about it.

    ``source`` is where the text comes from ("hand", or "espeak+whisper" for recognised
    speech); ``said`` is, for recognised speech, the sentence that was synthesised.
    """

    text: str
    families: frozenset[str]
    kind: str
    near: str | None = None
    source: str = "hand"
    said: str | None = None
    origin: str = ""


def phrase_files(language: str, directory: Path = PHRASES_DIR) -> list[Path]:
    """The files of one language: the hand-written one first, then generated ones."""
    if language not in LANGUAGES:
        raise PhraseSetError(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}")
    return sorted(directory.glob(f"{language}.toml")) + sorted(directory.glob(f"{language}.*.toml"))


def load_phrase_set(language: str, directory: Path = PHRASES_DIR) -> list[PhraseItem]:
    """Every item of ``language``, checked; fails loudly on the first broken rule."""
    files = phrase_files(language, directory)
    if not files:
        raise PhraseSetError(f"no phrase set for {language!r} in {directory}")
    items: list[PhraseItem] = []
    for path in files:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        if raw.get("language") != language:
            raise PhraseSetError(f"{path.name}: language must be {language!r}")
        items += parse_items(raw.get("items", []), path.name)
    check_unique(items)
    return items


def parse_items(raw: list[Any], origin: str) -> list[PhraseItem]:
    """Items from their TOML tables, each checked (``origin`` names the file in errors)."""
    if not isinstance(raw, list) or not raw:
        raise PhraseSetError(f"{origin}: `items` must be a non-empty list")
    return [parse_item(entry, f"{origin} item {i + 1}") for i, entry in enumerate(raw)]


def parse_item(raw: Any, where: str) -> PhraseItem:
    """One item, checked: known keys, families and kind; a near miss names what it is near."""
    if not isinstance(raw, dict):
        raise PhraseSetError(f"{where}: an item must be a table")
    unknown = set(raw) - _ITEM_KEYS
    if unknown:
        raise PhraseSetError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    text, kind, near = raw.get("text"), raw.get("kind"), raw.get("near")
    families = raw.get("families")
    if not isinstance(text, str) or not text.strip():
        raise PhraseSetError(f"{where}: `text` must be a non-empty string")
    if kind not in KINDS:
        raise PhraseSetError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if not isinstance(families, list) or len(set(families)) != len(families):
        raise PhraseSetError(f"{where}: `families` must be a list without repeats")
    _check_families(where, [*families, *([near] if near is not None else [])])
    if kind == NEAR_MISS and near is None:
        raise PhraseSetError(f"{where}: a near miss must say which family it is `near`")
    if kind != NEAR_MISS and not families:
        raise PhraseSetError(f"{where}: a {kind} item must contain at least one family")
    if near is not None and near in families:
        raise PhraseSetError(f"{where}: it cannot be near {near!r} and contain it")
    return PhraseItem(text, frozenset(families), kind, near, str(raw.get("source", "hand")),
                      raw.get("said"), where)


def _check_families(where: str, names: Iterable[Any]) -> None:
    unknown = [name for name in names if name not in FAMILIES]
    if unknown:
        raise PhraseSetError(f"{where}: unknown families {', '.join(map(repr, unknown))}")


def check_unique(items: Iterable[PhraseItem]) -> None:
    """The same text twice would be scored twice: refuse it."""
    seen: dict[str, str] = {}
    for item in items:
        if item.text in seen:
            raise PhraseSetError(f"{item.origin}: the text {item.text!r} is already in "
                                 f"{seen[item.text]}")
        seen[item.text] = item.origin


@dataclass(slots=True)
class FamilyScore:
    """One family's counts over the whole set; ``near_misses`` are the traps set for it."""

    family: str
    positives: int = 0
    near_misses: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def recall(self) -> float | None:
        """Share of the items that contain the family in which it was found (None: none do)."""
        return self.tp / self.positives if self.positives else None

    @property
    def precision(self) -> float | None:
        """Share of the findings that were right (None: the family was never found)."""
        found = self.tp + self.fp
        return self.tp / found if found else None


@dataclass(slots=True)
class KindScore:
    """Per kind of item: how many, how many had a family missed, how many a false alarm."""

    items: int = 0
    missed: int = 0
    false_alarms: int = 0


@dataclass(frozen=True, slots=True)
class Mistake:
    """An item the matcher got wrong: what it should have found and what it found."""

    text: str
    kind: str
    expected: frozenset[str]
    got: frozenset[str]


@dataclass(slots=True)
class PhraseReport:
    """The score of one matcher on one language's set."""

    language: str
    families: dict[str, FamilyScore]
    kinds: dict[str, KindScore]
    misses: list[Mistake] = field(default_factory=list)
    false_alarms: list[Mistake] = field(default_factory=list)

    def failing(self, min_recall: float, min_precision: float) -> list[str]:
        """Families below either target (a family never found has no precision: it fails
        only on recall)."""
        return [name for name, f in self.families.items()
                if (f.recall is not None and f.recall < min_recall)
                or (f.precision is not None and f.precision < min_precision)]


def score_phrases(items: Iterable[PhraseItem], match: Matcher, language: str) -> PhraseReport:
    """Run ``match`` over every item and count, per family and per kind, what it got right.

    Families the matcher reports that the set does not know are ignored: the set scores its
    own twenty families only.
    """
    report = PhraseReport(language, {name: FamilyScore(name) for name in FAMILIES},
                          {kind: KindScore() for kind in KINDS})
    for item in items:
        got = frozenset(match(item.text, language)) & frozenset(FAMILIES)
        _count(report, item, got)
    return report


def _count(report: PhraseReport, item: PhraseItem, got: frozenset[str]) -> None:
    for name in item.families:
        report.families[name].positives += 1
    if item.near is not None:
        report.families[item.near].near_misses += 1
    for name in item.families & got:
        report.families[name].tp += 1
    for name in item.families - got:
        report.families[name].fn += 1
    for name in got - item.families:
        report.families[name].fp += 1
    kind = report.kinds[item.kind]
    kind.items += 1
    error = Mistake(item.text, item.kind, item.families, got)
    if item.families - got:
        kind.missed += 1
        report.misses.append(error)
    if got - item.families:
        kind.false_alarms += 1
        report.false_alarms.append(error)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_phrase_report(report: PhraseReport, min_recall: float, min_precision: float) -> str:
    """The per-family table, the per-kind counts and every miss and false alarm, as text."""
    failing = set(report.failing(min_recall, min_precision))
    lines = [f"phrase set {report.language}: recall >= {min_recall}, precision >= "
             f"{min_precision}",
             f"{'family':24} {'pos':>4} {'near':>4} {'tp':>4} {'fp':>4} {'fn':>4} "
             f"{'recall':>7} {'precision':>9}"]
    for f in report.families.values():
        mark = "  FAIL" if f.family in failing else ""
        lines.append(f"{f.family:24} {f.positives:4d} {f.near_misses:4d} {f.tp:4d} {f.fp:4d} "
                     f"{f.fn:4d} {_ratio(f.recall):>7} {_ratio(f.precision):>9}{mark}")
    lines.append(f"families meeting both targets: {len(report.families) - len(failing)}"
                 f"/{len(report.families)}")
    lines += [f"kind {kind:10} items {k.items:4d}  missed {k.missed:4d}  false alarms "
              f"{k.false_alarms:4d}" for kind, k in report.kinds.items()]
    lines += _errors("misses", report.misses) + _errors("false alarms", report.false_alarms)
    return "\n".join(lines)


def _errors(title: str, errors: list[Mistake]) -> list[str]:
    out = [f"{title} ({len(errors)}):"]
    out += [f"  [{e.kind}] {e.text}  expected {sorted(e.expected)} got {sorted(e.got)}"
            for e in errors]
    return out
