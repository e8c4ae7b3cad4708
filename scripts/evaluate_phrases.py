"""Score the product's phrase families on the phrase set: per-family recall and precision.

Issue #12's target is recall >= 0.95 at precision >= 0.98 for every family. The set
(``scenarios/phrases``, see ``testkit/phrase_set.py``) is truth written apart from the phrase
lists: variants, inserted words, recogniser garbles (hand-written and Whisper's own, from
``scripts/phrase_set_asr.py``) and near misses. Each utterance is handed to every family's
matcher (``monitor.engine.phrase_match.family_matchers``, built from the profile of the set's
language) as the pipeline would: a normalised agent ``Utterance`` without word times. The
table lists each family with its positives, the near misses set for it, recall and precision;
then every miss and false alarm. This is a measurement: it exits 0 whatever the scores, 1 with
``--check`` when a family misses a target.

    .venv/bin/python scripts/evaluate_phrases.py [--language zh|en] [--json] [--check]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from monitor.config import load_config
from monitor.engine.phrase_match import family_matchers
from monitor.frames import Utterance
from monitor.text import normalize_text
from testkit.phrase_set import (
    LANGUAGES,
    Matcher,
    PhraseReport,
    format_phrase_report,
    load_phrase_set,
    score_phrases,
)

PROFILES = {"zh": "zh-CN", "en": "en-US"}
MIN_RECALL = 0.95
MIN_PRECISION = 0.98


def product_matcher(language: str) -> Matcher:
    """The product's families for ``language``, as a function of the utterance text."""
    matchers = family_matchers(load_config(PROFILES[language]))

    def match(text: str, lang: str) -> set[str]:
        utterance = Utterance("agent", 0.0, 1.0, normalize_text(text, lang))
        return {name for name, matcher in matchers.items() if matcher.find(utterance)}

    return match


def report_json(report: PhraseReport) -> dict[str, object]:
    """The report as plain data: per-family counts and ratios, kinds, mistakes."""
    families = {name: {**asdict(f), "recall": f.recall, "precision": f.precision}
                for name, f in report.families.items()}
    mistakes = {title: [{"text": m.text, "kind": m.kind, "expected": sorted(m.expected),
                         "got": sorted(m.got)} for m in errors]
                for title, errors in (("misses", report.misses),
                                      ("false_alarms", report.false_alarms))}
    return {"language": report.language, "families": families,
            "kinds": {kind: asdict(k) for kind, k in report.kinds.items()}, **mistakes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", choices=LANGUAGES, action="append",
                        help="only this language (default: all)")
    parser.add_argument("--min-recall", type=float, default=MIN_RECALL)
    parser.add_argument("--min-precision", type=float, default=MIN_PRECISION)
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a family misses a target")
    args = parser.parse_args(argv)
    reports = [score_phrases(load_phrase_set(language), product_matcher(language), language)
               for language in args.language or LANGUAGES]
    if args.json:
        print(json.dumps([report_json(r) for r in reports], ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(format_phrase_report(r, args.min_recall, args.min_precision)
                          for r in reports))
    failing = any(r.failing(args.min_recall, args.min_precision) for r in reports)
    return 1 if args.check and failing else 0


if __name__ == "__main__":
    raise SystemExit(main())
