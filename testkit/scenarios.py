"""Running the scenario set through the real pipeline: each scenario is synthesised into a
cache directory (again only when an input is newer) and run with the profile of its language
and the names its clips say (诚美 / 小王, Acme / Anna). ``run`` replays them in this process,
giving the ``Call`` that ``monitor.batch.scoring`` scores (the scenario tests, with the
session's model); ``write_corpus`` hands them over as a researcher's corpus, a manifest for
``callmonitor batch`` and their truth as labels for ``callmonitor evaluate``
(``scripts/evaluate.py``)."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from monitor.asr import load_recognizer
from monitor.batch.scoring import Call
from monitor.config import load_config
from testkit import synth
from testkit.replay import of_type, replay_records

# Profile and the names the greeting must contain, per scenario language: the names the clips
# and the espeak-ng lines actually say.
PROFILES: dict[str, tuple[str, dict[str, str]]] = {
    "zh": ("zh-CN", {"company": "诚美", "agent_name": "小王"}),
    "en": ("en-US", {"company": "Acme", "agent_name": "Anna"}),
}


def scenario_files(paths: Sequence[Path]) -> list[Path]:
    """The scenarios asked for, or by default the rule set and the older scenarios."""
    if paths:
        return list(paths)
    rules_dir = synth.SCENARIOS_DIR / "rules"
    return sorted(rules_dir.glob("*.toml")) + sorted(synth.SCENARIOS_DIR.glob("*.toml"))


def synthesize_cached(path: Path, cache_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The scenario's WAV and truth, synthesised again only when an input is newer."""
    scenario = synth.load_scenario(path)
    wav = cache_dir / f"{scenario['name']}.wav"
    truth = cache_dir / f"{scenario['name']}.truth.json"
    inputs = (path, Path(synth.__file__), synth.ZH_CLIPS_DIR / "manifest.json")
    if not truth.exists() or truth.stat().st_mtime < max(p.stat().st_mtime for p in inputs):
        synth.synthesize(scenario, cache_dir)
    return wav, json.loads(truth.read_text(encoding="utf-8"))


def replay_scenario(wav: Path, language: str,
                    asr: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the pipeline on one call as ``callmonitor replay`` does: (alerts, summary)."""
    profile, names = PROFILES[language]
    overrides: dict[str, Any] = dict(names)
    if asr != "none":
        overrides["asr"] = {"backend": asr}
    cfg = load_config(profile, overrides)
    recognizer = None if asr == "none" else load_recognizer(cfg.asr, cfg.language, asr)
    records = replay_records(wav, cfg, recognizer)
    return of_type(records, "alert"), records[-1]


def run(paths: Sequence[Path], asr: str, cache_dir: Path) -> list[Call]:
    """Synthesise (or reuse) and replay every scenario."""
    calls = []
    for path in scenario_files(paths):
        wav, truth = synthesize_cached(path, cache_dir)
        started = time.perf_counter()
        alerts, summary = replay_scenario(wav, truth["language"], asr)
        calls.append(Call(truth["name"], truth, alerts, summary,
                          time.perf_counter() - started))
    return calls


def truth_labels(truth: dict[str, Any], wav: Path) -> dict[str, Any]:
    """A synthesised call's truth as one line of a labels file (docs/evaluate.md): its
    expected alerts, near misses, summary values, and what each channel says, in time order."""
    said: dict[str, list[str]] = {}
    for utterance in sorted(truth["utterances"], key=lambda u: u["start"]):
        said.setdefault(utterance["channel"], []).append(utterance["text"])
    return {"path": str(wav), "name": truth["name"], "alerts": truth.get("expect", []),
            "must_not_fire": truth.get("expect_none", []),
            "summary": truth.get("expect_summary", {}),
            "transcripts": {channel: " ".join(texts) for channel, texts in said.items()}}


def write_labels(labels: Iterable[dict[str, Any]], path: Path) -> Path:
    """The labels as JSON lines, the file ``callmonitor evaluate`` reads."""
    path.write_text("".join(json.dumps(label, ensure_ascii=False) + "\n" for label in labels),
                    encoding="utf-8")
    return path


MANIFEST_COLUMNS = ("path", "profile", "company", "agent_name")


def write_corpus(paths: Sequence[Path], cache_dir: Path, folder: Path) -> tuple[Path, Path]:
    """The scenarios (synthesised, or reused from ``cache_dir``) as a corpus a researcher
    would hand over, in ``folder``: ``manifest.csv`` for ``callmonitor batch`` (each call with
    the profile and names of its language, as ``replay_scenario`` runs it) and
    ``labels.jsonl``, their truth, for ``callmonitor evaluate``. Paths are absolute."""
    rows, labels = [], []
    for path in scenario_files(paths):
        wav, truth = synthesize_cached(path, cache_dir)
        profile, names = PROFILES[truth["language"]]
        rows.append({"path": str(wav.resolve()), "profile": profile, **names})
        labels.append(truth_labels(truth, wav.resolve()))
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return manifest, write_labels(labels, folder / "labels.jsonl")
