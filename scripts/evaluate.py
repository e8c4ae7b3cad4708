"""Score the service-standard rules against the scenario set: per-rule precision, recall, timing.

The scenarios (``scenarios/rules/*.toml`` and ``scenarios/*.toml``) go the way a researcher's
corpus goes (docs/batch.md, docs/evaluate.md): each is synthesised into a cache directory, and
their truth is written as a labels file beside a manifest that gives each call the profile of
its language and the names its clips say (诚美 / 小王, Acme / Anna). ``callmonitor batch`` then
analyses the manifest (the pipeline of ``callmonitor replay``), and ``callmonitor evaluate``'s
scoring (``monitor.batch.evaluate``, ``monitor.batch.scoring``) prints the report:

- an expected alert (``expect``) is matched by an alert of the same rule (and severity, when the
  expectation names one) within ``--tolerance`` seconds; one alert matches one expectation;
- alerts of a rule the scenario expects, or lists in ``expect_none`` (a near miss), that match
  nothing are false positives;
- alerts of rules the scenario says nothing about are not scored: they are listed as unscored;
- what each channel says is the reference transcript: its error rate against what the
  recogniser heard (not checked with ``--asr none``).

``expect_summary`` values are compared with the ``calls`` table. ``--phrases`` adds the phrase
set (``scenarios/phrases``): every family's recall and precision on its variants, insertions,
recogniser garbles and near misses (``scripts/evaluate_phrases.py`` prints the details). This is
a measurement, not a test: it exits 0 whatever the scores, 1 when a call could not be analysed
(it is listed), 2 when the run itself cannot be made. The batch output (tables, manifest,
labels) goes to a temporary folder, or stays in ``--out DIR`` to be looked at again
(``callmonitor evaluate DIR/labels.jsonl DIR``, ``callmonitor report DIR``).

    .venv/bin/python scripts/evaluate.py [SCENARIO.toml ...] [--asr none] [--json] [--phrases]
        [--jobs N] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from monitor import cli
from monitor.batch.evaluate import evaluate
from monitor.batch.scoring import DEFAULT_TOLERANCE_S, format_report
from monitor.errors import CallmonitorError
from testkit.phrase_set import (
    LANGUAGES,
    format_phrase_report,
    load_phrase_set,
    product_matcher,
    score_phrases,
)
from testkit.scenarios import write_corpus

CACHE_DIR = Path(__file__).resolve().parent.parent / "var" / "eval"
ASR_CHOICES = ("auto", "vosk", "whisper", "none")


@contextmanager
def batch_folder(out: Path | None) -> Iterator[Path]:
    """``--out``, which must be new or empty (a run is never mixed into another), or a
    temporary folder removed afterwards."""
    if out is None:
        with tempfile.TemporaryDirectory(prefix="evaluate-") as tmp:
            yield Path(tmp)
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CallmonitorError(f"{out} is not an empty folder", "give --out a new folder")
    out.mkdir(parents=True, exist_ok=True)
    yield out


def workers(text: str) -> int:
    """``--jobs``: checked here, as ``callmonitor batch`` would refuse it only once called."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers (1 or more)")
    return int(text)


def run_batch(manifest: Path, out: Path, asr: str, jobs: int | None) -> None:
    """``callmonitor batch MANIFEST --out OUT --asr ASR [--jobs N]``, run in this process by
    the command itself; its end line goes to stderr."""
    args = ["batch", str(manifest), "--out", str(out), "--asr", asr]
    args += [] if jobs is None else ["--jobs", str(jobs)]
    try:
        code = cli.main.main(args, prog_name="callmonitor", standalone_mode=False)
    except SystemExit as done:
        code = done.code
    if code:
        raise CallmonitorError(f"callmonitor batch ended with status {code}",
                               "see the line it printed above")


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
    parser.add_argument("--jobs", type=workers, default=None,
                        help="batch worker processes (default: one per core)")
    parser.add_argument("--out", type=Path, default=None,
                        help="keep the batch output, manifest and labels in this new folder")
    args = parser.parse_args(argv)
    try:
        with batch_folder(args.out) as folder:
            manifest, labels = write_corpus(args.scenarios, args.cache, folder)
            run_batch(manifest, folder, args.asr, args.jobs)
            report = evaluate(labels, folder, args.tolerance)
    except CallmonitorError as exc:
        print(f"evaluate: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(format_report(report))
    if args.phrases and not args.json:
        for language in LANGUAGES:
            phrases = score_phrases(load_phrase_set(language), product_matcher(language),
                                    language)
            print("\n" + format_phrase_report(phrases, 0.95, 0.98).split("\nmisses")[0])
    return 1 if report.not_analysed else 0


if __name__ == "__main__":
    raise SystemExit(main())
