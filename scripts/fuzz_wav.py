"""The WAV fuzzer's figures: how many mutants of real recordings were replayed and what came of
them (played for exactly what they hold, played with a warning of a second ``fmt `` chunk,
refused in one line), and how long that took. Stops with the mutant's name at the first
broken promise (a traceback, a wrong duration, a session left ``running``).

    .venv/bin/python scripts/fuzz_wav.py [--mutants 300] [--seed 20261205]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from testkit.wavfuzz import fuzz, make_bases, make_mutants, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20261205)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        bases = make_bases(out)
        mutations = Counter(w for m in make_mutants(bases, args.seed, args.mutants)
                            for w in m.what)
        started = time.monotonic()
        tally = fuzz(bases, args.seed, args.mutants, out, out / "fuzz.sqlite3")
        took = time.monotonic() - started
        stored = statuses(out / "fuzz.sqlite3")
    print(f"{args.mutants} mutants of {len(bases)} real recordings (seed {args.seed}) in "
          f"{took:.1f} s")
    for outcome, n in sorted(tally.items()):
        print(f"  {outcome:<16} {n}")
    print("sessions stored: " + ", ".join(f"{s} {n}" for s, n in sorted(stored.items())))
    print("mutations applied: " + ", ".join(f"{w} {n}" for w, n in sorted(mutations.items())))


if __name__ == "__main__":
    main()
