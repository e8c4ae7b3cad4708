"""Scoring calls' alerts against their labels: per-rule precision, recall and timing, and the
transcripts' error rate.

- an expected alert (``expect``) is matched by an alert of the same rule (and severity, when the
  expectation names one) within the tolerance; one alert matches one expectation;
- alerts of a rule the labels expect, or list in ``expect_none`` (a near miss: the rule must
  not fire), that match nothing are false positives;
- alerts of rules the labels say nothing about are not scored: they are listed as unscored;
- a rule the call did not check (its summary's ``rules_skipped``: no words with ``--asr none``)
  is not scored either, neither missed nor passed: it is listed as not checked;
- a reference transcript (``transcripts``, per channel) is compared with what the recogniser
  heard on that channel (``monitor.text.error_counts``: characters for Mandarin, words
  otherwise); a call analysed without recognition has nothing to compare, so it is not checked.

``expect_summary`` values are compared with the summary record. ``callmonitor evaluate``
(``monitor.batch.evaluate``) prints the report for researchers' labels against a batch output;
``scripts/evaluate.py`` prints it for the scenario set, and the scenario tests assert on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.text import error_counts

DEFAULT_TOLERANCE_S = 0.5
"""How far (seconds) an alert may be off its expected time: ``--tolerance``'s default."""


@dataclass(frozen=True)
class Call:
    """One analysed call: its labels, the alerts the pipeline raised, and its summary.

    ``truth`` is in the layout of a scenario's truth: ``expect``, ``expect_none``,
    ``expect_summary``, optional ``transcripts`` (channel -> reference text) and
    ``duration_s``. ``heard`` is what the recogniser wrote per channel, None when the call was
    analysed without recognition; ``language`` says how its transcripts are compared.
    """

    name: str
    truth: dict[str, Any]
    alerts: list[dict[str, Any]]
    summary: dict[str, Any]
    elapsed_s: float = 0.0  # analysis time, so slow calls show up where the suite runs them
    language: str = "zh"
    heard: dict[str, str] | None = None


@dataclass
class RuleScore:
    """The tally of one rule over every call that scores it."""

    rule: str
    calls: int = 0
    near_misses: int = 0
    expected: int = 0
    found: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors: list[float] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """The table row; ratios are None where nothing could be counted."""
        return {
            "rule": self.rule, "calls": self.calls, "near_misses": self.near_misses,
            "expected": self.expected, "found": self.found,
            "tp": self.tp, "fp": self.fp, "fn": self.fn,
            "precision": _ratio(self.tp, self.tp + self.fp),
            "recall": _ratio(self.tp, self.tp + self.fn),
            "mean_abs_err_s": _mean(self.errors),
            "max_abs_err_s": round(max(self.errors), 3) if self.errors else None,
        }


@dataclass
class Report:
    """Everything the evaluation found, in the layout ``--json`` prints."""

    tolerance_s: float
    rules: dict[str, RuleScore]
    misses: list[dict[str, Any]] = field(default_factory=list)
    unscored: list[dict[str, Any]] = field(default_factory=list)
    not_checked: list[dict[str, Any]] = field(default_factory=list)
    summary_checks: list[dict[str, Any]] = field(default_factory=list)
    transcripts: list[dict[str, Any]] = field(default_factory=list)
    not_analysed: list[dict[str, Any]] = field(default_factory=list)
    runtime: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"tolerance_s": self.tolerance_s,
                "rules": [self.rules[r].row() for r in sorted(self.rules)],
                "misses": self.misses, "unscored": self.unscored,
                "not_checked": self.not_checked,
                "summary_checks": self.summary_checks,
                "transcripts": self.transcripts,
                "error_rates": error_rates(self.transcripts),
                "not_analysed": self.not_analysed, "runtime": self.runtime}


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 3) if den else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


# --------------------------------------------------------------------------- scoring


def match_alerts(expected: Sequence[dict[str, Any]], alerts: Sequence[dict[str, Any]],
                 tolerance_s: float) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]],
                                              list[dict[str, Any]], list[dict[str, Any]]]:
    """Pair one rule's expectations with its alerts: (pairs, missed, unmatched alerts).

    Expectations in time order each take the earliest unmatched alert that is within the
    tolerance of their time, or of their window [earliest, t] (and of the expected severity,
    if one is given). With equal windows this greedy
    order pairs as many as any matching can, and no alert ever counts twice.
    """
    free = sorted(alerts, key=lambda a: a["t"])
    pairs, missed = [], []
    for exp in sorted(expected, key=lambda e: e["t"]):
        earliest = exp.get("earliest", exp["t"])
        hit = next((a for a in free if earliest - tolerance_s - 1e-9 <= a["t"]
                    <= exp["t"] + tolerance_s + 1e-9
                    and exp.get("severity") in (None, a.get("severity"))), None)
        if hit is None:
            missed.append(exp)
        else:
            free.remove(hit)
            pairs.append((exp, hit))
    return pairs, missed, free


