"""The batch tests' corpus, synthesised once per session (``testkit.batch_corpus``)."""

from __future__ import annotations

import pytest

from testkit.batch_corpus import Corpus, build_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("corpus"))
