"""Under mutation testing, every engine test starts with the engine's memo caches empty.

The engine keeps a few process-wide ``functools`` caches (a pattern's compiled chains, a
word's pinyin): equal inputs give equal values, so they change no result, only what runs. But
a test that finds its chains already compiled by an earlier test never runs the compiling code
(``_per_unit``, ``_aliased``, ``_alias_variants``): mutmut records only the first test to
compile a pattern as reaching that code, and forks each mutant's run from the process that ran
the clean tests, caches warm, so a mutant there changed nothing the tests could see (all 37
phrase_match survivors of one run, docs/mutants.md). Emptied before each test, every test runs
what it needs and a mutant of cached code meets every test that reaches it. Only under mutmut
(it sets ``MUTANT_UNDER_TEST``): emptying them costs the fast tests about 20 s.
"""

from __future__ import annotations

import os
import sys

import pytest


@pytest.fixture(autouse=True)
def _engine_caches_cold_under_mutmut() -> None:
    if "MUTANT_UNDER_TEST" not in os.environ:
        return
    for name, module in list(sys.modules.items()):
        if name.startswith("monitor.engine"):
            for value in vars(module).values():
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()