def score(calls: Iterable[Call], tolerance_s: float = DEFAULT_TOLERANCE_S) -> Report:
    """Score every call's alerts against its truth (see the module doc for the rules)."""
    calls = list(calls)
    report = Report(tolerance_s, {}, runtime={
        "calls": len(calls),
        "audio_s": round(sum(c.truth["duration_s"] for c in calls), 1),
        "elapsed_s": round(sum(c.elapsed_s for c in calls), 1)})
    for call in calls:
        expect = call.truth.get("expect", [])
        near = set(call.truth.get("expect_none", []))
        named = {e["rule"] for e in expect} | near
        skipped = named & {s["rule"] for s in call.summary.get("rules_skipped") or []}
        scored = named - skipped
        report.not_checked += [{"call": call.name, "rule": r} for r in sorted(skipped)]
        for rule in sorted(scored):
            _score_rule(report, call, rule, rule in near, tolerance_s)
        _note_unscored(report, call, scored)
        _check_summary(report, call)
        _score_transcripts(report, call)
    return report


def _score_rule(report: Report, call: Call, rule: str, near_miss: bool,
                tolerance_s: float) -> None:
    tally = report.rules.setdefault(rule, RuleScore(rule))
    expected = [e for e in call.truth.get("expect", []) if e["rule"] == rule]
    alerts = [a for a in call.alerts if a["rule"] == rule]
    pairs, missed, extra = match_alerts(expected, alerts, tolerance_s)
    tally.calls += 1
    tally.near_misses += near_miss
    tally.expected += len(expected)
    tally.found += len(alerts)
    tally.tp += len(pairs)
    tally.fn += len(missed)
    tally.fp += len(extra)
    tally.errors += [abs(a["t"] - e["t"]) for e, a in pairs]
    found = [_when(a) for a in alerts]
    for exp in missed:
        report.misses.append({"call": call.name, "rule": rule, "kind": "missed",
                              "t": exp["t"], "severity": exp.get("severity"), "found": found})
    for alert in extra:
        report.misses.append({"call": call.name, "rule": rule, "kind": "false alarm",
                              "t": alert["t"], "severity": alert.get("severity"),
                              "expected": [_when(e) for e in expected]})


def _note_unscored(report: Report, call: Call, scored: set[str]) -> None:
    counts = Counter(a["rule"] for a in call.alerts if a["rule"] not in scored)
    for rule, n in sorted(counts.items()):
        report.unscored.append({"call": call.name, "rule": rule, "count": n})


def _check_summary(report: Report, call: Call) -> None:
    for key, want in call.truth.get("expect_summary", {}).items():
        got = call.summary.get(key)
        report.summary_checks.append({"call": call.name, "key": key, "expected": want,
                                      "got": got, "ok": got == want})


def _score_transcripts(report: Report, call: Call) -> None:
    """Each reference transcript against what was heard on its channel (the utterances in
    time order); without recognition the transcripts are listed as not checked."""
    for channel, reference in sorted(call.truth.get("transcripts", {}).items()):
        if call.heard is None:
            report.not_checked.append({"call": call.name, "transcript": channel})
            continue
        edits, units = error_counts(reference, call.heard.get(channel, ""), call.language)
        report.transcripts.append({"call": call.name, "channel": channel,
                                   "language": call.language, "edits": edits,
                                   "units": units, "error_rate": _ratio(edits, units)})


