"""Under mutation testing, the engine's memo caches never hide a mutant.

The engine keeps a few process-wide ``functools`` caches (a pattern's compiled chains, a
word's pinyin): equal inputs give equal values, so they change no result, only what runs. But
mutmut forks each mutant's run from the process that ran the clean tests, caches warm, so a
mutant of the compiling code (``_per_unit``, ``_aliased``, ``_alias_variants``) changed nothing
the tests could see (all 37 phrase_match survivors of one run, docs/mutants.md); and while
mutmut maps which tests reach which code, a test that finds its chains compiled by an earlier
test is not mapped to the compiling code at all.

So, only under mutmut (it names what runs in ``MUTANT_UNDER_TEST``): while it maps ("stats"),
every test starts with the caches empty; in a mutant's run they are emptied once, at the
start, and then fill with what the mutated code gives. Emptying before every test in plain
runs would cost the fast tests about 20 s. The emptying is testkit.cold_caches', shared with
tests/audio.
"""

from __future__ import annotations

import pytest

from testkit.cold_caches import empty_caches, mapping_tests, mutant_run

ENGINE = ("monitor.engine",)


@pytest.fixture(autouse=True, scope="session")
def _engine_caches_cold_for_each_mutant() -> None:
    if mutant_run():
        empty_caches(ENGINE)


@pytest.fixture(autouse=True)
def _engine_caches_cold_for_each_test_while_mutmut_maps_tests() -> None:
    if mapping_tests():
        empty_caches(ENGINE)
