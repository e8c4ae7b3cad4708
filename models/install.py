"""Install the speech models a profile needs; `make models` runs this.

    python models/install.py [--profile zh-CN|en-US|all] [--dest DIR] [NAME ...]

For each model it says where it was found along the search order (see README.md here).
A missing model that has a verified download is fetched into this folder; one that cannot
be had (no network, no published digest) is reported with the backend used instead. Exit
status 0 when every requested profile keeps at least one backend, 2 otherwise. Instant when
everything is already installed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.asr import backend_installed
from monitor.asr.models import MODELS, download_model, locate
from monitor.config import PROFILES, load_config
from monitor.errors import CallmonitorError

PIP_INSTALL = {"vosk": "pip install vosk", "whisper": "pip install faster-whisper"}


def _obtain(name: str, dest: Path) -> tuple[bool, str]:
    """Find or download one model: (available, the line that reports it)."""
    found = locate(name)
    if found is not None:
        return True, f"found in {found[0]} ({found[1]})"
    spec = MODELS.get(name)
    if spec is None:
        return False, "not available (not a known model, and not in any model folder)"
    if not spec.artifacts:
        return False, f"not available (it comes from {spec.source}, which is not installed)"
    try:
        path = download_model(spec, dest, lambda line: print(f"{name}: {line}", flush=True))
        return True, f"installed in {path}"
    except CallmonitorError as exc:
        return False, f"not available ({exc.problem})"


def _profile_models(profile: str) -> list[tuple[str, str]]:
    """(backend, model) pairs of a profile, best backend first."""
    asr = load_config(profile).asr
    return [("vosk", asr.vosk_model), ("whisper", asr.whisper_model)]


def _report(name: str, line: str, uses: list[tuple[str, str]],
            profiles: dict[str, list[tuple[str, str]]], usable: dict[str, bool]) -> str:
    """The one line for a model: its status, then what each profile using it will do."""
    notes = []
    for profile, backend in uses:
        if not backend_installed(backend):
            notes.append(f"the {backend} package is missing: {PIP_INSTALL[backend]}")
        if not usable[name]:
            others = [f"{b} ({n})" for b, n in profiles[profile] if n != name and usable[n]]
            notes.append(f"{profile} will use {others[0]} instead" if others
                         else f"{profile} has no other backend")
    return "; ".join([f"{name}: {line}", *dict.fromkeys(notes)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=[*PROFILES, "all"], default="all")
    parser.add_argument("--dest", type=Path, default=Path(__file__).resolve().parent,
                        help="where downloads are installed (default: this folder)")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="install these models instead of a profile's")
    args = parser.parse_args(argv)
    chosen = () if args.names else PROFILES if args.profile == "all" else (args.profile,)
    try:
        profiles = {p: _profile_models(p) for p in chosen}
    except CallmonitorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    uses: dict[str, list[tuple[str, str]]] = {name: [] for name in args.names}
    for profile, pairs in profiles.items():
        for backend, name in pairs:
            uses.setdefault(name, []).append((profile, backend))
    status = {name: _obtain(name, args.dest) for name in uses}
    usable = {name: ok and all(backend_installed(b) for _, b in uses[name])
              for name, (ok, _) in status.items()}
    for name, (_, line) in status.items():
        print(_report(name, line, uses[name], profiles, usable))
    missing = [name for name in args.names if not status[name][0]]
    stranded = [p for p, pairs in profiles.items() if not any(usable[n] for _, n in pairs)]
    if missing or stranded:
        what = (f"not installed: {', '.join(missing)}" if missing else
                f"no speech recogniser for profile {', '.join(stranded)}")
        print(f"error: {what}; connect to the network and run this again, or copy the "
              f"model into {args.dest}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
