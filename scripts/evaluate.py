"""Score the service-standard rules against the scenario set: per-rule precision, recall, timing.

Every scenario (``scenarios/rules/*.toml`` and ``scenarios/*.toml``) is synthesised into a cache
directory and replayed through the real pipeline (``monitor.pipeline.Session``, the code behind
``callmonitor replay``), with the profile of its language and the names its clips say (诚美 /
小王, Acme / Anna). Its alerts are then scored against the truth the scenario declares by
``monitor.batch.scoring``, the scoring of ``callmonitor evaluate`` (docs/evaluate.md):

- an expected alert (``expect``) is matched by an alert of the same rule (and severity, when the
  expectation names one) within ``--tolerance`` seconds; one alert matches one expectation;
- alerts of a rule the scenario expects, or lists in ``expect_none`` (a near miss), that match
  nothing are false positives;
- alerts of rules the scenario says nothing about are not scored: they are listed as unscored.

``expect_summary`` values are compared with the summary record. ``--phrases`` adds the phrase
set (``scenarios/phrases``): every family's recall and precision on its variants, insertions,
recogniser garbles and near misses (``scripts/evaluate_phrases.py`` prints the details). This is
a measurement, not a test: it exits 0 whatever the scores, and non-zero only when the pipeline
itself fails.

    .venv/bin/python scripts/evaluate.py [SCENARIO.toml ...] [--asr none] [--json] [--phrases]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from monitor.batch.scoring import DEFAULT_TOLERANCE_S, format_report, score
from monitor.errors import CallmonitorError
from testkit.phrase_set import (
    LANGUAGES,
    format_phrase_report,
    load_phrase_set,
    product_matcher,
    score_phrases,
)
from testkit.scenarios import run

CACHE_DIR = Path(__file__).resolve().parent.parent / "var" / "eval"
ASR_CHOICES = ("auto", "vosk", "whisper", "none")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", type=Path,
                        help="scenario files (default: scenarios/rules/*.toml, scenarios/*.toml)")
    parser.add_argument("--asr", choices=ASR_CHOICES, default="auto",
                        help="speech recogniser (none: timing rules only)")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE_S,
                        help="seconds an alert may be off its expected time")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR,
                        help="where the synthesised calls are kept")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--phrases", action="store_true",
                        help="also score the phrase families on the phrase set")
    args = parser.parse_args(argv)
    try:
        calls = run(args.scenarios, args.asr, args.cache)
    except CallmonitorError as exc:
        print(f"evaluate: error: {exc}", file=sys.stderr)
        return 2
    report = score(calls, args.tolerance)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(format_report(report))
    if args.phrases and not args.json:
        for language in LANGUAGES:
            phrases = score_phrases(load_phrase_set(language), product_matcher(language),
                                    language)
            print("\n" + format_phrase_report(phrases, 0.95, 0.98).split("\nmisses")[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
