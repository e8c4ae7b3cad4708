"""The mutation score of ``monitor/engine`` and ``monitor/analysis`` from the last ``mutmut run``
(``make mutants``).

Prints, per module and in a total for each of the two packages (the engine's rules and the audio
analysis are tested apart, by tests/engine and tests/audio, so one total would hide either), how
many mutants the fast tests killed out of those checked, how many are still unchecked (an
interrupted run, or one given a few mutants by name, gives a partial score, and says so), and
lists the survivors by module, so each one can be killed by a test or explained as equivalent
in docs/mutants.md.

    .venv/bin/python scripts/mutation_score.py [--mutants-dir mutants]

Reads mutmut's per-file results (``mutants/<path>.meta``); the meaning of each exit code is
mutmut's own table, so this follows the pinned version.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

KILLED = {"killed", "timeout", "caught by type check", "segfault"}
UNCHECKED = {"not checked", "check was interrupted by user"}
PACKAGES = ("monitor/engine", "monitor/analysis")
"""The mutated packages (pyproject's ``only_mutate``), each with its own total."""


def module_results(meta: Path) -> dict[str, str]:
    """Mutant name -> status, for one mutated file."""
    codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    return {name: status_by_exit_code[code] for name, code in codes.items()}


def summary(statuses: dict[str, str]) -> tuple[int, int, int]:
    """(killed, checked, unchecked) of one module's statuses."""
    counts = Counter(statuses.values())
    killed = sum(counts[s] for s in KILLED)
    unchecked = sum(counts[s] for s in UNCHECKED)
    return killed, len(statuses) - unchecked, unchecked


def score_line(name: str, killed: int, checked: int, unchecked: int) -> str:
    pct = f"{100.0 * killed / checked:5.1f} %" if checked else "    - "
    rest = f", {unchecked} not checked" if unchecked else ""
    return f"{name:<40} {pct}  ({killed}/{checked} killed{rest})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants-dir", type=Path, default=Path("mutants"))
    args = parser.parse_args()
    results: dict[str, dict[str, str]] = {}
    for package in PACKAGES:
        metas = sorted((args.mutants_dir / package).rglob("*.py.meta"))
        modules = {str(m.relative_to(args.mutants_dir))[: -len(".meta")]: module_results(m)
                   for m in metas}
        print_package(package, modules)
        results |= modules
    for module, statuses in results.items():
        survivors = sorted(n for n, s in statuses.items() if s not in KILLED | UNCHECKED)
        if survivors:
            print(f"\n{module}: {len(survivors)} not killed")
            print("\n".join(f"  {name} ({statuses[name]})" for name in survivors))


def print_package(package: str, results: dict[str, dict[str, str]]) -> None:
    """One line per module of the package that has mutants, then the package's total."""
    totals = [0, 0, 0]
    for module, statuses in results.items():
        if not statuses:
            continue
        counts = summary(statuses)
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        print(score_line(module, *counts))
    print(score_line(f"{package} (total)", *totals)
          + ("  PARTIAL: run `make mutants` again to finish" if totals[2] else ""))

if __name__ == "__main__":
    main()
