"""The ``synth_call`` fixture: scenario calls with exact ground truth, built once per session.

Imported into conftest.py with ``from fixtures_synth import *``; only the fixture is exported.
Tests that need the synthesiser module itself import ``synth_calls`` from here, because
``scripts/`` is not a package and must be put on ``sys.path`` first.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

SCRIPTS_DIR = Path(__file__).resolve().parent.parent / "scripts"
if str(SCRIPTS_DIR) not in sys.path:
    sys.path.insert(0, str(SCRIPTS_DIR))

import synth_calls  # noqa: E402 - needs scripts/ on sys.path

__all__ = ["synth_call"]


@pytest.fixture(scope="session")
def synth_call(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], synth_calls.SynthResult]:
    """``synth_call("demo_call")`` -> SynthResult for ``scenarios/demo_call.toml``.

    Each scenario is synthesised at most once per session, so every test of the pipeline can
    ask for the calls it needs without paying for them twice.
    """
    out_dir = tmp_path_factory.mktemp("synth_calls")
    built: dict[str, synth_calls.SynthResult] = {}

    def build(name: str) -> synth_calls.SynthResult:
        if name not in built:
            built[name] = synth_calls.synthesize_file(
                synth_calls.SCENARIOS_DIR / f"{name}.toml", out_dir)
        return built[name]

    return build
