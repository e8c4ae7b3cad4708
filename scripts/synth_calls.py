"""Synthesise test calls with known timing: the command line of ``testkit.synth``.

    .venv/bin/python scripts/synth_calls.py SCENARIO.toml [...] --out DIR
    .venv/bin/python scripts/synth_calls.py --demo
"""

from testkit.synth import main

if __name__ == "__main__":
    raise SystemExit(main())
