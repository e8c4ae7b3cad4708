"""Code the next engineer can change without fear: no function in ``monitor/`` grows past the
length one can read at a glance, and nothing in the engine reaches for I/O or models."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "monitor"
MAX_FUNCTION_LINES = 50
# The engine is pure: audio time in, records out. These would let it read a clock, a device,
# a model or a database.
ENGINE_MAY_NOT_IMPORT = ("time", "asyncio", "threading", "sounddevice", "vosk", "faster_whisper",
                         "sqlite3", "psycopg", "monitor.asr", "monitor.sources",
                         "monitor.sinks", "monitor.storage", "monitor.devices", "monitor.hints",
                         "monitor.analysis", "monitor.web", "monitor.pipeline")


def _modules(root: Path) -> list[Path]:
    return sorted(root.rglob("*.py"))


def _functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.name, node.end_lineno - node.lineno + 1)  # type: ignore[operator]  # set by ast.parse
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]


@pytest.mark.parametrize("path", _modules(PACKAGE), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_is_longer_than_the_limit(path: Path) -> None:
    long = [f"{name} ({lines} lines)" for name, lines in _functions(path)
            if lines > MAX_FUNCTION_LINES]
    assert not long, f"split these into named steps: {', '.join(long)}"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", _modules(PACKAGE / "engine"),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_engine_imports_nothing_that_does_io(path: Path) -> None:
    bad = sorted(name for name in _imports(path)
                 for banned in ENGINE_MAY_NOT_IMPORT
                 if name == banned or name.startswith(banned + "."))
    assert not bad, f"the engine must stay pure, but imports {', '.join(bad)}"
