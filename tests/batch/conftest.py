"""The batch tests' corpus, synthesised once per session (``testkit.batch_corpus``), and a
clean recording beside one that plays with a warning, run once through ``batch``."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.batch_corpus import Corpus, batch, build_corpus, warned_pair


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def warned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    """A clean WAV, the same audio with two ``fmt `` chunks, and their length (``warned_pair``)."""
    return warned_pair(tmp_path_factory.mktemp("warned"))


@pytest.fixture(scope="session")
def warned_out(warned: tuple[Path, Path, float], tmp_path_factory: pytest.TempPathFactory
               ) -> Path:
    """``warned``'s two calls through ``batch --jobs 2`` (the local engine)."""
    out = tmp_path_factory.mktemp("warned-out") / "out"
    done = batch(warned[0], warned[1], "--out", out, "--asr", "none", "--jobs", 2)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "2 calls: 2 complete, 0 failed"
    return out
