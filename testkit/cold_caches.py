"""Process-wide memo caches emptied under mutation testing, so they never hide a mutant.

mutmut (``make mutants``, docs/mutants.md) runs the clean tests and maps which tests reach
which code in one process, then forks each mutant's run from it: every ``functools`` cache is
already filled there with what the unmutated code gave. A cache of the code under test (the
engine's compiled phrase chains) or of a test module (the audio tests' detector results per
clip) then hands a mutant's tests the clean values, and the mutant survives unseen; and while
mutmut maps the tests, a test that finds a value cached by an earlier test is not mapped to
the code that made it. The conftests of tests/engine and tests/audio call these, each for its
own modules; outside mutmut nothing is emptied.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def mutant_run() -> bool:
    """Whether this process runs a mutant's tests (mutmut names the mutant in the variable)."""
    return "__mutmut_" in os.environ.get("MUTANT_UNDER_TEST", "")


def mapping_tests() -> bool:
    """Whether mutmut is mapping which tests reach which functions ("stats")."""
    return os.environ.get("MUTANT_UNDER_TEST") == "stats"


def empty_caches(packages: tuple[str, ...], folder: Path | None = None) -> None:
    """Empty every ``functools`` cache of the modules of ``packages`` (dotted prefixes) and of
    the modules loaded from under ``folder`` (a tests folder: pytest imports its modules by
    their base names, so they are found by file)."""
    for name, module in list(sys.modules.items()):
        if not (name.startswith(packages) or _inside(module, folder)):
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def _inside(module: object, folder: Path | None) -> bool:
    """Whether the module was loaded from under ``folder``. Compared as written, not resolved:
    pytest gives the conftest and the test modules beside it paths from the same root, and this
    runs before every test while mutmut maps them, over every loaded module."""
    file = getattr(module, "__file__", None)
    return folder is not None and file is not None and file.startswith(f"{folder}{os.sep}")
