"""The seeded WAV fuzzer (testkit/wavfuzz.py) in the suite: a few hundred mutants of real
recordings through the real ``replay`` command, in process, and a handful as real processes.
Each plays for exactly what its parts hold or is refused with one line, never a traceback;
no session is ever left ``running``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from testkit.wavfuzz import Mutant, fuzz, make_bases, replay_process, statuses

SEED = 20261205
MUTANTS = 300
SUBPROCESS_MUTANTS = 6


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Mutant]:
    try:
        return make_bases(tmp_path_factory.mktemp("bases"))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def test_mutated_wavs_play_for_what_they_hold_or_are_refused_in_one_line(
        bases: dict[str, Mutant], tmp_path: Path) -> None:
    db = tmp_path / "fuzz.sqlite3"
    tally = fuzz(bases, SEED, MUTANTS, tmp_path, db)
    assert statuses(db) == Counter({"complete": tally["played"] + tally["played, warned"]})
    # The seed reaches every outcome (a fuzzer that only ever refuses proves little).
    assert all(tally[k] >= 5 for k in ("played", "refused", "played, warned")), tally


def test_a_few_mutants_behave_the_same_as_real_processes(bases: dict[str, Mutant],
                                                         tmp_path: Path) -> None:
    db = tmp_path / "fuzz.sqlite3"
    tally = fuzz(bases, SEED + 1, SUBPROCESS_MUTANTS, tmp_path, db, replay=replay_process,
                 as_written=False)
    assert tally.total() == SUBPROCESS_MUTANTS
    assert "running" not in statuses(db)
