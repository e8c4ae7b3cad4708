"""When the greeting is judged, against the caller's first reply, on the scenario calls.

    .venv/bin/python scripts/greeting_delay.py [SCENARIO ...] [--asr whisper|vosk]
        [--partial-every-s 0]

The greeting is judged once the agent's words before the caller's first reply are in: from
the agreed words of the open phrase where they cover it, else from the phrase's utterance at
its gap. Each scenario whose greeting fails (the judgement is visible as its
``greeting.incomplete`` alert) is replayed with the real recogniser; printed per call: the
audio time the alert was written at, the caller's first reply (truth start and end), and
whether the judgement came before that reply ended. Default scenarios: every one that
expects ``greeting.incomplete``.
"""

from __future__ import annotations

import argparse
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monitor.asr import load_recognizer
from monitor.config import load_config
from monitor.frames import Channel, Record
from testkit import synth
from testkit.replay import replay_records
from testkit.scenarios import PROFILES

RULE = "greeting.incomplete"


class ArrivalSink:
    """Notes the audio time at which each record was written (the pipeline's clock)."""

    def __init__(self) -> None:
        self.t = 0.0
        self.arrivals: list[tuple[float, dict[str, Any]]] = []

    def write(self, record: dict[str, Any]) -> None:
        self.arrivals.append((self.t, record))

    def close(self, status: str) -> None:
        pass

    def step(self, t: float, speaking: Mapping[Channel, bool]) -> list[Record]:
        self.t = t
        return []


def greeting_scenarios() -> list[Path]:
    out = []
    for path in sorted(synth.SCENARIOS_DIR.rglob("*.toml")):
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        if any(e.get("rule") == RULE for e in raw.get("expect", [])):
            out.append(path)
    return out


def first_reply(truth: dict[str, Any]) -> dict[str, Any] | None:
    agent = next((u for u in truth["utterances"] if u["channel"] == "agent"), None)
    if agent is None:
        return None
    return next((u for u in truth["utterances"] if u["channel"] == "customer"
                 and u["start"] > agent["start"]), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", type=Path)
    parser.add_argument("--asr", default="whisper", choices=("whisper", "vosk"))
    parser.add_argument("--partial-every-s", type=float, default=None,
                        help="override [asr] partial_every_s (0: words only at the phrase gap)")
    args = parser.parse_args()
    before = total = 0
    with tempfile.TemporaryDirectory(prefix="greeting-delay-") as tmp:
        for path in args.scenarios or greeting_scenarios():
            call = synth.synthesize_file(path, Path(tmp))
            profile, names = PROFILES[call.truth["language"]]
            # Decoded as live decodes: the words of the phrase so far, then the final.
            overrides: dict[str, Any] = {**names, "asr": {"partials_in_replay": True}}
            if args.partial_every_s is not None:
                overrides["asr"]["partial_every_s"] = args.partial_every_s
            cfg = load_config(profile, overrides)
            recognizer = load_recognizer(cfg.asr, cfg.language, args.asr)
            sink = ArrivalSink()
            replay_records(call.wav, cfg, recognizer, sinks=[sink])
            judged = next((t for t, r in sink.arrivals
                           if r["type"] == "alert" and r["rule"] == RULE), None)
            reply = first_reply(call.truth)
            if judged is None or reply is None:
                print(f"{path.stem:<28} no {RULE} alert or no reply: not measured")
                continue
            total += 1
            before += judged <= reply["end"]
            print(f"{path.stem:<28} judged at {judged:6.2f} s; caller's reply "
                  f"{reply['start']:6.2f}-{reply['end']:6.2f} s: "
                  f"{'before' if judged <= reply['end'] else 'AFTER'} it ended "
                  f"({judged - reply['start']:+.2f} s from its start)")
    print(f"judged before the caller's first reply ended: {before}/{total}")


if __name__ == "__main__":
    main()
