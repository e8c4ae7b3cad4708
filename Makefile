# The two commands of the README: `make demo` and `make test`. Both set up what they need first.
.PHONY: setup models demo test test-fast lint bench mutants

setup:
	@bash scripts/setup.sh

# Look for the speech models along the search order and install what can be fetched.
models: setup
	.venv/bin/python models/install.py --profile all

demo: setup
	mkdir -p var
	.venv/bin/callmonitor replay demo/demo_call.wav --db var/demo.sqlite3

# Style and types: ruff on everything, mypy on the package (settings in pyproject.toml).
lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy

test: lint
	.venv/bin/pytest -q -rs

# Everything but the slow end-to-end checks (real models on whole calls).
test-fast: lint
	.venv/bin/pytest -q -m "not slow"

bench: setup
	.venv/bin/python scripts/bench_replay.py

# Mutation testing of the engine and the audio analysis (docs/mutants.md): not part of
# `make test`, it takes long. mutmut mutates monitor/engine and monitor/analysis (settings in
# pyproject's [tool.mutmut]) and runs for each mutant the fast engine and audio tests that reach
# it; results are kept in mutants/, so a second run only checks what is new or changed. Then
# the score of each package and the survivors.
mutants: setup
	nice -n 10 .venv/bin/mutmut run
	.venv/bin/python scripts/mutation_score.py
