"""Check that a code change leaves the timing-only replay's output unchanged, record for record.

Speed work on the pipeline (monitor/analysis, monitor/engine, monitor/frames.py ...) must not
change a single record. This replays the same calls with the code of a base revision and with
the working tree, each through ``callmonitor replay CALL --asr none --json`` (the real command,
in a child process per code tree), and compares the JSON lines byte for byte, and the events
the engine was fed (every VAD onset, syllable nucleus, filler, ring ..., written with ``repr``:
floats to the last bit), since a timing-only replay's records leave some of them out (the
nuclei only count for the speaking rate, which needs words). The records come from the replay
as the command makes it; the events from a second replay with every analysis made, also
those no rule reads (``Engine.hears``: a timing-only replay counts no nuclei), so that the
analyses are checked all the same.

The calls: the 10-minute benchmark call of ``scripts/bench_replay.py`` and every scenario
(``scenarios/rules/*.toml``, ``scenarios/*.toml``), each as synthesised (16 kHz PCM) and as a
PBX records it (8 kHz mu-law, which goes through the resampler), replayed with the profile of
its language and the names its clips say. The base's output is kept under
``var/replay_check/<commit>/``, so a second check against the same base replays only the
working tree.

    .venv/bin/python scripts/check_replay_identical.py [--base REV] [--minutes 10]

Exits 1 and names the first differing line of each call whose output differs; 0 when every
call's output is identical.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_DIR / "var" / "replay_check"


def calls(minutes: float) -> list[tuple[str, list[str]]]:
    """(name, replay arguments) of every call, synthesised here where missing."""
    from bench_replay import long_call

    from testkit.scenarios import PROFILES, scenario_files, synthesize_cached

    cache = REPO_DIR / "var" / "eval"
    cache.mkdir(parents=True, exist_ok=True)
    out: list[tuple[str, list[str]]] = []
    for path in scenario_files([]):
        wav, truth = synthesize_cached(path, cache)
        profile, names = PROFILES[truth["language"]]
        options = ["--profile", profile, "--company", names["company"],
                   "--agent-name", names["agent_name"]]
        ulaw = wav.with_name(f"{wav.stem}_8k_ulaw.wav")
        out += [(wav.stem, [str(wav), *options]), (ulaw.stem, [str(ulaw), *options])]
    bench_dir = REPO_DIR / "var" / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    bench = long_call(minutes, bench_dir)
    return [(bench.stem, [str(bench)]), *out]


def emit(out_dir: Path, jobs: list[tuple[str, list[str]]]) -> None:
    """In the child: replay every call with the ``monitor`` on PYTHONPATH, one file of
    records and one of the engine's input events each."""
    from monitor.cli import main
    from monitor.engine.core import Engine

    fed: list[str] = []
    on_event, hears = Engine.on_event, getattr(Engine, "hears", None)

    def logged(self: Engine, ev: Any) -> Any:
        fed.append(repr(ev))
        return on_event(self, ev)

    def replay(args: list[str], out: Path) -> None:
        with tempfile.TemporaryDirectory() as tmp, out.open("w", encoding="utf-8") as fh, \
                contextlib.redirect_stdout(fh):
            argv = ["replay", *args, "--asr", "none", "--json", "--db", f"{tmp}/s.sqlite3"]
            main.main(argv, prog_name="callmonitor", standalone_mode=False)

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, args in jobs:
        replay(args, out_dir / f"{name}.jsonl")
        fed.clear()
        Engine.on_event = logged  # type: ignore[method-assign]
        if hears is not None:  # a revision from before ``hears`` made every analysis anyway
            Engine.hears = lambda self, kind: True  # type: ignore[method-assign]
        try:
            replay(args, out_dir / f"{name}.all.jsonl")
        finally:
            Engine.on_event = on_event  # type: ignore[method-assign]
            if hears is not None:
                Engine.hears = hears  # type: ignore[method-assign]
        (out_dir / f"{name}.all.jsonl").unlink()
        (out_dir / f"{name}.events").write_text("".join(f"{e}\n" for e in fed), encoding="utf-8")


def replay_all(code_dir: Path, out_dir: Path, jobs: list[tuple[str, list[str]]]) -> None:
    """Replay ``jobs`` with the code in ``code_dir`` (a child process: one ``monitor`` each)."""
    env = {**os.environ, "PYTHONPATH": str(code_dir)}
    subprocess.run([sys.executable, __file__, "--emit", str(out_dir), json.dumps(jobs)],
                   env=env, check=True, cwd=REPO_DIR)


def base_output(rev: str, jobs: list[tuple[str, list[str]]]) -> Path:
    """The base revision's output, replayed once per commit and kept."""
    commit = subprocess.run(["git", "rev-parse", rev], cwd=REPO_DIR, check=True,
                            capture_output=True, text=True).stdout.strip()
    out_dir = OUT_DIR / commit
    missing = [(n, a) for n, a in jobs if not (out_dir / f"{n}.events").exists()]
    if missing:
        with tempfile.TemporaryDirectory() as tmp:
            archive = subprocess.run(["git", "archive", commit, "monitor", "config"],
                                     cwd=REPO_DIR, check=True, capture_output=True).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(tmp, filter="data")
            replay_all(Path(tmp), out_dir, missing)
    return out_dir


def first_difference(base: list[str], new: list[str]) -> str:
    """Where two outputs part: the line number and both lines (cut short)."""
    for i, (a, b) in enumerate(zip(base, new, strict=False), start=1):
        if a != b:
            return f"line {i}:\n    base: {a[:300]}\n    now:  {b[:300]}"
    return f"line counts differ: base {len(base)}, now {len(new)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="revision to compare with (main)")
    parser.add_argument("--minutes", type=float, default=10.0, help="benchmark call length")
    parser.add_argument("--emit", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("jobs", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.emit:
        emit(args.emit, [(n, a) for n, a in json.loads(args.jobs)])
        return 0
    jobs = calls(args.minutes)
    base_dir = base_output(args.base, jobs)
    with tempfile.TemporaryDirectory() as tmp:
        replay_all(REPO_DIR, Path(tmp), jobs)
        differ = set()
        for name, _ in jobs:
            for kind in ("jsonl", "events"):
                base = (base_dir / f"{name}.{kind}").read_text(encoding="utf-8").splitlines()
                new = (Path(tmp) / f"{name}.{kind}").read_text(encoding="utf-8").splitlines()
                if base != new:
                    differ.add(name)
                    print(f"DIFFERS {name}.{kind}: {first_difference(base, new)}")
    records, events = (sum(1 for _ in (base_dir / f"{jobs[0][0]}.{kind}").open())
                       for kind in ("jsonl", "events"))
    print(f"{len(jobs) - len(differ)} of {len(jobs)} calls identical to {args.base} "
          f"({base_dir.name[:12]}), records and engine input; the benchmark call has "
          f"{records} records from {events} events")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
