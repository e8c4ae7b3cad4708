"""Under mutation testing, no cached result hides a mutant of the audio analysis.

The analysis itself caches only ``tones._band_dft`` (a window and DFT matrix per setting,
which mutmut leaves unmutated, as it does every decorated function). The tests cache more:
``test_fillers.results`` (the detector's fillers on the seeded sentence set) and
``test_syllables.clip`` (each clip's nuclei), computed once and read by several tests. mutmut
runs the clean tests and forks each mutant's run from that process, so those caches would hand
every mutant's tests the unmutated code's results: a mutant of ``FillerDetector`` or
``SyllableCounter`` would survive whatever it broke. And while mutmut maps which tests reach
which code, only the first test to fill such a cache would be mapped to the analysis.

So, only under mutmut, as tests/engine/conftest.py does for the engine (the emptying is
testkit.cold_caches'): while mutmut maps the tests every test starts with the caches of
monitor.analysis and of this folder's modules empty; in a mutant's run they are emptied once,
at its start, and then fill with what the mutated code gives. Outside mutmut nothing changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.cold_caches import empty_caches, mapping_tests, mutant_run

ANALYSIS = ("monitor.analysis",)
HERE = Path(__file__).parent


@pytest.fixture(autouse=True, scope="session")
def _analysis_results_cold_for_each_mutant() -> None:
    if mutant_run():
        empty_caches(ANALYSIS, HERE)


@pytest.fixture(autouse=True)
def _analysis_results_cold_for_each_test_while_mutmut_maps_tests() -> None:
    if mapping_tests():
        empty_caches(ANALYSIS, HERE)