def error_rates(transcripts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Corpus error rates per language and channel, and per language over both channels:
    edits summed over reference units summed (long utterances weigh what they should).
    Languages are never pooled: a character error rate and a word error rate do not add up."""
    totals: dict[tuple[str, str], list[int]] = {}
    for row in transcripts:
        for channel in (row["channel"], "overall"):
            tally = totals.setdefault((row["language"], channel), [0, 0, 0])
            tally[0] += row["edits"]
            tally[1] += row["units"]
            tally[2] += 1
    return [{"language": lang, "channel": channel, "edits": e, "units": n, "transcripts": k,
             "error_rate": _ratio(e, n)}
            for (lang, channel), (e, n, k) in sorted(totals.items())]


def _when(record: dict[str, Any]) -> str:
    severity = record.get("severity")
    return f"{record['t']:.2f}" + (f" ({severity})" if severity else "")


# --------------------------------------------------------------------------- text


_COLUMNS = (("rule", "{:<20}"), ("calls", "{:>5}"), ("near", "{:>4}"), ("expected", "{:>8}"),
            ("found", "{:>5}"), ("tp", "{:>3}"), ("fp", "{:>3}"), ("fn", "{:>3}"),
            ("precision", "{:>9}"), ("recall", "{:>6}"), ("mean|err|", "{:>9}"),
            ("max|err|", "{:>8}"))


def format_report(report: Report) -> str:
    """The per-rule table, every miss, the unscored alerts, the summary checks, the
    transcripts' error rates and the labelled calls that could not be scored."""
    lines = [f"rules scored within {report.tolerance_s:g} s "
             "(calls: labelled calls that score the rule, near: of them near misses)", ""]
    lines.append("  ".join(fmt.format(name) for name, fmt in _COLUMNS))
    for rule in sorted(report.rules):
        row = report.rules[rule].row()
        values = (row["rule"], row["calls"], row["near_misses"], row["expected"], row["found"],
                  row["tp"], row["fp"], row["fn"], _num(row["precision"]), _num(row["recall"]),
                  _num(row["mean_abs_err_s"]), _num(row["max_abs_err_s"]))
        lines.append("  ".join(fmt.format(v) for (_, fmt), v in zip(_COLUMNS, values,
                                                                    strict=True)))
    lines += ["", f"misses ({len(report.misses)}):"]
    lines += [_miss_line(m) for m in report.misses] or ["  none"]
    lines += ["", "unscored alerts (rules the labels say nothing about):"]
    lines += [f"  {u['call']:<24} {u['rule']:<20} x{u['count']}"
              for u in report.unscored] or ["  none"]
    rules = sum("rule" in n for n in report.not_checked)
    if rules:
        lines += ["", f"not checked (the call's rules_skipped), not scored: {rules} rules"]
    if len(report.not_checked) > rules:
        lines += ["", "transcripts not checked (the call was analysed without recognition): "
                      f"{len(report.not_checked) - rules}"]
    ok = sum(c["ok"] for c in report.summary_checks)
    lines += ["", f"summary checks: {ok}/{len(report.summary_checks)} as expected"]
    lines += [f"  {c['call']:<24} {c['key']:<20} expected {c['expected']!r}, "
              f"got {c['got']!r}" for c in report.summary_checks if not c["ok"]]
    lines += _transcript_lines(report) + _not_analysed_lines(report)
    run = report.runtime
    lines += ["", f"replayed {run['calls']} calls ({run['audio_s']:g} s of audio) "
                  f"in {run['elapsed_s']:g} s"]
    return "\n".join(lines)


def _transcript_lines(report: Report) -> list[str]:
    if not report.transcripts:
        return []
    lines = ["", "transcripts: error rate (characters for zh, words otherwise)"]
    for row in error_rates(report.transcripts):
        unit = "characters" if row["language"] == "zh" else "words"
        lines.append(f"  {row['language']:<3} {row['channel']:<9} {_num(row['error_rate']):>5}"
                     f"  ({row['edits']}/{row['units']} {unit}, {row['transcripts']} "
                     "transcripts)")
    return lines


def _not_analysed_lines(report: Report) -> list[str]:
    """Labelled calls the batch output does not have, or has only as failed: never dropped
    without a word, since they change what the figures above cover."""
    if not report.not_analysed:
        return []
    lines = ["", f"labelled calls not scored ({len(report.not_analysed)}):"]
    for row in report.not_analysed:
        why = row["status"] + (f": {row['error']}" if row.get("error") else "")
        lines.append(f"  {row['call']:<24} {why}")
    return lines


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _miss_line(miss: dict[str, Any]) -> str:
    when = _when(miss)
    if miss["kind"] == "missed":
        found = ", ".join(miss["found"]) or "nothing"
        return (f"  missed       {miss['call']:<24} {miss['rule']:<20} expected at {when}; "
                f"found {found}")
    expected = ", ".join(miss["expected"]) or "none (near miss)"
    return (f"  false alarm  {miss['call']:<24} {miss['rule']:<20} at {when}; "
            f"expected {expected}")
